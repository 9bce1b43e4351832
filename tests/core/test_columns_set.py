"""``column_set`` and ``columns_set`` (ispbill/core/bulk.py): several rows' columns written by
id in one statement per batch, on SQLite and PostgreSQL, NULLs and JSON included, and no
other row or column touched."""

from __future__ import annotations

from datetime import date

import pytest

from ispbill.core.bulk import column_set, columns_set
from ispbill.core.models import AuditEvent
from ispbill.subscriptions.models import Service
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db


def test_columns_are_written_together_by_id():
    first, second, untouched = ServiceFactory.create_batch(3, end_date=date(2026, 9, 30))

    columns_set(
        Service,
        ["charged_through", "end_date", "status"],
        [
            (first.pk, date(2026, 5, 1), None, "paused"),
            (second.pk, None, date(2026, 6, 30), "stopped"),
        ],
    )

    rows = {
        s.pk: (s.charged_through, s.end_date, s.status, s.description)
        for s in Service.objects.all()
    }
    assert rows[first.pk] == (date(2026, 5, 1), None, "paused", first.description)
    assert rows[second.pk] == (None, date(2026, 6, 30), "stopped", second.description)
    assert rows[untouched.pk] == (
        untouched.charged_through,
        date(2026, 9, 30),
        untouched.status,
        untouched.description,
    )


def test_a_json_column_and_the_single_column_form():
    a = AuditEvent.objects.create(action="x", object_type="t", object_id="1", changes={"a": 1})
    b = AuditEvent.objects.create(action="y", object_type="t", object_id="2", changes={"b": 2})

    columns_set(AuditEvent, ["changes", "action"], [(a.pk, {"to": ["é", 2]}, "z")])
    column_set(AuditEvent, "changes", {b.pk: {}})
    columns_set(AuditEvent, ["action"], [])  # nothing to write

    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.changes, a.action) == ({"to": ["é", 2]}, "z")
    assert (b.changes, b.action) == ({}, "y")
