"""Where FreeRADIUS's tables live: ispbill's own database (default), or the database named by
``RADIUS_DATABASE_URL`` (alias ``radius``). ispbill's own RADIUS records (credentials, NAS,
policy) always stay in the default database."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

RADIUS_ALIAS = "radius"


def radius_alias() -> str:
    """The database alias holding FreeRADIUS's tables."""
    return RADIUS_ALIAS if RADIUS_ALIAS in settings.DATABASES else "default"


def radius_separate() -> bool:
    """Whether FreeRADIUS's tables are in another database than ispbill's."""
    return radius_alias() != "default"


def _is_freeradius(model: type[models.Model]) -> bool:
    return bool(getattr(model, "freeradius_table", False))


class RadiusRouter:
    """Sends FreeRADIUS's tables to ``radius_alias()``; says nothing about other models."""

    def db_for_read(self, model: type[models.Model], **hints: Any) -> str | None:
        return radius_alias() if _is_freeradius(model) else None

    def db_for_write(self, model: type[models.Model], **hints: Any) -> str | None:
        return radius_alias() if _is_freeradius(model) else None

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        if hints.get("freeradius"):
            return db == radius_alias()
        if db == RADIUS_ALIAS:
            # The separate RADIUS database holds FreeRADIUS's tables and nothing of ispbill's.
            return False
        return None
