from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "ispbill.partners"
    label = "partners"
