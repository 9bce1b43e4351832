"""Plan changes end to end (docs/billing.md "Changing plan"): the worked examples of the docs
with their figures by hand, scheduling, the preview, the exactly-once guard and RADIUS."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import IntegrityError, transaction

from ispbill.billing.models import Charge, PlanChange
from ispbill.billing.plan_changes import (
    NEXT_BILLING_DATE,
    PlanChangeError,
    plan_change_cancel,
    plan_change_effective_date,
    plan_change_outcome,
    plan_change_preview,
    plan_change_request,
    plan_changes_apply_due,
)
from ispbill.billing.run import billing_run_start
from ispbill.core.invariants import invariants_check
from ispbill.core.models import AuditEvent
from ispbill.invoicing.models import CreditNote, Invoice, InvoiceLine
from ispbill.partners.models import Partner
from ispbill.subscriptions.models import OneTimeCharge, Service

from .builders import customer, service, tariff, tax

pytestmark = pytest.mark.django_db


def lines(invoice: Invoice) -> list[tuple[str, date | None, date | None, int]]:
    return list(
        InvoiceLine.objects.filter(invoice=invoice)
        .order_by("position")
        .values_list("description", "period_start", "period_end", "amount_minor")
    )


def figures(doc: Invoice | CreditNote) -> tuple[int, int, int]:
    return (doc.net_minor, doc.tax_minor, doc.total_minor)


def setting(home: Partner, **fields: object) -> None:
    Partner.objects.filter(pk=home.pk).update(**fields)


def test_upgrade_mid_month_prepaid_credit_note(home):
    """Internet 50 at 30.00 to Internet 100 at 45.00 from 17 March, prepaid, billing day 1.
    March was invoiced on 1 March: 15 of its 31 days are given back by a credit note on that
    invoice, and charged at 45.00 on the next invoice."""
    c = customer()
    slow, fast = tariff(price=3000, name="Internet 50"), tariff(price=4500, name="Internet 100")
    s = service(c, slow, date(2026, 3, 1))
    billing_run_start(run_date=date(2026, 3, 1))
    march = Invoice.objects.get(customer=c, billing_date=date(2026, 3, 1))
    assert figures(march) == (3000, 570, 3570)

    change, outcome = plan_change_request(
        service=s, tariff=fast, effective=date(2026, 3, 17), today=date(2026, 3, 17)
    )
    assert change.status == "applied"
    # Given back: 30.00 x 15 / 31 = 14.516 -> 14.52; VAT 19 % of it 2.7588 -> 2.76.
    cn = CreditNote.objects.get(invoice=march)
    assert figures(cn) == (1452, 276, 1728)
    assert list(cn.lines.values_list("amount_minor", flat=True)) == [1452]
    # Charged: 45.00 x 15 / 31 = 21.774 -> 21.77, on the next invoice.
    assert outcome is not None
    assert [(x.kind, x.period_start, x.amount_minor, x.settled_by) for x in outcome.lines] == [
        ("credit", date(2026, 3, 17), -1452, "credit note"),
        ("charge", date(2026, 3, 17), 2177, "next invoice"),
    ]
    s.refresh_from_db()
    assert (s.tariff_id, s.description, s.charged_through) == (
        fast.pk,
        "Internet 100",
        date(2026, 4, 1),
    )

    billing_run_start(run_date=date(2026, 4, 1))
    april = Invoice.objects.get(customer=c, billing_date=date(2026, 4, 1))
    assert lines(april) == [
        ("Internet 100", date(2026, 3, 17), date(2026, 3, 31), 2177),
        ("Internet 100", date(2026, 4, 1), date(2026, 4, 30), 4500),
    ]
    # 66.77 net, VAT 12.6863 -> 12.69.
    assert figures(april) == (6677, 1269, 7946)
    assert invariants_check()[1] == []


def test_downgrade_mid_month_prepaid_negative_line(home):
    """Internet 100 at 45.00 to Internet 50 at 30.00 from 17 March, the issuer crediting on
    the next invoice: a negative line of 45.00 x 15 / 31 = 21.77 beside 30.00 x 15 / 31 =
    14.52 and April's 30.00."""
    setting(home, plan_change_credit="next_invoice")
    c = customer()
    slow, fast = tariff(price=3000, name="Internet 50"), tariff(price=4500, name="Internet 100")
    s = service(c, fast, date(2026, 3, 1))
    billing_run_start(run_date=date(2026, 3, 1))
    plan_change_request(
        service=s, tariff=slow, effective=date(2026, 3, 17), today=date(2026, 3, 17)
    )
    assert not CreditNote.objects.filter(customer=c).exists()
    billing_run_start(run_date=date(2026, 4, 1))
    april = Invoice.objects.get(customer=c, billing_date=date(2026, 4, 1))
    assert lines(april) == [
        ("Internet 100 (credit for days not used)", date(2026, 3, 17), date(2026, 3, 31), -2177),
        ("Internet 50", date(2026, 3, 17), date(2026, 3, 31), 1452),
        ("Internet 50", date(2026, 4, 1), date(2026, 4, 30), 3000),
    ]
    # 14.52 - 21.77 + 30.00 = 22.75 net; VAT 4.3225 -> 4.32.
    assert figures(april) == (2275, 432, 2707)
    assert invariants_check()[1] == []


