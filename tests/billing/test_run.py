"""The billing run, with numbers worked by hand (DOMAIN.md "Billing cycle", "Invoices")."""

from __future__ import annotations

from datetime import date

import pytest
from django.db.models import Sum

from ispbill.billing import run as run_module
from ispbill.billing.models import BillingRun, Charge
from ispbill.billing.run import billing_run_start
from ispbill.core.invariants import invariants_check
from ispbill.invoicing.models import ImmutableDocumentError, Invoice, InvoiceLine, InvoiceTax
from ispbill.ledger.models import Posting
from ispbill.partners.models import Partner
from ispbill.subscriptions.models import OneTimeCharge

from .builders import customer, service, tariff, tax

pytestmark = pytest.mark.django_db


def bill(day: date, **kw):
    return billing_run_start(run_date=day, **kw)


def lines(inv: Invoice) -> list[tuple]:
    return [
        (line.description, line.period_start, line.period_end, line.amount_minor)
        for line in InvoiceLine.objects.filter(invoice=inv).order_by("position")
    ]


def test_service_starting_mid_period_gets_partial_plus_next_full_period(home):
    c = customer()
    t = tariff(price=3000)
    service(c, t, date(2026, 3, 15))
    bill(date(2026, 4, 1))
    inv = Invoice.objects.get(customer=c)
    # 30.00 x 17/31 = 16.4516 -> 16.45 for 15-31 March; April in full 30.00.
    assert lines(inv) == [
        (t.name, date(2026, 3, 15), date(2026, 3, 31), 1645),
        (t.name, date(2026, 4, 1), date(2026, 4, 30), 3000),
    ]
    # net 46.45; VAT 19 % = 8.8255 -> 8.83; total 55.28
    assert (inv.net_minor, inv.tax_minor, inv.total_minor) == (4645, 883, 5528)
    assert inv.issue_date == date(2026, 4, 1)
    assert inv.due_date == date(2026, 4, 15)  # 14 days by default
    assert inv.number == "202601000001"


def test_service_ending_mid_period(home):
    c = customer()
    t = tariff(price=3000)
    service(c, t, date(2026, 4, 1), end_date=date(2026, 4, 10))
    bill(date(2026, 4, 1))
    # 30.00 x 10/30 = 10.00
    assert lines(Invoice.objects.get(customer=c))[0][3] == 1000
    bill(date(2026, 5, 1))
    assert Invoice.objects.filter(customer=c).count() == 1


def test_postpaid_charges_the_period_that_ended(home):
    c = customer(payment_period="postpaid")
    service(c, tariff(price=3000), date(2026, 3, 1))
    bill(date(2026, 3, 1))
    assert not Invoice.objects.filter(customer=c).exists()
    bill(date(2026, 4, 1))
    inv = Invoice.objects.get(customer=c)
    assert [(ln[1], ln[2], ln[3]) for ln in lines(inv)] == [
        (date(2026, 3, 1), date(2026, 3, 31), 3000)
    ]


def test_quarterly_tariff_is_charged_every_three_months(home):
    c = customer()
    service(c, tariff(price=9000, months=3), date(2026, 4, 1))
    for month in (4, 5, 6, 7):
        bill(date(2026, month, 1))
    got = [
        (ln.period_start, ln.period_end, ln.amount_minor)
        for ln in InvoiceLine.objects.filter(invoice__customer=c).order_by("period_start")
    ]
    assert got == [
        (date(2026, 4, 1), date(2026, 6, 30), 9000),
        (date(2026, 7, 1), date(2026, 9, 30), 9000),
    ]


def test_discount_ending_mid_period(home):
    c = customer()
    service(
        c, tariff(price=3000), date(2026, 4, 1), discount_bp=5000, discount_until=date(2026, 4, 10)
    )
    bill(date(2026, 4, 1))
    # April has 30 days, 10 at half price: 30.00 x (30 - 10 x 0.5) / 30 = 25.00
    assert lines(Invoice.objects.get(customer=c))[0][3] == 2500
    bill(date(2026, 5, 1))
    assert (
        InvoiceLine.objects.filter(invoice__customer=c, period_start=date(2026, 5, 1))
        .get()
        .amount_minor
        == 3000
    )


def test_quantity_and_price_override(home):
    c = customer()
    service(c, tariff(price=3000), date(2026, 4, 1), quantity=3, price_override_minor=1999)
    bill(date(2026, 4, 1))
    assert lines(Invoice.objects.get(customer=c))[0][3] == 5997  # 3 x 19.99


