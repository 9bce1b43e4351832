from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "ispbill.billing"
    label = "billing"

    def ready(self) -> None:
        from ispbill.billing import checks  # noqa: F401  (registers its invariants)
