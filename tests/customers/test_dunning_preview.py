"""Dunning with a preview: the preview is the run itself, rolled back, so what it lists is
exactly what the run then does; an aggregated partner's account blocked or deactivated takes
its sub-customers along (``block_subcustomers``), and its payment brings them back.

Every invoice below is one month of a 30.00 tariff at 19 %: 35.70, issued on 1 April 2026
by the run for that day. The home partner blocks more than 10 days after the due date,
deactivates more than 60 days after it and reminds 3, 5 and 7 days after it. Dunning runs
on 15 June 2026:

- Ada (14 due days): due 15 April, 61 days late -> deactivated (not "to be blocked": the
  demo's page counted her among 72 to block, and the run deactivated her);
- Ben (60 due days): due 31 May, 15 days late -> blocked;
- Cleo (70 due days): due 10 June, 5 days late -> reminded (day 5);
- Dora (80 due days): due 20 June, not overdue -> nothing;
- WISP (aggregated, monthly on the 1st, block sub-customers): its account's invoice for
  three sub-customers, 3 x 30.00 = 90.00 + 17.10 VAT = 107.10, due 15 April, 61 days late
  -> the account is deactivated and its two active sub-customers blocked; the third,
  blocked by hand after the invoice, is left alone (and stays blocked when WISP pays)."""

from __future__ import annotations

from datetime import date

import pytest
from django.core import mail

from ispbill.billing.models import BillingFailure
from ispbill.billing.run import billing_run_start
from ispbill.core.models import AuditEvent
from ispbill.core.money import Money
from ispbill.customers.models import Customer, CustomerStatus, Reminder
from ispbill.customers.services import customer_status_set
from ispbill.dunning.services import DunningError, dunning_run
from ispbill.invoicing.models import EmailDelivery, Invoice
from ispbill.partners.models import Partner, PartnerMode
from ispbill.payments.services import payment_record
from tests.billing.builders import customer, service, tariff
from tests.factories import partner_with_account

pytestmark = pytest.mark.django_db
APR1, JUN15 = date(2026, 4, 1), date(2026, 6, 15)


@pytest.fixture
def book(home):
    plan = tariff(price=3000)
    people = {}
    for name, due_days in (("Ada", 14), ("Ben", 60), ("Cleo", 70), ("Dora", 80)):
        c = customer(name=name, payment_due_days=due_days)
        service(c, plan, APR1)
        people[name] = c
    wisp = partner_with_account(
        name="WISP", mode=PartnerMode.AGGREGATED, aggregation_day=1, block_subcustomers=True
    )
    subs = [customer(wisp, name=f"Sub {n}") for n in (1, 2, 3)]
    for s in subs:
        service(s, plan, APR1)
    billing_run_start(run_date=APR1)
    customer_status_set(customer=subs[2], status=CustomerStatus.BLOCKED, reason="by hand")
    people.update(wisp=wisp, account=wisp.account, subs=subs)
    return people


def statuses() -> dict[str, str]:
    return dict(Customer.objects.values_list("name", "status"))


def written() -> tuple[int, ...]:
    return (
        AuditEvent.objects.count(),
        Reminder.objects.count(),
        EmailDelivery.objects.count(),
        BillingFailure.objects.count(),
    )


def test_the_preview_lists_what_the_run_then_does_and_writes_nothing(
    book, django_capture_on_commit_callbacks
):
    account_invoice = Invoice.objects.get(customer=book["account"])
    assert (account_invoice.total_minor, account_invoice.due_date) == (10710, date(2026, 4, 15))
    cleo_invoice = Invoice.objects.get(customer=book["Cleo"])
    assert cleo_invoice.due_date == date(2026, 6, 10)
    before, states = written(), statuses()

    with django_capture_on_commit_callbacks(execute=True):
        preview = dunning_run(today=JUN15, dry_run=True)
    assert preview.dry_run
    sub1, sub2, _sub3 = book["subs"]
    assert preview.deactivated == [book["Ada"].pk, book["account"].pk]
    assert preview.blocked == [book["Ben"].pk]
    assert preview.subcustomers_blocked == [sub1.pk, sub2.pk]
    assert preview.reminded == [(cleo_invoice.pk, 5)]
    assert preview.days_late[book["Ada"].pk] == 61
    assert preview.days_late[book["Ben"].pk] == 15
    assert "deactivated" in preview.reasons[sub1.pk]
    # Rolled back: no status, audit event, reminder, email or failure exists.
    assert written() == before and statuses() == states
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        done = dunning_run(today=JUN15)
    assert not done.dry_run
    for name in ("blocked", "deactivated", "subcustomers_blocked", "reminded"):
        assert getattr(done, name) == getattr(preview, name), name
    assert done.fingerprint() == preview.fingerprint()
    now = statuses()
    assert (now["Ada"], now["Ben"], now["Cleo"], now["Dora"]) == (
        "inactive",
        "blocked",
        "active",
        "active",
    )
    assert now[book["account"].name] == "inactive"
    assert (now["Sub 1"], now["Sub 2"], now["Sub 3"]) == ("blocked", "blocked", "blocked")
    assert [m.to for m in mail.outbox] == [[book["Cleo"].email]]

    # The same day again: nothing left to do, and the preview says so.
    again = dunning_run(today=JUN15, dry_run=True)
    assert again.nothing_to_do


