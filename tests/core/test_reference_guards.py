"""The references without a database constraint are guarded on the referenced side, on
SQLite as on PostgreSQL (ispbill/core/guards.py; docs/development.md, "Reference guards").

Every ``db_constraint=False`` reference of every model is found from the model definitions,
so one added later is tested without editing this file: its target must refuse a DELETE
that bypasses the models (and Django's PROTECT) while the reference holds its id, with an
IntegrityError and every row as it was; let the same row go once nothing refers to it; and
Django's flush must still empty the database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import IntegrityError, connection, models, transaction

from ispbill.billing.actions import one_time_charge_create
from ispbill.billing.models import BillingRun
from ispbill.billing.run import billing_run_start
from ispbill.core.guards import FLUSH_TABLE
from ispbill.partners.models import CommissionBase, Partner, PartnerMode
from tests.billing.builders import customer, service, tariff
from tests.factories import PartnerFactory
from tests.security.world import database_fingerprint

pytestmark = pytest.mark.django_db

# Invoices, credit notes and journal entries are never deleted, referenced or not (DOMAIN.md).
NEVER_DELETED = {"invoicing.invoice", "invoicing.creditnote", "ledger.journalentry"}


def unconstrained_references() -> Iterator[tuple[type[models.Model], models.ForeignKey[Any, Any]]]:
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if field.is_relation and not getattr(field, "db_constraint", True):
                assert isinstance(field, models.ForeignKey)
                yield model, field


def test_the_unconstrained_references_are_the_ones_this_file_knows():
    """29 references from the billing tables; their targets are the guarded tables."""
    refs = list(unconstrained_references())
    assert len(refs) == 29
    targets = {field.related_model._meta.label_lower for _, field in refs}  # type: ignore[union-attr]
    assert targets == NEVER_DELETED | set(FRESH)


def _fresh_service() -> Any:
    return service(customer(), tariff(), date(2026, 4, 1))


def _fresh_one_time_charge() -> Any:
    from ispbill.subscriptions.models import OneTimeCharge

    c = customer()
    return OneTimeCharge.objects.create(
        partner_id=c.partner_id,
        customer=c,
        description="Router",
        unit_price_minor=4900,
        tax_rate=tariff().tax_rate,
        charge_date=date(2026, 4, 1),
    )


def _fresh_charge() -> Any:
    from ispbill.billing.models import Charge

    s = _fresh_service()
    return Charge.objects.create(
        partner_id=s.partner_id,
        issuer_id=s.partner_id,
        customer_id=s.customer_id,
        account_id=s.customer_id,
        service=s,
        tariff_id=s.tariff_id,
        billing_date=date(2026, 4, 1),
        period_start=date(2026, 4, 1),
        period_end=date(2026, 4, 30),
        description="April",
        unit_price_minor=3000,
        amount_minor=3000,
        tax_rate_bp=1900,
        currency="EUR",
    )


def _fresh_plan_change() -> Any:
    from ispbill.billing.models import PlanChange

    s = _fresh_service()
    return PlanChange.objects.create(
        partner_id=s.partner_id,
        customer_id=s.customer_id,
        service=s,
        old_tariff_id=s.tariff_id,
        new_tariff=tariff(),
        effective_date=date(2026, 5, 1),
    )


def _fresh_statement() -> Any:
    from ispbill.partners.models import CommissionStatement

    return CommissionStatement.objects.create(
        partner=PartnerFactory(mode=PartnerMode.PERCENTAGE),
        period_start=date(2026, 4, 1),
        period_end=date(2026, 4, 30),
        currency="EUR",
    )


# A row of each guarded table that nothing refers to yet.
FRESH: dict[str, Callable[[], Any]] = {
    "billing.charge": _fresh_charge,
    "billing.planchange": _fresh_plan_change,
    "partners.partner": lambda: PartnerFactory(mode=PartnerMode.PERCENTAGE),
    "catalog.tariff": lambda: tariff(),
    "billing.billingrun": lambda: BillingRun.objects.create(run_date=date(2026, 4, 1)),
    "customers.customer": lambda: customer(),
    "subscriptions.service": _fresh_service,
    "subscriptions.onetimecharge": _fresh_one_time_charge,
    "partners.commissionstatement": _fresh_statement,
}


@pytest.fixture
def billed(home):  # type: ignore[no-untyped-def]
    """A percentage partner's customer (invoiced base: a commission accrual) with a service
    and a one-time charge, billed: a row in every table that refers without a constraint."""
    partner = PartnerFactory(
        mode=PartnerMode.PERCENTAGE, commission_bp=1000, commission_base=CommissionBase.INVOICED
    )
    c = customer(partner)
    t = tariff(price=3000)
    service(c, t, date(2026, 4, 1))
    one_time_charge_create(
        customer=c,
        description="Router",
        unit_price_minor=4900,
        tax_rate=t.tax_rate,
        charge_date=date(2026, 3, 20),
    )
    billing_run_start(run_date=date(2026, 4, 1))
    # A plan change given back by credit note (the credits' references), and a late-payment
    # fee (a one-time charge naming its invoice).
    from ispbill.billing.fees import late_payment_fees_charge
    from ispbill.billing.plan_changes import plan_change_request
    from ispbill.subscriptions.models import Service

    faster = tariff(price=4500)
    faster.available_to.add(partner)
    plan_change_request(
        service=Service.objects.get(customer=c),
        tariff=faster,
        effective=date(2026, 4, 17),
        today=date(2026, 4, 17),
    )
    Partner.objects.filter(pk=home.pk).update(
        fee_late_payment_minor=500, fee_tax_rate=t.tax_rate, late_fee_days=0
    )
    assert late_payment_fees_charge(today=date(2026, 5, 1))
    if connection.vendor == "postgresql":
        # As at a commit: the deferred checks of these rows now (PostgreSQL refuses to
        # TRUNCATE, as flush does, a table with checks pending in the transaction).
        with connection.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
    for model, _ in unconstrained_references():
        assert model._base_manager.exists(), model  # the scenario reaches every table


def _raw_delete(table: str, pk: int) -> None:
    """A DELETE that bypasses the models (and Django's PROTECT)."""
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {table} WHERE id = %s", [pk])


def _raw_set(model: type[models.Model], column: str, pk: int, value: int | None) -> None:
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {model._meta.db_table} SET {column} = %s WHERE id = %s",
            [value, pk],
        )


