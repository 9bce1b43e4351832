"""Overage of an aggregated partner's sub-customers: on the partner's aggregated invoice, in
the sub-customer's section, at the partner's price (docs/usage.md, "Aggregated partners")."""

from __future__ import annotations

from datetime import date

import pytest

from ispbill.billing.run import billing_run_start
from ispbill.invoicing.models import Invoice, InvoiceKind, InvoiceLine
from ispbill.partners.models import PartnerMode
from ispbill.radius.usage import usage_collect
from ispbill.subscriptions.models import OneTimeCharge
from tests.factories import partner_with_account
from tests.radius.builders import internet_customer
from tests.radius.test_usage import GB, acct, at

pytestmark = pytest.mark.django_db
MAY1 = date(2026, 5, 1)


def capped_customer(username: str, partner, *, overage: int, included: int = 10):
    c, s, _cred = internet_customer(username, partner=partner)
    s.tariff.included_gb = included
    s.tariff.overage_price_minor = overage
    s.tariff.save()
    return c, s


def test_3_gb_over_at_partner_price_1_50_is_4_50_net_on_the_partners_invoice(home):
    # Tariff overage 2.00 per started GB, WISP's discount 25 %: 2.00 × 0.75 = 1.50 per GB.
    wisp = partner_with_account(
        name="WISP", mode=PartnerMode.AGGREGATED, aggregation_day=1, discount_bp=2500
    )
    wes, s = capped_customer("wes", wisp, overage=200)
    # 12.5 GB in April, 10 GB included: 2.5 GB over → 3 started GB.
    acct("W", octets_in=500_000_000, octets_out=12 * GB, username="wes", start=at(20), stop=at(28))
    usage_collect(now=at(1, 0, 30, month=5))
    charge = OneTimeCharge.objects.get()
    assert (charge.customer_id, charge.quantity, charge.unit_price_minor) == (wes.pk, 3, 150)
    assert charge.description == "Overage 3 GB × partner price 1.50, 1–30 April 2026 (" + (
        s.tariff.name + ")"
    )
    billing_run_start(run_date=MAY1)
    # Nothing to the end customer: the line is on WISP's aggregated invoice, Wes's section.
    assert not Invoice.objects.filter(customer=wes).exists()
    line = InvoiceLine.objects.get(description__startswith="Overage")
    invoice = line.invoice
    assert (invoice.customer_id, invoice.kind) == (wisp.account_id, InvoiceKind.AGGREGATED)
    assert invoice.billing_date == MAY1  # April's aggregated invoice was issued before
    assert (line.quantity, line.unit_price_minor, line.amount_minor) == (3, 150, 450)
    assert "1–30 April 2026" in line.description  # the volume and period on the line
    assert line.section_customer_id == wes.pk
    # Also on it: Wes's May period at WISP's price (30.00 − 25 % = 22.50). 19 % VAT over both.
    assert invoice.net_minor == 450 + 2250
    assert invoice.tax_minor == 513  # 27.00 × 19 % = 5.13


def test_the_partner_price_is_rounded_per_gb_then_multiplied(home):
    # 1.99 × 0.75 = 1.4925 → 1.49 per GB; 3 GB → 4.47 (rounded once, per line).
    wisp = partner_with_account(
        name="WISP", mode=PartnerMode.AGGREGATED, aggregation_day=1, discount_bp=2500
    )
    _c, _s = capped_customer("wes", wisp, overage=199)
    acct("W", octets_out=12_000_000_001, username="wes", start=at(20), stop=at(28))
    usage_collect(now=at(1, 0, 30, month=5))
    billing_run_start(run_date=MAY1)
    line = InvoiceLine.objects.get(description__startswith="Overage")
    assert (line.quantity, line.unit_price_minor, line.amount_minor) == (3, 149, 447)


def test_a_percentage_partners_customer_pays_the_retail_overage(home):
    citynet = partner_with_account(name="CityNet", mode=PartnerMode.PERCENTAGE, discount_bp=2500)
    cid, _s = capped_customer("cid", citynet, overage=200)
    acct("C", octets_out=12_500_000_000, username="cid", start=at(20), stop=at(28))
    usage_collect(now=at(1, 0, 30, month=5))
    billing_run_start(run_date=MAY1)
    line = InvoiceLine.objects.get(description__startswith="Overage")
    assert (line.quantity, line.unit_price_minor, line.amount_minor) == (3, 200, 600)
    assert line.invoice.customer_id == cid.pk


def test_a_sub_customers_top_up_is_on_the_partners_invoice_at_partner_price(home):
    # Tariff pack 10 GB for 5.00, WISP's discount 25 %: 3.75 per pack; 2 packs = 7.50 net,
    # in Wes's section of WISP's aggregated invoice; nothing to the end customer.
    from ispbill.radius.topups import TopUpChannel, usage_topup_buy, usage_topup_quote

    wisp = partner_with_account(
        name="WISP", mode=PartnerMode.AGGREGATED, aggregation_day=1, discount_bp=2500
    )
    wes, s = capped_customer("wes", wisp, overage=200)
    s.tariff.topup_gb, s.tariff.topup_price_minor = 10, 500
    s.tariff.save()
    april20 = date(2026, 4, 20)
    quote = usage_topup_quote(service=s, packs=2, today=april20)
    assert (quote.unit_price.minor, quote.net.minor, quote.wholesale) == (375, 750, True)
    usage_topup_buy(service=s, packs=2, channel=TopUpChannel.STAFF, today=april20)
    charge = OneTimeCharge.objects.get()
    assert (charge.customer_id, charge.quantity, charge.unit_price_minor) == (wes.pk, 2, 375)
    assert charge.description.startswith("Top-up 2 × 10 GB at partner price 3.75, 1–30 April")
    billing_run_start(run_date=MAY1)
    assert not Invoice.objects.filter(customer=wes).exists()
    line = InvoiceLine.objects.get(description__startswith="Top-up")
    invoice = line.invoice
    assert (invoice.customer_id, invoice.kind) == (wisp.account_id, InvoiceKind.AGGREGATED)
    assert (line.quantity, line.unit_price_minor, line.amount_minor) == (2, 375, 750)
    assert line.section_customer_id == wes.pk


def test_a_percentage_partners_customer_pays_the_retail_top_up(home):
    from ispbill.radius.topups import usage_topup_quote

    citynet = partner_with_account(name="CityNet", mode=PartnerMode.PERCENTAGE, discount_bp=2500)
    _c, s = capped_customer("cid", citynet, overage=200)
    s.tariff.topup_gb, s.tariff.topup_price_minor = 10, 500
    s.tariff.save()
    quote = usage_topup_quote(service=s, packs=2, today=date(2026, 4, 20))
    assert (quote.unit_price.minor, quote.net.minor, quote.wholesale) == (500, 1000, False)
