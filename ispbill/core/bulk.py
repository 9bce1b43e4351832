"""Set-based writes for the billing run.

On PostgreSQL rows are written with COPY (ids drawn from the table's sequence first when the
caller needs them) and updates are one ``UPDATE ... FROM unnest(ids, values)`` per batch; on
SQLite both are one prepared statement executed per row. No model instances are built. The
billing run's cost is dominated by how it writes (see docs/performance.md)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import orjson
from django.core.exceptions import EmptyResultSet, FieldDoesNotExist
from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models.lookups import In
from django.utils import timezone

BATCH = 5000


class AnyIn(In):
    """``field__any_in=ids``: ``IN (...)``, but on PostgreSQL ``= ANY(%s)`` with the ids as one
    array parameter, so a chunk's thousand ids make a short statement (psycopg need not
    parse thousands of placeholders, and PostgreSQL plans one parameter)."""

    lookup_name = "any_in"

    def get_prep_lookup(self) -> Any:
        # Ids (the usual case) need no preparation one by one: a chunk has thousands.
        if isinstance(self.rhs, (list, tuple)) and all(type(v) is int for v in self.rhs):
            return list(self.rhs)
        return super().get_prep_lookup()

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = [v for v in self.rhs if v is not None]
        db_type = self.lhs.output_field.cast_db_type(connection)
        return f"{lhs} = ANY(%s::{db_type}[])", [*lhs_params, pg_array(values)]


models.Field.register_lookup(AnyIn)
models.ForeignObject.register_lookup(AnyIn)


def pg_array(values: list[Any]) -> Any:
    """``values`` as a PostgreSQL array parameter: integers, dates, strings without quotes or
    backslashes (or None) as the array's text, built by ``str.join`` (psycopg dumps a list
    element by element in Python, which was a tenth of a billing run's own time); other
    values as the list."""
    parts = []
    for v in values:
        kind = type(v)
        if kind is int:
            parts.append(str(v))
        elif kind is date:
            parts.append(v.isoformat())
        elif v is None:
            parts.append("NULL")
        elif kind is str and '"' not in v and "\\" not in v:
            parts.append(f'"{v}"')
        else:
            return values
    return "{" + ",".join(parts) + "}"


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def ids_draw_supported() -> bool:
    """Whether ``ids_draw`` can give ids before the rows are written (PostgreSQL)."""
    return _is_postgres()


def ids_draw(model: type[models.Model], count: int) -> list[int]:
    """``count`` new primary keys from the table's sequence, for rows written later
    (PostgreSQL)."""
    if count <= 0:
        return []
    pk = model._meta.pk
    assert pk is not None
    key = (model._meta.db_table, str(pk.column))
    with connection.cursor() as cur:
        # The sequence's name looked up once: called per row, pg_get_serial_sequence took
        # seven eighths of the statement's time (about 3 µs an id).
        if key not in _sequences:
            cur.execute("SELECT pg_get_serial_sequence(%s, %s)", list(key))
            _sequences[key] = cur.fetchone()[0]
        cur.execute(
            "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [_sequences[key], count]
        )
        return [row[0] for row in cur.fetchall()]


_sequences: dict[tuple[str, str], str] = {}  # (table, column) -> its sequence


def _is_json_field(model: Any, name: str) -> bool:
    try:
        return isinstance(model._meta.get_field(name), models.JSONField)
    except FieldDoesNotExist:  # a join ("a__b"), "pk", an annotation
        return False


def plain_rows(queryset: Any, fields: Any) -> list[tuple[Any, ...]]:
    """``queryset.values_list(*fields)`` as a list of tuples. On PostgreSQL straight from the
    cursor: for integers, strings and dates psycopg gives the values Django would, and
    Django's row iterator cost a tenth of a billing chunk's own time. Elsewhere (SQLite
    gives dates as text) through Django."""
    rows = queryset.values_list(*fields)
    if not _is_postgres():
        return list(rows)
    try:
        sql, params = rows.query.get_compiler(using=rows.db).as_sql()
    except EmptyResultSet:
        return []
    with connections[rows.db].cursor() as cur:
        cur.execute(sql, params)
        fetched = cur.fetchall()
    # Django has psycopg hand jsonb over as text (JSONField decodes it); decode it here too.
    json_at = [i for i, name in enumerate(fields) if _is_json_field(queryset.model, name)]
    if not json_at or not fetched:
        return fetched
    out = []
    for row in fetched:
        values = list(row)
        for i in json_at:
            if isinstance(values[i], str):
                values[i] = json.loads(values[i])
        out.append(tuple(values))
    return out


def column_set(model: type[models.Model], column: str, values: dict[int, Any]) -> None:
    """``UPDATE table SET column = value WHERE id = pk`` for every (pk, value), in batches."""
    columns_set(model, [column], list(values.items()))


def columns_set(model: type[models.Model], columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """``UPDATE table SET c1 = v1, c2 = v2 … WHERE id = pk`` for every row ``(pk, v1, v2,
    …)``, in batches: one statement writes the columns together, so each row gets one new
    version (one set of index entries when an indexed column is among them), not one per
    column."""
    if not rows:
        return
    fields: list[models.Field[Any, Any]] = []
    for column in columns:
        field = model._meta.get_field(column)
        assert isinstance(field, models.Field)
        fields.append(field)
    table = connection.ops.quote_name(model._meta.db_table)
    cols = [connection.ops.quote_name(str(f.column)) for f in fields]
    if not _is_postgres():
        # SQLite (in-process, no round trips): one prepared UPDATE executed per row.
        sets = ", ".join(f"{col} = %s" for col in cols)
        with connection.cursor() as cur:
            cur.executemany(
                f"UPDATE {table} SET {sets} WHERE id = %s",  # noqa: S608 - names from the model
                [
                    (
                        *(
                            f.get_db_prep_save(v, connection)
                            for f, v in zip(fields, row[1:], strict=True)
                        ),
                        row[0],
                    )
                    for row in rows
                ],
            )
        return
    is_json = [isinstance(f, models.JSONField) for f in fields]
    array_types = [
        "text" if j else str(f.db_type(connection)) for f, j in zip(fields, is_json, strict=True)
    ]
    sets = ", ".join(
        f"{col} = v.c{n}{'::jsonb' if j else ''}"
        for n, (col, j) in enumerate(zip(cols, is_json, strict=True))
    )
    arrays = ", ".join(f"%s::{t}[]" for t in array_types)
    names = ", ".join(f"c{n}" for n in range(len(cols)))
    with connection.cursor() as cur:
        for i in range(0, len(rows), BATCH):
            batch = rows[i : i + BATCH]
            params: list[Any] = [pg_array([row[0] for row in batch])]
            for n, j in enumerate(is_json, 1):
                vals = [row[n] for row in batch]
                params.append(
                    [json.dumps(v) if v is not None else v for v in vals] if j else pg_array(vals)
                )
            # One array parameter per column instead of one per value: the statement stays
            # short.
            cur.execute(
                f"UPDATE {table} AS t SET {sets} "  # noqa: S608 - names from the model
                f"FROM unnest(%s::bigint[], {arrays}) AS v(id, {names}) WHERE t.id = v.id",
                params,
            )


def tuples_insert(
    model: type[models.Model],
    fields: list[str],
    rows: list[tuple[Any, ...]],
    *,
    with_ids: bool = False,
) -> list[int]:
    """Insert plain tuples (values for ``fields``, by attribute name) without building model
    instances. Returns the new primary keys when ``with_ids``. Columns not named in
    ``fields`` get their default, evaluated once per call (``auto_now_add`` ones now)."""
    if not rows:
        return []
    meta = model._meta
    extra = [
        f
        for f in meta.concrete_fields
        if f.attname not in fields and not f.primary_key and not f.generated
    ]
    # Defaults of the columns not named, once for the whole call.
    now = timezone.now()
    defaults = [now if getattr(f, "auto_now_add", False) else f.get_default() for f in extra]
    if not _is_postgres():
        return _sqlite_insert(model, fields, rows, extra, defaults, with_ids)
    from psycopg.types.json import Jsonb, set_json_dumps

    pk = meta.pk
    assert pk is not None
    attnames = {f.attname: f for f in meta.concrete_fields}
    columns = [attnames[name].column for name in fields] + [f.column for f in extra]
    json_at = [i for i, name in enumerate(fields) if isinstance(attnames[name], models.JSONField)]
    if json_at:
        # One dict shared by many rows (an issuer's snapshot) is encoded once; orjson, as
        # every invoice has its own customer snapshot (the standard library's encoder took
        # a twelfth of a chunk's own time).
        encoded: dict[int, _JsonText] = {}

        def encode(value: Any) -> Any:
            if value is None:
                return None
            if type(value) is dict and not value:  # most lines' adjustment: one encoding
                return _EMPTY_OBJECT
            key = id(value)
            if key not in encoded:
                encoded[key] = _JsonText(orjson.dumps(value))
            return encoded[key]

        def encoded_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
            values = list(row)
            for i in json_at:
                values[i] = encode(values[i])
            return tuple(values)

        rows = [encoded_row(row) for row in rows]
    ids: list[int] = []
    with connection.cursor() as cur:
        if with_ids:
            ids = ids_draw(model, len(rows))
            columns = [pk.column, *columns]
        quoted = ", ".join(connection.ops.quote_name(str(c)) for c in columns)
        tail = [
            Jsonb(v) if isinstance(f, models.JSONField) and v is not None else v
            for f, v in zip(extra, defaults, strict=True)
        ]
        types = _column_types(meta.db_table, [str(c) for c in columns])
        raw = cur.cursor
        set_json_dumps(_json_dumps, context=raw)
        # Binary COPY: values go as PostgreSQL's own binary forms, typed by the columns'
        # types; formatting rows as text took several times longer, in Python and in the
        # server (docs/performance.md).
        with raw.copy(
            f"COPY {connection.ops.quote_name(meta.db_table)} ({quoted}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(types)
            if with_ids:
                for new_id, row in zip(ids, rows, strict=True):
                    copy.write_row((new_id, *row, *tail))
            else:
                for row in rows:
                    copy.write_row((*row, *tail))
    return ids


class _JsonText(bytes):
    """A JSON value already encoded (UTF-8), for a jsonb column of a binary COPY."""


_EMPTY_OBJECT = _JsonText(b"{}")


def _json_dumps(value: Any) -> bytes | str:
    return value if type(value) is _JsonText else json.dumps(value)


_types_of_tables: dict[str, dict[str, int]] = {}


def _column_types(table: str, columns: list[str]) -> list[int]:
    """The type oids of a table's columns (read once per process: built-in types, whose oids
    never change)."""
    types = _types_of_tables.get(table)
    if types is None or any(c not in types for c in columns):
        with connection.cursor() as cur:
            cur.execute(
                "SELECT attname, atttypid FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                [table],
            )
            types = {name: int(oid) for name, oid in cur.fetchall()}
        _types_of_tables[table] = types
    return [types[c] for c in columns]


_PLAIN = (
    models.IntegerField,
    models.CharField,
    models.TextField,
    models.BooleanField,
    models.ForeignKey,
)


def _sqlite_converter(field: Any) -> Any:
    """How a value of ``field`` goes to SQLite: as it is (None) for numbers, text and ids,
    ISO text for dates, the field's own preparation for the rest."""
    if isinstance(field, _PLAIN):
        return None
    if type(field) is models.DateField:
        return date.isoformat
    real = connections[DEFAULT_DB_ALIAS]
    return lambda value: field.get_db_prep_save(value, real)


