"""One-time fees of an issuer (docs/billing.md "Fees"): each a one-time charge through the
normal path, charged once where once is the rule."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from ispbill.billing.plan_changes import plan_change_request
from ispbill.billing.run import billing_run_start
from ispbill.core.money import Money
from ispbill.customers.models import Customer
from ispbill.customers.services import customer_status_set
from ispbill.dunning.services import dunning_run
from ispbill.invoicing.models import Invoice, InvoiceLine
from ispbill.partners.models import Partner
from ispbill.payments.services import payment_record
from ispbill.subscriptions.models import OneTimeCharge
from ispbill.subscriptions.services import service_update

from .builders import customer, service, tariff, tax

pytestmark = pytest.mark.django_db


def fees(home: Partner, **amounts: int) -> None:
    Partner.objects.filter(pk=home.pk).update(fee_tax_rate=tax(home), **amounts)


def invoice_lines(c: Customer, billing_date: date) -> list[tuple[str, int]]:
    inv = Invoice.objects.get(customer=c, billing_date=billing_date)
    return list(
        InvoiceLine.objects.filter(invoice=inv)
        .order_by("position")
        .values_list("description", "amount_minor")
    )


def test_downgrade_fee_goes_on_the_next_invoice(home):
    fees(home, fee_upgrade_minor=990, fee_downgrade_minor=1500)
    c = customer()
    fast, slow = tariff(price=4500, name="Internet 100"), tariff(price=3000, name="Internet 50")
    s = service(c, fast, date(2026, 3, 1))
    billing_run_start(run_date=date(2026, 3, 1))
    # From the next billing date: nothing to give back, just the fee.
    plan_change_request(service=s, tariff=slow, effective=date(2026, 4, 1), today=date(2026, 3, 20))
    from ispbill.billing.plan_changes import plan_changes_apply_due

    plan_changes_apply_due(on=date(2026, 4, 1))
    billing_run_start(run_date=date(2026, 4, 1))
    assert invoice_lines(c, date(2026, 4, 1)) == [
        ("Downgrade fee: Internet 100 to Internet 50", 1500),
        ("Internet 50", 3000),
    ]


def test_same_price_per_month_is_no_upgrade(home):
    fees(home, fee_upgrade_minor=990, fee_downgrade_minor=1500)
    c = customer()
    monthly, quarterly = tariff(price=3000), tariff(price=9000, months=3)
    s = service(c, monthly, date(2026, 3, 1))
    plan_change_request(
        service=s, tariff=quarterly, effective=date(2026, 3, 1), today=date(2026, 3, 1)
    )
    assert not OneTimeCharge.objects.filter(customer=c).exists()


def test_disconnection_fee_once_per_service(home):
    fees(home, fee_disconnection_minor=2500)
    c = customer()
    s = service(c, tariff(price=3000, name="Internet 50"), date(2026, 3, 1))
    billing_run_start(run_date=date(2026, 3, 1))
    service_update(service=s, status="stopped", end_date=date(2026, 3, 31))
    service_update(service=s, status="active")
    service_update(service=s, status="stopped")
    fee = OneTimeCharge.objects.get(customer=c)
    assert (fee.fee, fee.service_id, fee.charge_date, fee.unit_price_minor) == (
        "disconnection",
        s.pk,
        date(2026, 3, 31),
        2500,
    )
    billing_run_start(run_date=date(2026, 4, 1))
    assert invoice_lines(c, date(2026, 4, 1)) == [("Disconnection fee: Internet 50", 2500)]


def test_reconnection_fee_after_blocking(home):
    """Blocked by dunning 11 days after due (the default blocking period 10 days), a payment
    clears the invoice: active again, with the reconnection fee for the next invoice."""
    fees(home, fee_reconnection_minor=1500)
    c = customer()
    service(c, tariff(price=3000), date(2026, 4, 1))
    billing_run_start(run_date=date(2026, 4, 1))  # 35.70 due 15 April
    dunning_run(today=date(2026, 4, 26))
    assert Customer.objects.get(pk=c.pk).status == "blocked"
    assert not OneTimeCharge.objects.filter(customer=c).exists()
    payment_record(
        customer=c, amount=Money.parse("35.70", "EUR"), on=date(2026, 4, 27), reference="P1"
    )
    assert Customer.objects.get(pk=c.pk).status == "active"
    fee = OneTimeCharge.objects.get(customer=c)
    assert (fee.fee, fee.unit_price_minor, fee.charge_date) == (
        "reconnection",
        1500,
        date(2026, 4, 27),
    )
    # By hand as well: blocked, then unblocked.
    customer_status_set(customer=c, status="blocked")
    customer_status_set(customer=c, status="active")
    assert OneTimeCharge.objects.filter(customer=c, fee="reconnection").count() == 2


def test_late_payment_fee_once_per_invoice(home):
    """The invoice of 1 April is due on 15 April; 7 days later (22 April) it is still open:
    the late-payment fee of 5.00, once, on the next invoice."""
    fees(home, fee_late_payment_minor=500)
    Partner.objects.filter(pk=home.pk).update(blocking_days=None, late_fee_days=7)
    c = customer()
    service(c, tariff(price=3000, name="Internet 50"), date(2026, 4, 1))
    billing_run_start(run_date=date(2026, 4, 1))
    april = Invoice.objects.get(customer=c)
    assert dunning_run(today=date(2026, 4, 21)).late_fees == 0
    assert dunning_run(today=date(2026, 4, 22)).late_fees == 1
    assert dunning_run(today=date(2026, 4, 23)).late_fees == 0
    fee = OneTimeCharge.objects.get(customer=c)
    assert (fee.fee, fee.fee_invoice_id, fee.unit_price_minor) == ("late_payment", april.pk, 500)
    billing_run_start(run_date=date(2026, 5, 1))
    assert invoice_lines(c, date(2026, 5, 1)) == [
        (f"Late-payment fee: invoice {april.number} due 2026-04-15", 500),
        ("Internet 50", 3000),
    ]


def test_no_fee_without_an_amount_and_fees_need_a_tax_rate(home):
    c = customer()
    s = service(c, tariff(price=3000), date(2026, 3, 1))
    service_update(service=s, status="stopped", end_date=date(2026, 3, 31))
    assert not OneTimeCharge.objects.filter(customer=c).exists()
    p = Partner.objects.get(pk=home.pk)
    p.fee_upgrade_minor = 990
    with pytest.raises(ValidationError, match="tax rate of the fees"):
        p.full_clean()
    other = Partner.objects.create(name="Other", mode="own_invoicing")
    p.fee_tax_rate = tax(other)
    with pytest.raises(ValidationError, match="this issuer's own tax rates"):
        p.full_clean()
