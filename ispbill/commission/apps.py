from django.apps import AppConfig


class CommissionConfig(AppConfig):
    """Percentage partners' commission: accruals told by invoicing and payments (signals),
    monthly statements, their approval and payout. Its rows are partners' models; this app
    holds no model of its own."""

    name = "ispbill.commission"
    label = "commission"

    def ready(self) -> None:
        from ispbill.commission import checks  # noqa: F401  (registers its invariants)
        from ispbill.commission.receivers import commission_receivers_connect

        commission_receivers_connect()
