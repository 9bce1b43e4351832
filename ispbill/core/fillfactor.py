"""Table storage settings for the rows every billing run updates (PostgreSQL only)."""

from __future__ import annotations

from typing import Any

# Every billing run updates each customer's ``billed_through`` and each service's
# ``charged_through``. With half of each page left free, the new row versions fit on the same
# page and PostgreSQL updates them in place of the old (HOT), without touching any index:
# the two updates of a chunk take half the time, and the indexes do not grow every month.
BILLING_UPDATED_FILLFACTOR = 50


def fillfactor_set(table: str, percent: int) -> Any:
    """A migration operation setting ``table``'s fillfactor on PostgreSQL (nothing elsewhere)."""
    from django.db import migrations

    def forward(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {int(percent)})")

    def backward(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE {table} RESET (fillfactor)")

    return migrations.RunPython(forward, backward, elidable=False)