def test_upgrade_mid_month_postpaid(home):
    """Postpaid: nothing was charged ahead. February was invoiced on 1 March; the change on
    17 March charges 1-16 March at the old 30.00 (30.00 x 16 / 31 = 15.48) and the run on
    1 April 17-31 March at the new 45.00 (21.77)."""
    c = customer(payment_period="postpaid")
    slow, fast = tariff(price=3000, name="Internet 50"), tariff(price=4500, name="Internet 100")
    s = service(c, slow, date(2026, 2, 1))
    billing_run_start(run_date=date(2026, 3, 1))
    feb = Invoice.objects.get(customer=c, billing_date=date(2026, 3, 1))
    assert lines(feb) == [("Internet 50", date(2026, 2, 1), date(2026, 2, 28), 3000)]
    _change, outcome = plan_change_request(
        service=s, tariff=fast, effective=date(2026, 3, 17), today=date(2026, 3, 17)
    )
    assert outcome is not None and outcome.credited_minor == 0
    billing_run_start(run_date=date(2026, 4, 1))
    april = Invoice.objects.get(customer=c, billing_date=date(2026, 4, 1))
    assert lines(april) == [
        ("Internet 50", date(2026, 3, 1), date(2026, 3, 16), 1548),
        ("Internet 100", date(2026, 3, 17), date(2026, 3, 31), 2177),
    ]
    # 37.25 net, VAT 7.0775 -> 7.08.
    assert figures(april) == (3725, 708, 4433)
    assert invariants_check()[1] == []


def test_quarterly_upgrade_invoiced_at_once_with_a_fee(home):
    """A quarterly tariff at 90.00 (1 January - 31 March, 90 days, invoiced on 1 January) to
    one at 120.00 from 15 February, the issuer invoicing changes at once and charging 9.90
    for an upgrade. Given back: 45 of 90 days, 45.00 (+ 8.55 VAT) by credit note; charged at
    once: 120.00 x 45 / 90 = 60.00 and the fee 9.90, 69.90 + 13.281 -> 13.28 VAT."""
    rate = tax(home)
    setting(home, plan_change_invoicing="at_once", fee_upgrade_minor=990, fee_tax_rate=rate)
    c = customer()
    q1, q2 = (
        tariff(price=9000, months=3, name="Quarter 50"),
        tariff(price=12000, months=3, name="Quarter 100"),
    )
    s = service(c, q1, date(2026, 1, 1))
    billing_run_start(run_date=date(2026, 1, 1))
    january = Invoice.objects.get(customer=c, billing_date=date(2026, 1, 1))
    assert figures(january) == (9000, 1710, 10710)

    change, outcome = plan_change_request(
        service=s, tariff=q2, effective=date(2026, 2, 15), today=date(2026, 2, 15)
    )
    assert figures(CreditNote.objects.get(invoice=january)) == (4500, 855, 5355)
    now = change.invoice
    assert now is not None and now.kind == "one_off" and now.issue_date == date(2026, 2, 15)
    assert lines(now) == [
        ("Quarter 100", date(2026, 2, 15), date(2026, 3, 31), 6000),
        ("Upgrade fee: Quarter 50 to Quarter 100", None, None, 990),
    ]
    assert figures(now) == (6990, 1328, 8318)
    assert outcome is not None
    assert [(d.kind, d.total_minor) for d in outcome.documents] == [
        ("credit note", 5355),
        ("invoice", 8318),
    ]
    fee = OneTimeCharge.objects.get(customer=c)
    assert (fee.fee, fee.service_id, change.fee_id) == ("upgrade", s.pk, fee.pk)

    billing_run_start(run_date=date(2026, 4, 1))
    april = Invoice.objects.get(customer=c, billing_date=date(2026, 4, 1))
    # The fee is not charged again; the next quarter at the new price.
    assert lines(april) == [("Quarter 100", date(2026, 4, 1), date(2026, 6, 30), 12000)]
    assert invariants_check()[1] == []