def test_tax_inclusive_issuer(home):
    Partner.objects.filter(pk=home.pk).update(prices_include_tax=True)
    c = customer()
    service(c, tariff(price=3499), date(2026, 4, 1))
    service(c, tariff(price=500), date(2026, 4, 1))
    bill(date(2026, 4, 1))
    inv = Invoice.objects.get(customer=c)
    # gross 39.99; tax = round(39.99 x 0.19 / 1.19) = round(6.3849) = 6.38; net 33.61
    assert (inv.total_minor, inv.tax_minor, inv.net_minor) == (3999, 638, 3361)
    assert inv.prices_include_tax


def test_vat_per_rate_over_the_document(home):
    c = customer()
    for _ in range(3):
        service(c, tariff(price=333), date(2026, 4, 1))  # 3 x 3.33 at 19 %
    service(c, tariff(price=1000, rate_bp=700), date(2026, 4, 1))  # 10.00 at 7 %
    bill(date(2026, 4, 1))
    inv = Invoice.objects.get(customer=c)
    groups = list(
        InvoiceTax.objects.filter(invoice=inv).values_list("rate_bp", "net_minor", "tax_minor")
    )
    # 19 %: round(9.99 x 0.19 = 1.8981) = 1.90 (per-line rounding would give 3 x 0.63 = 1.89)
    # 7 %: round(10.00 x 0.07) = 0.70
    assert groups == [(700, 1000, 70), (1900, 999, 190)]
    assert inv.total_minor == 1000 + 999 + 70 + 190


def test_numbering_restarts_with_the_year(home):
    c1, c2 = customer(), customer()
    service(c1, tariff(), date(2026, 12, 1))
    bill(date(2026, 12, 1))
    service(c2, tariff(), date(2027, 1, 1))
    bill(date(2027, 1, 1))
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == ["202601000001", "202701000001", "202701000002"]


def test_catch_up_processes_every_missed_billing_date_in_order(home):
    c = customer()
    service(c, tariff(price=3000), date(2026, 1, 1))
    bill(date(2026, 1, 1))
    summary = bill(date(2026, 4, 1))  # the server was down in February and March
    invs = list(Invoice.objects.filter(customer=c).order_by("number"))
    assert [i.billing_date for i in invs] == [date(2026, m, 1) for m in (1, 2, 3, 4)]
    assert summary.stats.invoices_issued == 3


def test_second_run_has_nothing_to_do_and_changes_nothing(home):
    c = customer()
    service(c, tariff(), date(2026, 3, 15))
    bill(date(2026, 4, 1))
    before = snapshot()
    again = bill(date(2026, 4, 1))
    assert again.nothing_to_do
    assert snapshot() == before


def snapshot():
    return (
        sorted(Invoice.objects.values_list("number", "customer_id", "total_minor", "billing_date")),
        sorted(
            Charge.objects.values_list(
                "service_id", "kind", "period_start", "amount_minor", "invoice__number"
            )
        ),
        sorted(Posting.objects.values_list("account", "customer_id", "amount_minor")),
    )


def _population():
    c_ids = []
    for i in range(7):
        c = customer()
        service(c, tariff(price=1000 + i), date(2026, 2, 3 + i))
        c_ids.append(c.pk)
    return c_ids


def test_a_run_that_fails_halfway_and_is_restarted_equals_one_clean_run(home, monkeypatch):
    _population()
    clean = None
    # First: a clean run, remembered, then undone by the test transaction's savepoint.
    from django.db import transaction

    sid = transaction.savepoint()
    bill(date(2026, 4, 1), chunk_size=2)
    clean = snapshot()
    transaction.savepoint_rollback(sid)
    assert Invoice.objects.count() == 0

    def crash(n):
        if n == 2:
            raise RuntimeError("simulated crash after two chunks")

    monkeypatch.setattr(run_module, "after_chunk_hook", crash)
    with pytest.raises(RuntimeError):
        bill(date(2026, 4, 1), chunk_size=2)
    assert BillingRun.objects.get().status == "failed"
    assert 0 < Invoice.objects.count() < len(clean[0])
    monkeypatch.setattr(run_module, "after_chunk_hook", None)
    bill(date(2026, 4, 1), chunk_size=2)
    assert snapshot() == clean
    assert invariants_check()[1] == []


