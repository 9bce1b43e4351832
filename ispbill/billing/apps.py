from typing import Any

from django.apps import AppConfig
from django.core import checks as django_checks


class BillingConfig(AppConfig):
    name = "ispbill.billing"
    label = "billing"

    def ready(self) -> None:
        from ispbill.billing import checks  # noqa: F401  (registers its invariants)
        from ispbill.billing.receivers import billing_receivers_connect

        billing_receivers_connect()

        django_checks.register(billing_threads_check)


def billing_threads_check(
    app_configs: Any = None, **kwargs: Any
) -> list[django_checks.CheckMessage]:
    """``BILLING_THREADS`` > 1 on SQLite is ignored (ispbill/billing/run.py, billing_threads):
    say so wherever Django's checks run (``manage.py check``, runserver). The vendor
    is the backend's, no connection is opened."""
    from django.conf import settings
    from django.db import connections

    if settings.BILLING_THREADS <= 1 or connections["default"].vendor == "postgresql":
        return []
    return [
        django_checks.Warning(
            f"BILLING_THREADS={settings.BILLING_THREADS} is ignored on SQLite: billing chunks "
            "run one after the other.",
            hint="SQLite has one writer at a time; use PostgreSQL (DATABASE_URL) for parallel "
            "chunks, or set BILLING_THREADS=1 (docs/operations.md).",
            id="ispbill.W001",
        )
    ]