def test_scheduled_change_is_applied_by_the_daily_work_on_its_day(home):
    """Asked on 20 March for the next billing date (1 April): scheduled, then applied before
    that day's run, so April is simply charged at the new price (nothing to give back)."""
    from ispbill.dunning.daily import daily_work

    c = customer()
    slow, fast = tariff(price=3000, name="Internet 50"), tariff(price=4500, name="Internet 100")
    s = service(c, slow, date(2026, 3, 1))
    billing_run_start(run_date=date(2026, 3, 1))
    effective = plan_change_effective_date(
        service=s, when=NEXT_BILLING_DATE, today=date(2026, 3, 20)
    )
    assert effective == date(2026, 4, 1)
    change, outcome = plan_change_request(
        service=s, tariff=fast, effective=effective, today=date(2026, 3, 20)
    )
    assert (change.status, outcome) == ("scheduled", None)
    assert Service.objects.get(pk=s.pk).tariff_id == slow.pk
    assert plan_changes_apply_due(on=date(2026, 3, 31)).applied == []

    daily_work(today=date(2026, 4, 1))
    change.refresh_from_db()
    assert change.status == "applied"
    april = Invoice.objects.get(customer=c, billing_date=date(2026, 4, 1))
    assert lines(april) == [("Internet 100", date(2026, 4, 1), date(2026, 4, 30), 4500)]
    assert not CreditNote.objects.filter(customer=c).exists()
    shown = plan_change_outcome(change)
    assert shown is not None
    assert [(x.kind, x.amount_minor) for x in shown.lines] == [("charge", 4500)]


