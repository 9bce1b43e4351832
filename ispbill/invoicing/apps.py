from django.apps import AppConfig


class InvoicingConfig(AppConfig):
    name = "ispbill.invoicing"
    label = "invoicing"
