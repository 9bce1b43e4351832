"""SQLite: a migration that remakes a table keeps the reference guards on it and the ones
naming it (ispbill/core/backends/sqlite3/base.py)."""

from __future__ import annotations

import pytest
from django.db import connection

from ispbill.billing.models import Charge
from ispbill.catalog.models import Tariff

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite remakes tables"),
]


def triggers() -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        return set(cursor.fetchall())


@pytest.mark.parametrize("model", [Tariff, Charge], ids=["guarded", "named by guards"])
def test_a_remade_table_keeps_every_trigger(model):
    before = triggers()
    assert any(model._meta.db_table in sql for _name, sql in before)
    with connection.schema_editor() as editor:
        editor._remake_table(model)
    assert triggers() == before
