from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "ispbill.customers"
    label = "customers"
