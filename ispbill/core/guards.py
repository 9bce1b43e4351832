"""Database guards for rows that are never deleted (PostgreSQL).

Issued invoices are immutable and journal entries append-only (DOMAIN.md); the models refuse
``delete()``. On PostgreSQL a trigger also refuses any ``DELETE`` of such a row, whoever
sends it. That is what lets the high-volume tables pointing at them (charges, invoice lines
and tax groups, commission accruals, postings) go without a foreign-key constraint, which
PostgreSQL checks row by row and which locked every new invoice and entry once more for its
own lines and postings (docs/performance.md). ``TRUNCATE`` (Django's test flush) is not a
``DELETE`` and is not refused. On SQLite there is no trigger: Django's flush there deletes
row by row, and the models' own refusal stands."""

from __future__ import annotations

from typing import Any

FUNCTION = "ispbill_delete_refused"

_CREATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are never deleted: %', TG_TABLE_NAME, TG_ARGV[0]
        USING ERRCODE = 'restrict_violation';
END
$$
"""


def delete_refused(table: str, reason: str) -> Any:
    """A migration operation: on PostgreSQL, ``DELETE`` on ``table`` raises (23001,
    restrict_violation) with ``reason``; nothing elsewhere."""
    from django.db import migrations

    trigger = f"{table}_delete_refused"

    def forward(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(_CREATE_FUNCTION, params=None)
        schema_editor.execute(
            f"CREATE TRIGGER {trigger} BEFORE DELETE ON {table} FOR EACH ROW "
            f"EXECUTE FUNCTION {FUNCTION}(%s)",
            [reason],
        )

    def backward(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")

    return migrations.RunPython(forward, backward, elidable=False)
