"""Database guards for rows the high-volume tables refer to (PostgreSQL).

Charges, invoices and their lines and tax groups, postings and commission accruals refer to
customers, services, one-time charges, invoices and journal entries without a foreign-key
constraint: PostgreSQL checks those row by row, a third of a billing run, and locked every new
invoice and entry once more for its own lines and postings (docs/performance.md). What a
foreign key gave on the referenced side, these triggers give:

- ``delete_refused``: issued invoices are immutable and journal entries append-only
  (docs/domain.md); any ``DELETE`` of one is refused, whoever sends it (the models refuse
  ``delete()`` too);
- ``delete_refused_while_referenced``: a customer, service or one-time charge cannot be
  deleted while a row refers to it (as ``on_delete=PROTECT`` does in Django).

``TRUNCATE`` (Django's test flush) is not a ``DELETE`` and is not refused. On SQLite there are
no triggers: Django's flush there deletes row by row, and Django's PROTECT stands. Rows that
point nowhere are found by ``ispbill check`` (``data.references``)."""

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


def _before_delete(
    table: str, trigger: str, create_function: str, call: str, own_function: bool
) -> Any:
    """A migration operation: on PostgreSQL, create ``create_function`` and a row trigger
    ``trigger`` before DELETE on ``table`` running ``call``; backwards, drop the trigger (and
    the function when it is the trigger's own). Nothing elsewhere."""
    from django.db import migrations

    def forward(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(create_function, params=None)
        schema_editor.execute(
            f"CREATE TRIGGER {trigger} BEFORE DELETE ON {table} FOR EACH ROW "
            f"EXECUTE FUNCTION {call}",
            params=None,
        )

    def backward(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}", params=None)
        if own_function:
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {trigger}()", params=None)

    return migrations.RunPython(forward, backward, elidable=False)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def delete_refused(table: str, reason: str) -> Any:
    """A migration operation: on PostgreSQL, ``DELETE`` on ``table`` raises (23001,
    restrict_violation) with ``reason``; nothing elsewhere."""
    return _before_delete(
        table,
        f"{table}_delete_refused",
        _CREATE_FUNCTION,
        f"{FUNCTION}({_sql_text(reason)})",
        own_function=False,  # shared by every such table
    )


def delete_refused_while_referenced(table: str, references: list[tuple[str, str]]) -> Any:
    """A migration operation: on PostgreSQL, ``DELETE`` of a row of ``table`` raises (23503,
    foreign_key_violation) while any (table, column) of ``references`` holds its id; nothing
    elsewhere."""
    function = f"{table}_delete_guard"
    held = " OR ".join(
        f"EXISTS (SELECT 1 FROM {ref_table} WHERE {column} = OLD.id)"  # noqa: S608 - names from migrations
        for ref_table, column in references
    )
    names = ", ".join(f"{ref_table}.{column}" for ref_table, column in references)
    create = f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF {held} THEN
        RAISE EXCEPTION '% row % is still referenced (one of: {names})', TG_TABLE_NAME, OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN OLD;
END
$$
"""
    return _before_delete(table, function, create, f"{function}()", own_function=True)
