from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "ispbill.core"
    label = "core"

    def ready(self) -> None:
        # Registers the ``any_in`` lookup (one array parameter on PostgreSQL) on every field.
        from ispbill.core import (
            bulk,  # noqa: F401
            checks,  # noqa: F401  (registers its invariants)
        )
