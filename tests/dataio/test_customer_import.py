"""Customer CSV import: thousands of rows, every error listed, all or nothing, scoping."""

from __future__ import annotations

import csv
import io
import time

import pytest
from django_scopes import scope

from ispbill.core.models import AuditEvent
from ispbill.customers.models import Customer
from ispbill.dataio.customer_import import (
    COLUMNS,
    customers_import,
    customers_template_csv,
)
from ispbill.partners.models import PartnerMode
from ispbill.subscriptions.models import Service
from tests.billing.builders import tariff
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db


def _csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def _rows(n: int, tariff_name: str) -> list[dict[str, str]]:
    return [
        {
            "reference": f"K{i:06d}",
            "name": f"Kunde {i}",
            "email": f"k{i}@example.net",
            "city": "Berlin",
            "billing_day": str(1 + i % 28),
            "tariff": tariff_name,
            "service_start": "2026-01-01",
        }
        for i in range(n)
    ]


def test_ten_thousand_customers_import(home):
    plan = tariff(home, price=2990)
    text = _csv(_rows(10_000, plan.name))
    began = time.monotonic()
    result = customers_import(csv_text=text, dry_run=False)
    elapsed = time.monotonic() - began
    assert result.errors == []
    assert (result.customers_created, result.services_created) == (10_000, 10_000)
    assert Customer.objects.filter(reference__startswith="K").count() == 10_000
    assert Service.objects.filter(tariff=plan).count() == 10_000
    assert Customer.objects.get(reference="K000029").billing_day == 2
    assert elapsed < 60, elapsed


def test_errors_anywhere_refuse_the_whole_file_and_list_every_one(home):
    plan = tariff(home, price=2990)
    rows = _rows(500, plan.name)
    rows[3]["email"] = "not-an-email"
    rows[120]["billing_day"] = "31"
    rows[121]["tariff"] = "No Such Plan"
    rows[250]["name"] = ""
    rows[251]["service_start"] = "01.02.2026"
    rows[400]["reference"] = rows[10]["reference"]  # a repeat with other customer columns
    rows[499]["service_discount"] = "120"
    before = (Customer.objects.count(), Service.objects.count(), AuditEvent.objects.count())
    result = customers_import(csv_text=_csv(rows), dry_run=False)
    found = {(e.row, e.column) for e in result.errors}
    # Row numbers as a spreadsheet shows them: header row 1, first customer row 2.
    assert found == {
        (5, "email"),
        (122, "billing_day"),
        (123, "tariff"),
        (252, "name"),
        (253, "service_start"),
        (402, "name"),
        (501, "service_discount"),
    }
    assert result.customers_created == 0
    after = (Customer.objects.count(), Service.objects.count(), AuditEvent.objects.count())
    assert after == before


def test_dry_run_shows_what_would_be_created_and_writes_nothing(home):
    plan = tariff(home, price=2990)
    extra = tariff(home, price=450)
    rows = [
        *_rows(3, plan.name),
        {"reference": "K000001", "tariff": extra.name, "service_start": "2026-02-01"},
    ]
    result = customers_import(csv_text=_csv(rows), dry_run=True)
    assert result.errors == []
    assert [p.reference for p in result.planned] == ["K000000", "K000001", "K000002"]
    assert [len(p.services) for p in result.planned] == [1, 2, 1]
    assert not Customer.objects.filter(reference__startswith="K").exists()
    result = customers_import(csv_text=_csv(rows), dry_run=False)
    assert (result.customers_created, result.services_created) == (3, 4)
    # The same file again: every reference exists now.
    again = customers_import(csv_text=_csv(rows), dry_run=False)
    assert {e.column for e in again.errors} == {"reference"}


def test_unknown_and_missing_columns_are_reported_on_row_one(home):
    result = customers_import(csv_text="reference;surname\nX1;Y\n", dry_run=True)
    assert {(e.row, e.column) for e in result.errors} == {(1, "surname"), (1, "name")}


def test_template_is_importable_once_its_tariffs_exist(home):
    from ispbill.catalog.models import Tariff

    plan = tariff(home, price=3990)
    Tariff.objects.filter(pk=plan.pk).update(name="Fiber 100")
    static = tariff(home, price=500)
    Tariff.objects.filter(pk=static.pk).update(name="Static IP")
    result = customers_import(csv_text=customers_template_csv(), dry_run=False)
    assert result.errors == []
    services = Service.objects.filter(customer__reference="C10001").order_by("id")
    assert [s.price_override_minor for s in services] == [None, 450]


def test_operator_chooses_partner_by_column_and_tariff_must_be_available(home):
    reseller = PartnerFactory(name="CityNet", mode=PartnerMode.PERCENTAGE)
    plan = tariff(home, price=2990)
    rows = [
        {
            "reference": "R1",
            "name": "A",
            "partner": "CityNet",
            "tariff": plan.name,
            "service_start": "2026-01-01",
        },
    ]
    result = customers_import(csv_text=_csv(rows), dry_run=True)
    assert [(e.column, "sells no active tariff" in e.message) for e in result.errors] == [
        ("tariff", True)
    ]
    plan.available_to.add(reseller)
    result = customers_import(csv_text=_csv(rows), dry_run=False)
    assert result.errors == []
    assert Customer.objects.get(reference="R1").partner == reseller


def test_a_partner_imports_only_into_itself(home):
    own = PartnerFactory(name="OwnNet", mode=PartnerMode.OWN_INVOICING)
    other = PartnerFactory(name="OtherNet", mode=PartnerMode.OWN_INVOICING)
    plan = tariff(own, price=1500)
    rows = [
        {"reference": "O1", "name": "Mine", "tariff": plan.name, "service_start": "2026-01-01"},
        {"reference": "O2", "name": "Theirs", "partner": "OtherNet"},
        {"reference": "O3", "name": "By id", "partner": str(other.pk)},
    ]
    with scope(partner=own.pk, customer=None, account=()):
        result = customers_import(csv_text=_csv(rows), partner=own, dry_run=False)
        assert [(e.row, e.column) for e in result.errors] == [(3, "partner"), (4, "partner")]
        assert "only into OwnNet" in result.errors[0].message
        with pytest.raises(PermissionError):
            customers_import(csv_text=_csv(rows[:1]), partner=other, dry_run=False)
        with pytest.raises(PermissionError):
            customers_import(csv_text=_csv(rows[:1]), dry_run=False)
        result = customers_import(csv_text=_csv(rows[:1]), partner=own, dry_run=False)
    assert result.customers_created == 1
    assert Customer.objects.get(reference="O1").partner == own
