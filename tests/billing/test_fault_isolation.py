"""Fault-isolated billing runs (issue 27): one customer's (or partner's) failure is recorded
and skipped, and the run finishes for everyone else; the next run retries only the failed."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection

from ispbill.billing import run as run_module
from ispbill.billing.models import BillingFailure, BillingRun, FailureStage
from ispbill.billing.run import billing_run_start
from ispbill.core.invariants import invariants_check
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import PartnerMode
from ispbill.subscriptions.models import OneTimeCharge
from tests.factories import partner_with_account

from .builders import customer, service, tariff, tax

pytestmark = pytest.mark.django_db
APRIL, MAY = date(2026, 4, 1), date(2026, 5, 1)


def _hostile_setup(home):
    """The operator's three customers, and an own-invoicing partner's customer with a
    one-time charge whose amount overflows a 64-bit integer (written to the database
    directly, as the unbounded web form once let it through)."""
    mine = [customer() for _ in range(3)]
    for c in mine:
        service(c, tariff(price=3000), APRIL)
    own = partner_with_account(
        name="Own", mode=PartnerMode.OWN_INVOICING, invoice_number_pattern="O-{next|4}"
    )
    bad = customer(own)
    service(bad, tariff(own, price=2000), APRIL)
    otc = OneTimeCharge.objects.create(
        partner=own,
        customer=bad,
        description="Hostile",
        quantity=2,
        unit_price_minor=9_223_372_036_854_775_800,  # 92233720368547758.00 entered on the web
        tax_rate=tax(own),
        charge_date=APRIL,
    )
    return mine, own, bad, otc


@pytest.mark.parametrize("chunk_size", [1000, 2])
def test_an_overflowing_charge_fails_its_customer_only(home, chunk_size):
    mine, own, bad, otc = _hostile_setup(home)
    summary = billing_run_start(run_date=APRIL, chunk_size=chunk_size)

    run = BillingRun.objects.get()
    assert summary.status == run.status == "partial"
    assert run.failures_count == 1 and run.status_label == "Finished with 1 failure"
    # The operator's invoices: 30.00 + 19 % VAT = 35.70 each, in the same run.
    assert sorted(Invoice.objects.values_list("customer_id", "total_minor")) == [
        (c.pk, 3570) for c in mine
    ]
    assert run.invoices_issued == 3 and run.totals == {"EUR": 3 * 3570}
    failure = BillingFailure.objects.get()
    assert (failure.run_id, failure.stage, failure.customer_id, failure.partner_id) == (
        run.pk,
        FailureStage.CUSTOMER,
        bad.pk,
        own.pk,
    )
    # SQLite: OverflowError from the driver; PostgreSQL: bigint out of range.
    assert "int" in failure.error.lower() and failure.traceback
    assert failure.resolved_at is None
    assert [f.customer_id for f in summary.stats.failures] == [bad.pk]
    bad.refresh_from_db()
    assert bad.billed_through is None  # nothing of it written: retried by the next run
    # `ispbill check` names the open failure until a run retries it.
    assert [(b.check, b.ids) for b in invariants_check()[1]] == [
        ("billing.open_failures", (f"billing_run:{run.pk}/customer:{bad.pk}",))
    ]

    # Fixed (an operator corrects the amount): the next run bills only that customer.
    OneTimeCharge.objects.filter(pk=otc.pk).update(unit_price_minor=500)
    again = billing_run_start(run_date=APRIL, chunk_size=chunk_size)
    assert again.status == "done"
    rerun = BillingRun.objects.get(pk=again.run_id)
    assert rerun.invoices_issued == 1
    inv = Invoice.objects.get(billing_run=rerun)
    # 20.00 + 2 x 5.00 = 30.00 net, + 19 % = 35.70.
    assert (inv.customer_id, inv.total_minor) == (bad.pk, 3570)
    failure.refresh_from_db()
    assert failure.resolved_at is not None and failure.resolved_by_run_id == rerun.pk
    assert invariants_check()[1] == []


def test_a_customer_failing_again_gets_a_new_failure_and_the_old_is_resolved(home):
    _mine, _own, bad, _otc = _hostile_setup(home)
    first = billing_run_start(run_date=APRIL)
    second = billing_run_start(run_date=APRIL)
    assert second.status == "partial"
    old, new = BillingFailure.objects.order_by("pk")
    assert (old.run_id, new.run_id) == (first.run_id, second.run_id)
    assert old.resolved_by_run_id == second.run_id and new.resolved_at is None
    assert old.customer_id == new.customer_id == bad.pk
    assert BillingRun.objects.get(pk=second.run_id).invoices_issued == 0


def test_a_rating_error_isolated_with_threads(home, settings, monkeypatch):
    """BILLING_THREADS=2 (PostgreSQL outside a test transaction runs chunks in threads; here
    it runs them in order): the failing customer is isolated inside its chunk."""
    settings.BILLING_THREADS = 2
    customers = [customer() for _ in range(6)]
    for c in customers:
        service(c, tariff(price=1000), APRIL)
    target = customers[4].pk
    real_charge = run_module.service_charge_row

    def charge(s, cd, **kw):
        if kw["customer_id"] == target:
            raise ValueError("a broken tariff")
        return real_charge(s, cd, **kw)

    monkeypatch.setattr(run_module, "service_charge_row", charge)
    summary = billing_run_start(run_date=APRIL, chunk_size=4)
    assert summary.status == "partial"
    assert Invoice.objects.count() == 5
    assert not Invoice.objects.filter(customer_id=target).exists()
    assert BillingFailure.objects.get().error == "ValueError: a broken tariff"


def test_an_aggregation_that_fails_is_recorded_and_others_continue(home, monkeypatch):
    agg = partner_with_account(name="Agg", mode=PartnerMode.AGGREGATED)
    other = partner_with_account(name="Agg2", mode=PartnerMode.AGGREGATED)
    for p in (agg, other):
        service(customer(p), tariff(price=1000), APRIL)
    real = run_module.wholesale_cycle

    def cycle(p):
        if p.pk == agg.pk:
            raise RuntimeError("broken aggregation settings")
        return real(p)

    monkeypatch.setattr(run_module, "wholesale_cycle", cycle)
    summary = billing_run_start(run_date=APRIL)
    assert summary.status == "partial"
    failure = BillingFailure.objects.get()
    assert (failure.stage, failure.partner_id, failure.customer_id) == (
        FailureStage.AGGREGATION,
        agg.pk,
        agg.account_id,
    )
    # The other partner's aggregated invoice: 10.00 + 19 % = 11.90.
    assert list(Invoice.objects.values_list("customer_id", "total_minor")) == [
        (other.account_id, 1190)
    ]
    monkeypatch.setattr(run_module, "wholesale_cycle", real)
    assert billing_run_start(run_date=APRIL).status == "done"
    assert Invoice.objects.filter(customer_id=agg.account_id).count() == 1
    failure.refresh_from_db()
    assert failure.resolved_at is not None


def test_a_connection_error_is_not_isolated(home, monkeypatch):
    from django.db import OperationalError

    service(customer(), tariff(price=1000), APRIL)

    def down(**kw):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(run_module, "_chunk_bill", down)
    with pytest.raises(OperationalError):
        billing_run_start(run_date=APRIL)
    assert BillingRun.objects.get().status == "failed"
    assert not BillingFailure.objects.exists()


def test_dry_run_reports_the_failure_and_writes_nothing(home):
    _mine, _own, bad, _otc = _hostile_setup(home)
    summary = billing_run_start(run_date=APRIL, dry_run=True)
    assert summary.stats.invoices_issued == 3
    assert [f.customer_id for f in summary.stats.failures] == [bad.pk]
    assert not BillingFailure.objects.exists() and not Invoice.objects.exists()
    assert connection.vendor in ("sqlite", "postgresql")
