"""Dunning as Splynx: blocked after the blocking period, active again on payment."""

from __future__ import annotations

from datetime import date

import pytest
from django.core import mail

from ispbill.billing.run import billing_run_start
from ispbill.core.money import Money
from ispbill.customers.models import Customer, Reminder
from ispbill.dunning.services import dunning_run
from ispbill.partners.models import Partner
from ispbill.payments.services import payment_record
from tests.billing.builders import customer, service, tariff

pytestmark = pytest.mark.django_db


@pytest.fixture
def overdue(home):
    # Invoice of 35.70 issued 1 April, due 15 April; blocking after 10 days, deactivation 60.
    c = customer()
    service(c, tariff(price=3000), date(2026, 4, 1))
    billing_run_start(run_date=date(2026, 4, 1))
    return c


def status(c):
    return Customer.objects.get(pk=c.pk).status


def test_blocking_after_the_blocking_period_and_unblocking_by_payment(overdue):
    c = overdue
    dunning_run(today=date(2026, 4, 16))  # overdue by 1 day
    assert status(c) == "active"
    dunning_run(today=date(2026, 4, 25))  # 10 days late: not yet past the period
    assert status(c) == "active"
    result = dunning_run(today=date(2026, 4, 26))  # 11 days late
    assert status(c) == "blocked" and result.blocked == [c.pk]
    payment_record(
        customer=c, amount=Money.parse("20.00", "EUR"), on=date(2026, 4, 27), reference="A"
    )
    assert status(c) == "blocked"  # still overdue
    payment_record(
        customer=c, amount=Money.parse("15.70", "EUR"), on=date(2026, 4, 28), reference="B"
    )
    assert status(c) == "active"


def test_blocked_customers_are_still_billed(overdue):
    c = overdue
    dunning_run(today=date(2026, 4, 26))
    billing_run_start(run_date=date(2026, 5, 1))
    assert c.invoices.count() == 2


def test_deactivation_after_the_deactivation_period(overdue):
    c = overdue
    dunning_run(today=date(2026, 6, 15))  # 61 days late
    assert status(c) == "inactive"


def test_never_block_when_the_blocking_period_is_empty(overdue, home):
    Partner.objects.filter(pk=home.pk).update(blocking_days=None, deactivation_days=None)
    dunning_run(today=date(2026, 12, 1))
    assert status(overdue) == "active"


def test_minimum_balance(home):
    c = customer(min_balance_minor=-5000)  # may owe up to 50.00
    service(c, tariff(price=3000), date(2026, 4, 1))
    billing_run_start(run_date=date(2026, 4, 1))
    Partner.objects.filter(pk=home.pk).update(blocking_days=None)
    dunning_run(today=date(2026, 4, 20))
    assert status(c) == "active"  # owes 35.70 > -50.00
    billing_run_start(run_date=date(2026, 5, 1))
    dunning_run(today=date(2026, 5, 20))
    assert status(c) == "blocked"  # owes 71.40, below -50.00, past due


def test_reminders_on_days_3_5_7_once_each(overdue, django_capture_on_commit_callbacks):
    for day in range(16, 26):
        with django_capture_on_commit_callbacks(execute=True):
            dunning_run(today=date(2026, 4, day))
    assert sorted(Reminder.objects.values_list("days_after_due", flat=True)) == [3, 5, 7]
    assert len(mail.outbox) == 3
    assert "Payment reminder" in mail.outbox[0].subject
    dunning_run(today=date(2026, 4, 18))
    assert len(mail.outbox) == 3


def test_one_customer_failing_to_block_does_not_stop_the_others(home, monkeypatch):
    """Fault isolation: blocking raises for one customer (here its RADIUS sync); it is
    recorded and skipped, the other is blocked; the next dunning run retries it."""
    from ispbill.billing.models import BillingFailure
    from ispbill.radius import receivers

    good, bad = customer(), customer()
    for c in (good, bad):
        service(c, tariff(price=3000), date(2026, 4, 1))
    billing_run_start(run_date=date(2026, 4, 1))
    real = receivers.radius_sync_customers

    def sync(*, customer_ids):
        if bad.pk in list(customer_ids):
            raise RuntimeError("router refused the change")
        return real(customer_ids=customer_ids)

    monkeypatch.setattr(receivers, "radius_sync_customers", sync)
    result = dunning_run(today=date(2026, 4, 26))
    assert result.blocked == [good.pk]
    assert (status(good), status(bad)) == ("blocked", "active")
    failure = BillingFailure.objects.get()
    assert (failure.stage, failure.customer_id, failure.run_id) == ("dunning", bad.pk, None)
    assert failure.error == "RuntimeError: router refused the change"
    assert [f.customer_id for f in result.failures] == [bad.pk]

    monkeypatch.setattr(receivers, "radius_sync_customers", real)
    again = dunning_run(today=date(2026, 4, 27))
    assert again.blocked == [bad.pk] and again.failures == []
    failure.refresh_from_db()
    assert failure.resolved_at is not None


def test_one_failing_reminder_is_recorded_and_the_others_are_sent(
    home, monkeypatch, django_capture_on_commit_callbacks
):
    from ispbill.billing.models import BillingFailure
    from ispbill.dunning import services as dunning

    good, bad = customer(), customer()
    for c in (good, bad):
        service(c, tariff(price=3000), date(2026, 4, 1))
    billing_run_start(run_date=date(2026, 4, 1))
    real = dunning.reminder_email_context

    def context(inv, **kw):
        if inv.customer_id == bad.pk:
            raise ValueError("a field the template needs is broken")
        return real(inv, **kw)

    monkeypatch.setattr(dunning, "reminder_email_context", context)
    with django_capture_on_commit_callbacks(execute=True):
        result = dunning_run(today=date(2026, 4, 18))  # 3 days after due
    assert result.reminders == 1
    assert [m.to for m in mail.outbox] == [[good.email]]
    assert list(Reminder.objects.values_list("invoice__customer_id", flat=True)) == [good.pk]
    failure = BillingFailure.objects.get()
    assert (failure.stage, failure.customer_id) == ("reminder", bad.pk)
    assert failure.invoice_id == bad.invoices.get().pk
