from django.apps import AppConfig


class InvoicingConfig(AppConfig):
    name = "ispbill.invoicing"
    label = "invoicing"

    def ready(self) -> None:
        from ispbill.invoicing import checks  # noqa: F401  (registers its invariants)
