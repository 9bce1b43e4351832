from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "ispbill.core"
    label = "core"