def test_dry_run_writes_nothing_but_shows_the_totals(home):
    c = customer()
    service(c, tariff(price=3000), date(2026, 4, 1))
    summary = bill(date(2026, 4, 1), dry_run=True)
    assert summary.dry_run and summary.stats.invoices_issued == 1
    assert summary.stats.totals == {"EUR": 3570}  # 30.00 + 19 % VAT
    assert summary.stats.per_partner["Main"]["total_minor"] == 3570
    assert (
        not Invoice.objects.exists()
        and not Charge.objects.exists()
        and not BillingRun.objects.exists()
    )
    bill(date(2026, 4, 1))
    assert Invoice.objects.get().number == "202601000001"  # the dry run consumed no number


def test_one_time_charge_goes_on_the_next_invoice(home):
    c = customer()
    service(c, tariff(price=3000), date(2026, 4, 1))
    bill(date(2026, 4, 1))
    OneTimeCharge.objects.create(
        partner=home,
        customer=c,
        description="Installation",
        unit_price_minor=4900,
        tax_rate=tax(home),
        charge_date=date(2026, 4, 12),
    )
    bill(date(2026, 5, 1))
    inv = Invoice.objects.get(customer=c, billing_date=date(2026, 5, 1))
    assert ("Installation", None, None, 4900) in lines(inv)


def test_zero_total_invoice_is_not_issued_and_its_charges_wait(home):
    c = customer()
    s = service(
        c, tariff(price=3000), date(2026, 4, 1), discount_bp=10000, discount_until=date(2026, 4, 30)
    )
    bill(date(2026, 4, 1))
    assert not Invoice.objects.filter(customer=c).exists()
    zero = Charge.objects.get(service=s)
    assert zero.amount_minor == 0 and zero.invoice_id is None
    bill(date(2026, 5, 1))
    inv = Invoice.objects.get(customer=c)
    assert Charge.objects.filter(invoice=inv).count() == 2  # the waiting charge came along
    assert inv.net_minor == 3000


def test_blocked_customers_are_billed_inactive_are_not(home):
    blocked, inactive = customer(status="blocked"), customer(status="inactive")
    for c in (blocked, inactive):
        service(c, tariff(), date(2026, 4, 1))
    bill(date(2026, 4, 1))
    assert Invoice.objects.filter(customer=blocked).exists()
    assert not Invoice.objects.filter(customer=inactive).exists()
    # Reactivated later, the inactive months are not charged afterwards.
    type(inactive).objects.filter(pk=inactive.pk).update(status="active")
    bill(date(2026, 5, 1))
    inv = Invoice.objects.get(customer=inactive)
    assert [ln[1] for ln in lines(inv)] == [date(2026, 5, 1)]


def test_paused_service_is_not_charged(home):
    c = customer()
    s = service(c, tariff(), date(2026, 4, 1), status="paused")
    bill(date(2026, 4, 1))
    assert not Charge.objects.filter(service=s).exists()


def test_issued_invoice_is_immutable(home):
    c = customer()
    service(c, tariff(), date(2026, 4, 1))
    bill(date(2026, 4, 1))
    inv = Invoice.objects.get()
    inv.total_minor = 1
    with pytest.raises(ImmutableDocumentError):
        inv.save()
    with pytest.raises(ImmutableDocumentError):
        inv.delete()
    inv.refresh_from_db()
    inv.notes = "called the customer"
    inv.save(update_fields=["notes"])


def test_unique_constraint_guards_charges_even_if_code_misbehaves(home):
    from django.db import IntegrityError, transaction

    c = customer()
    s = service(c, tariff(), date(2026, 4, 1))
    bill(date(2026, 4, 1))
    ch = Charge.objects.get(service=s)
    ch.pk = None
    ch.invoice = None
    with pytest.raises(IntegrityError), transaction.atomic():
        ch.save()


def test_run_totals_and_history(home):
    c = customer()
    service(c, tariff(price=3000), date(2026, 4, 1))
    summary = bill(date(2026, 4, 1))
    run = BillingRun.objects.get(pk=summary.run_id)
    assert run.status == "done" and run.invoices_issued == 1 and run.totals == {"EUR": 3570}
    assert run.chunks_done == run.chunks_total
    assert Invoice.objects.aggregate(s=Sum("total_minor"))["s"] == 3570


