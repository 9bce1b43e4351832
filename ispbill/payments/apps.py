from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "ispbill.payments"
    label = "payments"

    def ready(self) -> None:
        from ispbill.payments import checks  # noqa: F401  (registers its invariants)
