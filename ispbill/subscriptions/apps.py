from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    name = "ispbill.subscriptions"
    label = "subscriptions"
