"""The operational CLI commands on the embedded database: bill, customer, dunning,
statements, scheduler (their outputs and exit codes, figures worked by hand)."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine

from ispbill.cli import main
from ispbill.core.money import Money
from ispbill.customers.models import Customer, CustomerStatus
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import CommissionStatement, PartnerMode
from ispbill.payments.services import payment_record
from tests.billing.builders import customer, service, tariff
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(home):
    """A home customer on 30.00 at 19 % (35.70 a month) and CityNet's customer on the same
    tariff, 10 % commission of payments; both from 1 March 2026."""
    plan = tariff(home, price=3000)
    city = PartnerFactory(name="CityNet", mode=PartnerMode.PERCENTAGE, commission_bp=1000)
    plan.available_to.add(city)
    alice, bob = customer(), customer(city)
    Customer.objects.filter(pk=alice.pk).update(reference="ALICE")
    Customer.objects.filter(pk=bob.pk).update(reference="BOB")
    alice.refresh_from_db()
    bob.refresh_from_db()
    service(alice, plan, date(2026, 3, 1))
    service(bob, plan, date(2026, 3, 1))
    return alice, bob


def test_bill_then_customer(world, capsys):
    alice, _bob = world
    assert main(["bill", "--date", "2026-03-01", "--dry-run"]) == 0
    assert "nothing written" in capsys.readouterr().out.lower()
    assert not Invoice.objects.exists()
    assert main(["bill", "--date", "2026-03-01", "-v"]) == 0
    out = capsys.readouterr().out
    assert "Billing run" in out and "2026-03-01" in out
    assert Invoice.objects.count() == 2
    assert main(["bill", "--date", "2026-03-01"]) == 0
    assert "nothing left to do" in capsys.readouterr().out

    with time_machine.travel(date(2026, 3, 20)):
        assert main(["customer", "ALICE", "--from", "2026-03-01", "--to", "2026-03-31"]) == 0
    out = capsys.readouterr().out
    number = Invoice.objects.get(customer=alice).number
    assert "Balance: -35.70 EUR" in out
    assert f"open {number}" in out and "OVERDUE" in out  # due 15 March
    assert "Closing balance: -35.70 EUR" in out
    assert main(["customer", "NOBODY"]) == 2
    assert "no customer" in capsys.readouterr().err


def test_a_catch_up_needs_confirming(world, capsys):
    """Up to 1 May: three billing dates each (March, April, May), two customers at 35.70:
    refused with the dates (exit 3, nothing written), then billed when confirmed."""
    assert main(["bill", "--date", "2026-05-01"]) == 3
    err = capsys.readouterr().err
    assert "catch-up" in err and "--confirm-catch-up" in err
    for day in ("2026-03-01", "2026-04-01", "2026-05-01"):
        assert f"{day}       2 invoices  71.40 EUR" in err
    assert not Invoice.objects.exists()
    assert main(["bill", "--date", "2026-05-01", "--confirm-catch-up"]) == 0
    assert Invoice.objects.count() == 6
    assert main(["bill", "--date", "2026-06-01"]) == 0  # one date more: no confirmation
    assert Invoice.objects.count() == 8


def test_dunning_blocks_the_overdue(world, capsys):
    alice, bob = world
    main(["bill", "--date", "2026-03-01"])
    payment_record(
        customer=bob, amount=Money.parse("35.70", "EUR"), on=date(2026, 3, 5), reference="B1"
    )
    capsys.readouterr()
    # Far past due and the blocking period: the unpaid home customer is blocked, Bob paid.
    assert main(["dunning", "--date", "2026-04-10"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Dunning: 1 blocked")
    assert Customer.objects.get(pk=alice.pk).status == CustomerStatus.BLOCKED
    assert Customer.objects.get(pk=bob.pk).status == CustomerStatus.ACTIVE


def test_statements_for_a_month_with_csv(world, capsys):
    _alice, bob = world
    main(["bill", "--date", "2026-03-01"])
    payment_record(
        customer=bob, amount=Money.parse("35.70", "EUR"), on=date(2026, 3, 5), reference="B1"
    )
    capsys.readouterr()
    assert main(["statements", "--month", "2026-03", "--csv"]) == 0
    out = capsys.readouterr().out
    # 10 % of the 30.00 net paid: 3.00.
    assert "CityNet" in out and "3.00 EUR" in out
    assert '"total","","","","",3.00,"EUR"' in out
    assert CommissionStatement.objects.get().total_minor == 300


def test_statements_without_month_builds_every_closed_month_once(world, capsys):
    _alice, bob = world
    main(["bill", "--date", "2026-03-01"])
    payment_record(
        customer=bob, amount=Money.parse("35.70", "EUR"), on=date(2026, 3, 5), reference="B1"
    )
    capsys.readouterr()
    with time_machine.travel(date(2026, 5, 10)):
        assert main(["statements"]) == 0
        out = capsys.readouterr().out
        # March (3.00) and April (nothing earned); May is not over.
        assert "2026-03" in out and "3.00 EUR" in out and "2026-04" in out
        assert "2 statement(s) built." in out
        assert main(["statements"]) == 0
        assert "nothing new" in capsys.readouterr().out
    months = CommissionStatement.objects.order_by("period_start")
    assert [(st.period_start, st.total_minor) for st in months] == [
        (date(2026, 3, 1), 300),
        (date(2026, 4, 1), 0),
    ]


def test_scheduler_once_does_the_days_work(world, capsys):
    with time_machine.travel(date(2026, 3, 1)):
        assert main(["scheduler", "--once"]) == 0
    out = capsys.readouterr().out
    assert "Scheduler started" in out and "2026-03-01" in out
    assert Invoice.objects.count() == 2