def test_a_scheduled_change_can_be_cancelled_until_it_applies(home):
    c = customer()
    slow, fast = tariff(price=3000), tariff(price=4500)
    s = service(c, slow, date(2026, 3, 1))
    change, _ = plan_change_request(
        service=s, tariff=fast, effective=date(2026, 4, 10), today=date(2026, 3, 20)
    )
    with pytest.raises(PlanChangeError, match="scheduled for 2026-04-10"):
        plan_change_request(
            service=s,
            tariff=tariff(price=5000),
            effective=date(2026, 4, 1),
            today=date(2026, 3, 20),
        )
    plan_change_cancel(change=change, actor="support")
    assert PlanChange.objects.get(pk=change.pk).status == "cancelled"
    assert plan_changes_apply_due(on=date(2026, 4, 10)).applied == []
    assert Service.objects.get(pk=s.pk).tariff_id == slow.pk
    with pytest.raises(PlanChangeError, match="only a scheduled change"):
        plan_change_cancel(change=change)
    assert list(
        AuditEvent.objects.filter(object_id=str(change.pk), object_type="billing.planchange")
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["plan_change.requested", "plan_change.cancelled"]


def test_a_scheduled_change_of_a_stopped_service_is_cancelled_with_the_reason(home):
    c = customer()
    s = service(c, tariff(price=3000), date(2026, 3, 1))
    change, _ = plan_change_request(
        service=s, tariff=tariff(price=4500), effective=date(2026, 4, 10), today=date(2026, 3, 20)
    )
    Service.objects.filter(pk=s.pk).update(status="stopped", end_date=date(2026, 3, 31))
    result = plan_changes_apply_due(on=date(2026, 4, 10))
    assert result.cancelled == [change.pk]
    event = AuditEvent.objects.get(action="plan_change.cancelled", object_id=str(change.pk))
    assert event.changes["reason"] == "the service is stopped"


def test_preview_is_the_change_and_keeps_nothing(home):
    c = customer()
    slow, fast = tariff(price=3000, name="Internet 50"), tariff(price=4500, name="Internet 100")
    s = service(c, slow, date(2026, 3, 1))
    billing_run_start(run_date=date(2026, 3, 1))
    counts = (Charge.objects.count(), CreditNote.objects.count(), PlanChange.objects.count())
    events = AuditEvent.objects.count()
    preview = plan_change_preview(
        service=s, tariff=fast, effective=date(2026, 3, 17), today=date(2026, 3, 17)
    )
    assert preview.status == "preview" and preview.change_id is None
    assert [(x.kind, x.amount_minor) for x in preview.lines] == [
        ("credit", -1452),
        ("charge", 2177),
    ]
    assert [(d.kind, d.reference, d.total_minor) for d in preview.documents] == [
        ("credit note", Invoice.objects.get(customer=c).number, 1728)
    ]
    assert (
        Charge.objects.count(),
        CreditNote.objects.count(),
        PlanChange.objects.count(),
    ) == counts
    assert AuditEvent.objects.count() == events
    assert Service.objects.get(pk=s.pk).tariff_id == slow.pk
    _change, applied = plan_change_request(
        service=s, tariff=fast, effective=date(2026, 3, 17), today=date(2026, 3, 17)
    )
    assert applied is not None
    assert applied.lines == preview.lines and applied.documents == preview.documents
    # The credit note takes the number the preview did not keep.
    assert CreditNote.objects.get(customer=c).number.endswith("000001")


def test_preview_refuses_what_the_change_refuses(home):
    c = customer()
    s = service(c, tariff(price=3000), date(2026, 3, 1))
    with pytest.raises(PlanChangeError, match="today or later"):
        plan_change_preview(
            service=s, tariff=tariff(price=4500), effective=date(2026, 3, 1), today=date(2026, 3, 2)
        )
    Service.objects.filter(pk=s.pk).update(status="paused")
    with pytest.raises(PlanChangeError, match="Resume it first"):
        plan_change_preview(
            service=Service.objects.get(pk=s.pk),
            tariff=tariff(price=4500),
            effective=date(2026, 3, 2),
            today=date(2026, 3, 2),
        )


def test_the_guard_refuses_a_second_charge_of_a_period_start(home):
    """The (service, period) guard still holds: a charge given back from a later day keeps
    its period start, and a second live charge of it is refused by the database."""
    c = customer()
    s = service(c, tariff(price=3000), date(2026, 3, 1))
    billing_run_start(run_date=date(2026, 3, 1))
    plan_change_request(
        service=s, tariff=tariff(price=4500), effective=date(2026, 3, 17), today=date(2026, 3, 17)
    )
    first = Charge.objects.get(service=s, period_start=date(2026, 3, 1))
    assert first.credited_from == date(2026, 3, 17)
    again = Charge.objects.get(service=s, period_start=date(2026, 3, 17), credit_of__isnull=True)
    again.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        again.save()
    # Two changes the same day: the second gives back the first's charge from its first day.
    plan_change_request(
        service=s, tariff=tariff(price=6000), effective=date(2026, 3, 17), today=date(2026, 3, 17)
    )
    live = Charge.objects.filter(
        service=s, credit_of__isnull=True, period_start=date(2026, 3, 17)
    ).values_list("amount_minor", "credited_from")
    # 45.00 x 15 / 31 = 21.77 given back whole; 60.00 x 15 / 31 = 29.03 charged.
    assert sorted(live) == [(2177, date(2026, 3, 17)), (2903, None)]
    assert invariants_check()[1] == []
