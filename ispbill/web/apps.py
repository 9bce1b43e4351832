from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "ispbill.web"
    label = "web"