def test_stopped_service_is_charged_up_to_its_end_date_postpaid(home):
    from ispbill.subscriptions.services import service_update

    c = customer(payment_period="postpaid")
    s = service(c, tariff(price=3000), date(2026, 3, 1))
    bill(date(2026, 4, 1))  # March, in arrears
    service_update(service=s, end_date=date(2026, 4, 10), status="stopped")
    bill(date(2026, 5, 1))
    # April: 10 of 30 days of 30.00 = 10.00, then nothing more.
    assert [
        ln[3] for ln in lines(Invoice.objects.get(customer=c, billing_date=date(2026, 5, 1)))
    ] == [1000]
    bill(date(2026, 6, 1))
    assert Invoice.objects.filter(customer=c).count() == 2


def test_check_reports_a_reference_the_database_does_not_constrain(home):
    """Charges and ledger rows reference partners and tariffs without a database constraint
    (the billing run's speed); ``ispbill check`` finds one that points nowhere."""
    c = customer()
    service(c, tariff(price=3000), date(2026, 4, 1))
    bill(date(2026, 4, 1))
    assert invariants_check()[1] == []
    charge = Charge.objects.get()
    Charge.objects.filter(pk=charge.pk).update(tariff_id=999_999)
    breaches = invariants_check()[1]
    assert [(b.check, b.ids) for b in breaches] == [("data.references", (f"charge:{charge.pk}",))]


def test_check_reports_a_line_or_posting_pointing_at_no_document(home):
    """Invoice lines and postings reference their invoice and entry without a database
    constraint; a row pointing at a missing one is reported by ``ispbill check``."""
    c = customer()
    service(c, tariff(price=3000), date(2026, 4, 1))
    bill(date(2026, 4, 1))
    line = InvoiceLine.objects.get()
    posting = Posting.objects.order_by("pk").first()
    assert posting is not None
    InvoiceLine.objects.filter(pk=line.pk).update(invoice_id=999_999)
    Posting.objects.filter(pk=posting.pk).update(entry_id=999_998)
    found = sorted((b.check, b.ids) for b in invariants_check()[1] if b.check == "data.references")
    assert found == [
        ("data.references", (f"invoiceline:{line.pk}",)),
        ("data.references", (f"posting:{posting.pk}",)),
    ]


def _raw_delete(table: str, pk: int) -> None:
    """A DELETE that bypasses the models (and Django's PROTECT)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {table} WHERE id = %s", [pk])


def test_the_database_refuses_to_delete_an_invoice_or_a_journal_entry(home):
    """The references to invoices and entries are not constrained; instead, on both
    databases, no DELETE of an invoice or an entry gets through, even one bypassing the
    models (every reference: tests/core/test_reference_guards.py)."""
    from django.db import IntegrityError, transaction

    from ispbill.ledger.models import JournalEntry

    c = customer()
    service(c, tariff(price=3000), date(2026, 4, 1))
    bill(date(2026, 4, 1))
    invoice = Invoice.objects.get()
    entry_id = JournalEntry.objects.order_by("pk").values_list("pk", flat=True)[0]
    for table, pk in [("invoicing_invoice", invoice.pk), ("ledger_journalentry", entry_id)]:
        with pytest.raises(IntegrityError, match="never deleted"), transaction.atomic():
            _raw_delete(table, pk)
    with pytest.raises(ImmutableDocumentError):
        invoice.delete()
    assert Invoice.objects.count() == 1 and InvoiceLine.objects.count() == 1


def test_the_database_refuses_to_delete_a_customer_or_service_still_referred_to(home):
    """Charges, invoices and postings refer to customers and services without a database
    constraint; on both databases a trigger refuses to delete one while anything refers to
    it, as the constraint did, and lets an unreferenced one go."""
    from django.db import IntegrityError, transaction

    from ispbill.customers.models import Customer
    from ispbill.subscriptions.models import Service

    c = customer()
    s = service(c, tariff(price=3000), date(2026, 4, 1))
    bill(date(2026, 4, 1))
    for table, pk in [("customers_customer", c.pk), ("subscriptions_service", s.pk)]:
        with pytest.raises(IntegrityError, match="still referenced"), transaction.atomic():
            _raw_delete(table, pk)
    assert Customer.objects.filter(pk=c.pk).exists() and Service.objects.filter(pk=s.pk).exists()
    unbilled = customer()
    _raw_delete("customers_customer", unbilled.pk)
    assert not Customer.objects.filter(pk=unbilled.pk).exists()
