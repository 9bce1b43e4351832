"""Invoicing at once: one-time charges when asked, first partial periods on activation."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine
from django.core.exceptions import ValidationError

from ispbill.billing.actions import one_time_charge_create, service_create
from ispbill.billing.run import billing_run_start
from ispbill.invoicing.models import Invoice, InvoiceLine
from ispbill.partners.models import Partner

from .builders import customer, tariff, tax

pytestmark = pytest.mark.django_db


@time_machine.travel(date(2026, 3, 15), tick=False)
def test_first_partial_period_invoiced_on_activation(home):
    Partner.objects.filter(pk=home.pk).update(first_period_billing="on_activation")
    c = customer()
    service_create(customer=c, tariff=tariff(price=3100), start_date=date(2026, 3, 15))
    inv = Invoice.objects.get(customer=c)
    # 15-31 March: 31.00 x 17 / 31 = 17.00 net, + 19 % = 3.23 -> 20.23, issued today.
    assert (inv.kind, inv.issue_date, inv.net_minor, inv.total_minor) == (
        "one_off",
        date(2026, 3, 15),
        1700,
        2023,
    )
    billing_run_start(run_date=date(2026, 4, 1))
    april = Invoice.objects.get(customer=c, billing_date=date(2026, 4, 1))
    # The next billing date charges April only: the first period is not charged twice.
    assert list(
        InvoiceLine.objects.filter(invoice=april).values_list("period_start", "amount_minor")
    ) == [(date(2026, 4, 1), 3100)]


@time_machine.travel(date(2026, 3, 15), tick=False)
def test_default_is_the_next_invoice(home):
    c = customer()
    service_create(customer=c, tariff=tariff(price=3100), start_date=date(2026, 3, 15))
    assert not Invoice.objects.filter(customer=c).exists()


@time_machine.travel(date(2026, 3, 20), tick=False)
def test_one_time_charge_invoiced_at_once(home):
    c = customer()
    one_time_charge_create(
        customer=c,
        invoice_now=True,
        description="Router",
        unit_price_minor=8900,
        tax_rate=tax(home),
        charge_date=date(2026, 3, 20),
    )
    inv = Invoice.objects.get(customer=c)
    assert (inv.net_minor, inv.tax_minor, inv.total_minor) == (8900, 1691, 10591)  # 19 % of 89.00
    billing_run_start(run_date=date(2026, 4, 1))
    assert Invoice.objects.filter(customer=c).count() == 1  # not charged again


@time_machine.travel(date(2026, 3, 20), tick=False)
def test_aggregated_customers_cannot_be_invoiced_at_once(home):
    from tests.factories import partner_with_account

    wisp = partner_with_account(mode="aggregated")
    c = customer(partner=wisp)
    with pytest.raises(ValidationError, match="aggregated invoice"):
        one_time_charge_create(
            customer=c,
            invoice_now=True,
            description="Router",
            unit_price_minor=8900,
            tax_rate=tax(home),
            charge_date=date(2026, 3, 20),
        )
