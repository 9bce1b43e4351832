"""Django's SQLite backend, with a flush that the reference guards let through, and table
changes that keep them.

The triggers of ``ispbill/core/guards.py`` refuse to delete an invoice or a journal entry,
and a partner, tariff, billing run, customer, service or one-time charge while a row refers
to it. Django's flush (``manage.py flush``, and the tests between transactional tests) empties
every table with one ``DELETE FROM`` per table, in no fixed order; PostgreSQL's flush is a
``TRUNCATE``, which fires no delete trigger. Here the flush's statements are framed by a row
in ``ispbill_flush_running`` (written first, removed last, in the flush's one transaction),
which the triggers read and stand aside for. Nothing else writes that table: every other
delete meets the guards (docs/development.md, "Reference guards").

A migration that changes a table SQLite cannot alter in place (a column with a default, a
check constraint) makes Django remake it: a new table, the rows copied, the old one dropped
and the new one renamed. Dropping a table drops its triggers, and SQLite refuses the rename
while a trigger elsewhere names the dropped table. So the triggers on the table, or naming
it, are set aside for the remake and created again after it, as they were."""

from __future__ import annotations

from typing import Any

from django.db.backends.sqlite3 import base, operations, schema

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


class DatabaseSchemaEditor(schema.DatabaseSchemaEditor):
    def _remake_table(self, model: Any, *args: Any, **kwargs: Any) -> None:
        table = model._meta.db_table
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            triggers = [(name, sql) for name, sql in cursor.fetchall() if sql and table in sql]
        for name, _sql in triggers:
            self.execute(f'DROP TRIGGER "{name}"', params=None)
        super()._remake_table(model, *args, **kwargs)  # type: ignore[misc]
        for _name, sql in triggers:
            self.execute(sql, params=None)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
    SchemaEditorClass = DatabaseSchemaEditor