def test_the_partner_pays_and_its_sub_customers_come_back(book):
    dunning_run(today=JUN15)
    sub1 = book["subs"][0]
    assert Customer.objects.get(pk=sub1.pk).blocked_with_partner
    # 100.00 of 107.10: still overdue, everyone stays as they are.
    payment_record(
        customer=book["account"], amount=Money.parse("100.00", "EUR"), on=JUN15, reference="W1"
    )
    assert statuses()["Sub 1"] == "blocked"
    payment_record(
        customer=book["account"], amount=Money.parse("7.10", "EUR"), on=JUN15, reference="W2"
    )
    now = statuses()
    assert now[book["account"].name] == "active"  # deactivated by dunning, paid: active
    assert (now["Sub 1"], now["Sub 2"]) == ("active", "active")
    assert now["Sub 3"] == "blocked"  # blocked by hand, not with the partner
    assert not Customer.objects.filter(blocked_with_partner=True).exists()


def test_an_account_deactivated_before_takes_its_sub_customers_along_later(book):
    """The demo: WISP's account was deactivated while its sub-customers stayed active. The
    next run, while the account is still overdue, blocks them."""
    Customer.objects.filter(pk=book["account"].pk).update(status=CustomerStatus.INACTIVE)
    result = dunning_run(today=date(2026, 4, 20))  # 5 days late: no status change of its own
    sub1, sub2, _ = book["subs"]
    assert result.blocked == [] and result.deactivated == []
    assert result.subcustomers_blocked == [sub1.pk, sub2.pk]


def test_without_block_subcustomers_the_sub_customers_stay(book):
    Partner.objects.filter(pk=book["wisp"].pk).update(block_subcustomers=False)
    result = dunning_run(today=JUN15)
    assert result.subcustomers_blocked == []
    assert (statuses()["Sub 1"], statuses()["Sub 2"]) == ("active", "active")


def test_an_operator_unblocking_the_account_by_hand_unblocks_its_sub_customers(book):
    dunning_run(today=date(2026, 4, 26))  # 11 days late: the account is blocked
    assert statuses()["Sub 1"] == "blocked"
    customer_status_set(customer=book["account"], status=CustomerStatus.ACTIVE)
    assert (statuses()["Sub 1"], statuses()["Sub 2"], statuses()["Sub 3"]) == (
        "active",
        "active",
        "blocked",
    )


@pytest.fixture
def alpenfunk(home):
    """An own-invoicing partner with one customer: 20.00 at 19 % = 23.80, issued 1 April,
    due 15 April (14 days); blocked more than 10 days after (its own settings)."""
    alp = Partner.objects.create(name="Alpenfunk", mode=PartnerMode.OWN_INVOICING)
    c = customer(alp, name="Alp customer")
    service(c, tariff(alp, price=2000), APR1)
    billing_run_start(run_date=APR1, issuer=alp)
    assert Invoice.objects.get(customer=c).total_minor == 2380
    return alp, c


def test_an_own_invoicing_partner_runs_its_own_dunning(alpenfunk, home):
    alp, alp_customer = alpenfunk
    mine = customer(name="Operator's customer")
    service(mine, tariff(price=3000), APR1)
    billing_run_start(run_date=APR1)
    day = date(2026, 4, 26)  # both 11 days late

    operator = dunning_run(today=day, dry_run=True)
    assert operator.blocked == [mine.pk]  # Alpenfunk runs its own: not the operator's
    own = dunning_run(today=day, dry_run=True, issuer=alp)
    assert own.blocked == [alp_customer.pk]
    assert dunning_run(today=day, issuer=alp).blocked == [alp_customer.pk]
    assert statuses() == {"Alp customer": "blocked", "Operator's customer": "active"}

    # Set to go with the operator's runs, the operator's run covers it.
    Partner.objects.filter(pk=alp.pk).update(runs_own_billing=False)
    customer_status_set(customer=alp_customer, status=CustomerStatus.ACTIVE)
    assert dunning_run(today=day, dry_run=True).blocked == [alp_customer.pk, mine.pk]


def test_only_an_own_invoicing_partner_runs_dunning(home):
    wisp = partner_with_account(name="WISP", mode=PartnerMode.AGGREGATED)
    with pytest.raises(DunningError):
        dunning_run(today=JUN15, dry_run=True, issuer=wisp)
