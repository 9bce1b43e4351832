from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ispbill.ledger"
    label = "ledger"

    def ready(self) -> None:
        from ispbill.ledger import checks  # noqa: F401  (registers its invariants)
