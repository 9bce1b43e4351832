from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "ispbill.payments"
    label = "payments"
