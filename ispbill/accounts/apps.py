from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "ispbill.accounts"
    label = "accounts"