def _sqlite_insert(
    model: type[models.Model],
    fields: list[str],
    rows: list[tuple[Any, ...]],
    extra: list[Any],
    defaults: list[Any],
    with_ids: bool,
) -> list[int]:
    """SQLite: one prepared INSERT executed per row, values prepared by their fields. Ids are
    given here when asked for: the transaction holds SQLite's single write lock (ispbill
    opens them IMMEDIATE), so nobody else takes the next ids meanwhile."""
    meta = model._meta
    attnames = {f.attname: f for f in meta.concrete_fields}
    named = [attnames[name] for name in fields]
    tail = [f.get_db_prep_save(v, connection) for f, v in zip(extra, defaults, strict=True)]
    table = connection.ops.quote_name(meta.db_table)
    ids: list[int] = []
    columns = [str(f.column) for f in named] + [str(f.column) for f in extra]
    with connection.cursor() as cur:
        if with_ids:
            pk = meta.pk
            assert pk is not None
            id_column = connection.ops.quote_name(str(pk.column))
            cur.execute(f"SELECT COALESCE(MAX({id_column}), 0) FROM {table}")  # noqa: S608
            first = int(cur.fetchone()[0]) + 1
            ids = list(range(first, first + len(rows)))
            columns = [str(pk.column), *columns]
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        marks = ", ".join(["%s"] * len(columns))
        convert = [_sqlite_converter(f) for f in named]
        prepared = (
            [v if fn is None or v is None else fn(v) for fn, v in zip(convert, row, strict=True)]
            + tail
            for row in rows
        )
        cur.executemany(
            f"INSERT INTO {table} ({quoted}) VALUES ({marks})",  # noqa: S608 - names from the model
            [[new_id, *values] for new_id, values in zip(ids, prepared, strict=True)]
            if with_ids
            else list(prepared),
        )
    return ids


_deferred_constraints: dict[str, str] = {}


def deferred_checks_run(*, except_referencing: type[models.Model]) -> None:
    """Check now, not at the commit, the deferred foreign keys of the rows written so far in
    this transaction, except those pointing at ``except_referencing`` (PostgreSQL; elsewhere
    nothing). A chunk calls it before it takes the numbering lock, so the lock is not held
    while thousands of references are checked at the commit."""
    if not _is_postgres():
        return
    table = except_referencing._meta.db_table
    if table not in _deferred_constraints:
        with connection.cursor() as cur:
            cur.execute(
                "SELECT c.conname FROM pg_constraint c "
                "JOIN pg_namespace n ON n.oid = c.connamespace "
                "WHERE c.contype = 'f' AND c.condeferrable AND c.condeferred "
                "AND n.nspname = current_schema() AND c.confrelid <> %s::regclass "
                "ORDER BY c.conname",
                [table],
            )
            names = sorted({row[0] for row in cur.fetchall()})
        _deferred_constraints[table] = ", ".join(connection.ops.quote_name(n) for n in names)
    names_sql = _deferred_constraints[table]
    if names_sql:
        with connection.cursor() as cur:
            cur.execute(f"SET CONSTRAINTS {names_sql} IMMEDIATE")