def _refused(table: str, pk: int, match: str) -> None:
    before = database_fingerprint()
    with pytest.raises(IntegrityError, match=match), transaction.atomic():
        _raw_delete(table, pk)
    assert database_fingerprint() == before


@pytest.mark.parametrize(
    "label",
    sorted({f"{m._meta.label_lower}.{f.name}" for m, f in unconstrained_references()}),
)
def test_a_referenced_row_is_not_deleted(billed, label):  # type: ignore[no-untyped-def]
    """Each reference alone keeps its target: point one existing row's reference at a row
    nothing else refers to, DELETE that row bypassing the models: IntegrityError, nothing
    changed; the reference moved back, the same DELETE goes through."""
    app_model, name = label.rsplit(".", 1)
    model = apps.get_model(app_model)
    field = model._meta.get_field(name)
    target = field.related_model
    assert isinstance(field, models.ForeignKey) and target is not None
    target_label = target._meta.label_lower
    table = target._meta.db_table
    # A row that holds such a reference already (a charge of a service, not of a one-time
    # charge), else any (an invoice line outside an aggregated invoice has no section).
    rows = model._base_manager.order_by("pk")
    row = rows.exclude(**{f"{field.attname}__isnull": True}).first()
    if target_label in NEVER_DELETED:
        # Never deleted, referenced or not (an entry reversing another is rare: any entry).
        held = getattr(row, field.attname) if row is not None else None
        if held is None:
            held = target._base_manager.order_by("pk").values_list("pk", flat=True).first()
        assert held is not None, f"no {target_label} row"
        _refused(table, held, "never deleted")
        assert target._base_manager.filter(pk=held).exists()
        return
    row = row or rows.first()
    assert row is not None, f"no {label} row to point elsewhere"
    fresh = FRESH[target_label]()
    was = getattr(row, field.attname)
    _raw_set(model, field.column, row.pk, fresh.pk)
    _refused(table, fresh.pk, "still referenced")
    assert target._base_manager.filter(pk=fresh.pk).exists()
    _raw_set(model, field.column, row.pk, was)
    _raw_delete(table, fresh.pk)
    assert not target._base_manager.filter(pk=fresh.pk).exists()


def test_flush_empties_every_table_and_the_guards_stand_again(billed, home):  # type: ignore[no-untyped-def]
    """Django's flush (run between transactional tests, and ``manage.py flush``) empties the
    database whatever order it deletes in; afterwards the guards refuse again."""
    call_command("flush", interactive=False, verbosity=0)
    for model, field in unconstrained_references():
        assert not model._base_manager.exists(), model
        target = field.related_model
        assert target is not None and not isinstance(target, str)
        # The home partner comes back at once (post_migrate): only it.
        left = target._base_manager.all()
        if target is Partner:
            left = left.exclude(pk=home.pk)
        assert not left.exists(), field
    if connection.vendor == "sqlite":
        with connection.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {FLUSH_TABLE}")
            assert cur.fetchone()[0] == 0
    # The home partner is back (post_migrate), and billing refers to it again.
    c = customer()
    service(c, tariff(price=3000), date(2026, 4, 1))
    billing_run_start(run_date=date(2026, 4, 1))
    _refused("customers_customer", c.pk, "still referenced")


def test_sqlite_flush_statements_stand_the_guards_aside_only_while_they_run():
    """On SQLite the flush's DELETEs are framed by the row the triggers read (first and
    last statement of the one flush transaction); on PostgreSQL flush is TRUNCATE."""
    from django.core.management.color import no_style
    from django.core.management.sql import sql_flush

    statements = sql_flush(no_style(), connection)
    if connection.vendor != "sqlite":
        assert all(s.startswith("TRUNCATE") for s in statements)
        return
    assert statements[0] == f"INSERT OR IGNORE INTO {FLUSH_TABLE} (id) VALUES (1);"
    assert statements[-1] == f"DELETE FROM {FLUSH_TABLE};"
    middle = statements[1:-1]
    assert any(s.startswith('DELETE FROM "customers_customer"') for s in middle)
    assert not any(FLUSH_TABLE in s for s in middle)
