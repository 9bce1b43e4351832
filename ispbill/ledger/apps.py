from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ispbill.ledger"
    label = "ledger"
