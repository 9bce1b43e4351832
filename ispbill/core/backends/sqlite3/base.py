"""Django's SQLite backend, with a flush that the reference guards let through.

The triggers of ``ispbill/core/guards.py`` refuse to delete an invoice or a journal entry,
and a partner, tariff, billing run, customer, service or one-time charge while a row refers
to it. Django's flush (``manage.py flush``, and the tests between transactional tests) empties
every table with one ``DELETE FROM`` per table, in no fixed order; PostgreSQL's flush is a
``TRUNCATE``, which fires no delete trigger. Here the flush's statements are framed by a row
in ``ispbill_flush_running`` (written first, removed last, in the flush's one transaction),
which the triggers read and stand aside for. Nothing else writes that table: every other
delete meets the guards (docs/development.md, "Reference guards")."""

from __future__ import annotations

from typing import Any

from django.db.backends.sqlite3 import base, operations

from ispbill.core.guards import FLUSH_TABLE


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(
        self, style: Any, tables: Any, *, reset_sequences: bool = False, allow_cascade: bool = False
    ) -> list[str]:
        sql = super().sql_flush(
            style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
        if not sql or FLUSH_TABLE not in self.connection.introspection.table_names():
            return sql  # nothing to empty, or not migrated that far: no guards yet
        return [
            f"INSERT OR IGNORE INTO {FLUSH_TABLE} (id) VALUES (1);",  # noqa: S608 - a constant
            *sql,
            f"DELETE FROM {FLUSH_TABLE};",  # noqa: S608 - a constant
        ]


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
