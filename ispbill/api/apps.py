from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "ispbill.api"
    label = "api"
