"""Database guards for rows the high-volume tables refer to (PostgreSQL and SQLite).

Charges, invoices and their lines and tax groups, postings and commission accruals refer to
partners, tariffs, billing runs, customers, services, one-time charges, invoices and journal
entries without a foreign-key constraint: PostgreSQL checks those row by row, a third of a
billing run, and locked every new invoice and entry once more for its own lines and postings
(docs/performance.md). What a foreign key gave on the referenced side, these triggers give, on
both databases:

- ``delete_refused``: issued invoices are immutable and journal entries append-only
  (DOMAIN.md); any ``DELETE`` of one is refused, whoever sends it (the models refuse
  ``delete()`` too);
- ``delete_refused_while_referenced``: a partner, tariff, billing run, customer, service or
  one-time charge cannot be deleted while a row refers to it (as ``on_delete=PROTECT`` does in
  Django).

Emptying the whole database (Django's ``flush``, which tests between transactional tests run)
is not a deletion of referenced rows: afterwards nothing refers to anything. On PostgreSQL
flush is ``TRUNCATE``, which fires no ``DELETE`` trigger. On SQLite flush is one ``DELETE
FROM`` per table in no fixed order, so the triggers stand aside while, and only while, the
one-row table ``ispbill_flush_running`` holds a row: ispbill's SQLite backend
(``ispbill/core/backends/sqlite3``) writes that row first in the flush's transaction and
removes it last (docs/development.md, "Reference guards"). Rows that point nowhere are found by
``ispbill check`` (``data.references``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

FUNCTION = "ispbill_delete_refused"
# SQLite only: a row here while Django's flush empties every table (see the module doc).
FLUSH_TABLE = "ispbill_flush_running"

POSTGRESQL = ("postgresql",)

_CREATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are never deleted: %', TG_TABLE_NAME, TG_ARGV[0]
        USING ERRCODE = 'restrict_violation';
END
$$
"""


def _run_on(vendors: Sequence[str], forward_sql: Any, backward_sql: Any) -> Any:
    """A migration operation running ``forward_sql(vendor)`` (and backwards
    ``backward_sql(vendor)``), lists of statements, on the databases in ``vendors`` only."""
    from django.db import migrations

    def forward(apps: Any, schema_editor: Any) -> None:
        vendor = schema_editor.connection.vendor
        if vendor in vendors:
            for sql in forward_sql(vendor):
                schema_editor.execute(sql, params=None)

    def backward(apps: Any, schema_editor: Any) -> None:
        vendor = schema_editor.connection.vendor
        if vendor in vendors:
            for sql in backward_sql(vendor):
                schema_editor.execute(sql, params=None)

    return migrations.RunPython(forward, backward, elidable=False)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sqlite_trigger(table: str, trigger: str, when: str, message: str) -> str:
    # RAISE(ABORT) undoes the statement and answers SQLITE_CONSTRAINT: an IntegrityError.
    # Names from migrations, the message quoted.
    guard = f"WHEN NOT EXISTS (SELECT 1 FROM {FLUSH_TABLE}) AND ({when})"  # noqa: S608
    return (
        f"CREATE TRIGGER {trigger} BEFORE DELETE ON {table} FOR EACH ROW {guard} "
        f"BEGIN SELECT RAISE(ABORT, {_sql_text(message)}); END"
    )


def flush_table_create() -> Any:
    """A migration operation: on SQLite, the table whose row lets Django's flush empty the
    guarded tables (see the module doc); nothing elsewhere."""
    return _run_on(
        ("sqlite",),
        lambda vendor: [
            f"CREATE TABLE {FLUSH_TABLE} (id integer NOT NULL PRIMARY KEY CHECK (id = 1))"
        ],
        lambda vendor: [f"DROP TABLE IF EXISTS {FLUSH_TABLE}"],
    )


def delete_refused(table: str, reason: str, vendors: Sequence[str] = POSTGRESQL) -> Any:
    """A migration operation: on the databases in ``vendors``, ``DELETE`` on ``table`` raises
    (PostgreSQL: 23001, restrict_violation; SQLite: a constraint error) with ``reason``;
    nothing elsewhere."""
    trigger = f"{table}_delete_refused"

    def forward(vendor: str) -> list[str]:
        if vendor == "sqlite":
            return [
                _sqlite_trigger(table, trigger, "1", f"{table} rows are never deleted: {reason}")
            ]
        return [
            _CREATE_FUNCTION,
            f"CREATE TRIGGER {trigger} BEFORE DELETE ON {table} FOR EACH ROW "
            f"EXECUTE FUNCTION {FUNCTION}({_sql_text(reason)})",
        ]

    def backward(vendor: str) -> list[str]:
        if vendor == "sqlite":
            return [f"DROP TRIGGER IF EXISTS {trigger}"]
        # The function is shared by every such table and stays.
        return [f"DROP TRIGGER IF EXISTS {trigger} ON {table}"]

    return _run_on(vendors, forward, backward)


def delete_refused_while_referenced(
    table: str, references: list[tuple[str, str]], vendors: Sequence[str] = POSTGRESQL
) -> Any:
    """A migration operation: on the databases in ``vendors``, ``DELETE`` of a row of
    ``table`` raises (PostgreSQL: 23503, foreign_key_violation; SQLite: a constraint error)
    while any (table, column) of ``references`` holds its id; nothing elsewhere."""
    function = f"{table}_delete_guard"
    held = " OR ".join(
        f"EXISTS (SELECT 1 FROM {ref_table} WHERE {column} = OLD.id)"  # noqa: S608 - names from migrations
        for ref_table, column in references
    )
    names = ", ".join(f"{ref_table}.{column}" for ref_table, column in references)

    def forward(vendor: str) -> list[str]:
        if vendor == "sqlite":
            message = f"{table} row is still referenced (one of: {names})"
            return [_sqlite_trigger(table, function, held, message)]
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
        return [
            create,
            f"CREATE TRIGGER {function} BEFORE DELETE ON {table} FOR EACH ROW "
            f"EXECUTE FUNCTION {function}()",
        ]

    def backward(vendor: str) -> list[str]:
        if vendor == "sqlite":
            return [f"DROP TRIGGER IF EXISTS {function}"]
        return [
            f"DROP TRIGGER IF EXISTS {function} ON {table}",
            f"DROP FUNCTION IF EXISTS {function}()",
        ]

    return _run_on(vendors, forward, backward)
