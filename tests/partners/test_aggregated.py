"""Aggregated invoice, worked by hand (DOMAIN.md "Aggregated invoice").

WISP: aggregation day 5, quarterly from January (5 Jan, 5 Apr, 5 Jul, 5 Oct), prepaid,
discount 25 %, PartnerPrice for "Fiber 100" of 21.00. Home partner: 14 due days, blocking
10 days after due. Three sub-customers:

- A: Fiber 100 from 5 Jan (partner price 21.00/month -> 63.00 a quarter)
- B: Fiber 250 from 5 Jan (retail 39.90, no partner price: 39.90 x 75 % = 29.925 -> 29.93;
  89.79 a quarter)
- C: from 20 Feb (mid-cycle): Fiber 100 (63.00 a quarter) and a phone line at 7 % VAT
  (retail 12.90 x 75 % = 9.675 -> 9.68; 29.04 a quarter)"""

from __future__ import annotations

from datetime import date

import pytest

from ispbill.billing.run import billing_run_start
from ispbill.core.invariants import invariants_check
from ispbill.core.money import Money
from ispbill.customers.models import Customer, CustomerStatus
from ispbill.dunning.services import dunning_run
from ispbill.invoicing.models import Invoice, InvoiceKind
from ispbill.partners.models import AggregationCycle, PartnerMode
from ispbill.payments.services import payment_record
from tests.factories import (
    CustomerFactory,
    PartnerPriceFactory,
    ServiceFactory,
    TariffFactory,
    TaxRateFactory,
    partner_with_account,
)

pytestmark = pytest.mark.django_db
JAN5, APR5 = date(2026, 1, 5), date(2026, 4, 5)


@pytest.fixture
def wisp(home):
    partner = partner_with_account(
        name="WISP",
        mode=PartnerMode.AGGREGATED,
        discount_bp=2500,
        aggregation_day=5,
        aggregation_cycle=AggregationCycle.QUARTERLY,
        block_subcustomers=True,
    )
    fiber100 = TariffFactory(name="Fiber 100", price_minor=2990)
    fiber250 = TariffFactory(name="Fiber 250", price_minor=3990)
    phone = TariffFactory(
        name="Phone", price_minor=1290, tax_rate=TaxRateFactory(partner=home, rate_bp=700)
    )
    PartnerPriceFactory(partner=partner, tariff=fiber100, price_minor=2100)
    a = CustomerFactory(partner=partner, reference="A1", name="Anna")
    b = CustomerFactory(partner=partner, reference="B1", name="Bert")
    c = CustomerFactory(partner=partner, reference="C1", name="Carl", company="Carl KG")
    ServiceFactory(customer=a, tariff=fiber100, start_date=JAN5)
    ServiceFactory(customer=b, tariff=fiber250, start_date=JAN5)
    ServiceFactory(customer=c, tariff=fiber100, start_date=date(2026, 2, 20))
    ServiceFactory(customer=c, tariff=phone, start_date=date(2026, 2, 20))
    partner.subs = (a, b, c)
    return partner


def _lines(inv: Invoice) -> list[tuple[str, str, str, str, int, int]]:
    return [
        (
            line.section,
            line.description,
            str(line.period_start),
            str(line.period_end),
            line.amount_minor,
            line.tax_rate_bp,
        )
        for line in inv.lines.order_by("position")
    ]


def test_quarterly_aggregated_invoice_with_three_sections(wisp):
    billing_run_start(run_date=JAN5)
    billing_run_start(run_date=APR5)
    a, b, c = wisp.subs
    assert Invoice.objects.filter(customer__in=[a, b, c]).count() == 0
    jan, apr = Invoice.objects.filter(customer=wisp.account).order_by("billing_date")
    assert {jan.kind, apr.kind} == {InvoiceKind.AGGREGATED}

    # 5 January: A and B, a quarter each: 63.00 + 89.79 = 152.79 net at 19 %;
    # tax round(15279 x 0.19 = 2903.01) = 29.03; total 181.82. C had not started.
    assert _lines(jan) == [
        ("A1 Anna", "Fiber 100", "2026-01-05", "2026-04-04", 6300, 1900),
        ("B1 Bert", "Fiber 250", "2026-01-05", "2026-04-04", 8979, 1900),
    ]
    assert (jan.net_minor, jan.tax_minor, jan.total_minor) == (15279, 2903, 18182)
    assert jan.due_date == date(2026, 1, 19)

    # 5 April: three sections. C's first period 20 Feb - 4 Apr is 44 of the quarter's
    # 90 days (5 Jan - 4 Apr: 27 + 28 + 31 + 4): Fiber 6300 x 44 / 90 = 3080.00;
    # phone 2904 x 44 / 90 = 1419.73 -> 14.20. Beside it the full quarter, prepaid.
    assert _lines(apr) == [
        ("A1 Anna", "Fiber 100", "2026-04-05", "2026-07-04", 6300, 1900),
        ("B1 Bert", "Fiber 250", "2026-04-05", "2026-07-04", 8979, 1900),
        ("C1 Carl KG", "Fiber 100", "2026-02-20", "2026-04-04", 3080, 1900),
        ("C1 Carl KG", "Phone", "2026-02-20", "2026-04-04", 1420, 700),
        ("C1 Carl KG", "Fiber 100", "2026-04-05", "2026-07-04", 6300, 1900),
        ("C1 Carl KG", "Phone", "2026-04-05", "2026-07-04", 2904, 700),
    ]
    subtotals: dict[str, int] = {}
    for section, *_, amount, _rate in _lines(apr):
        subtotals[section] = subtotals.get(section, 0) + amount
    assert subtotals == {"A1 Anna": 6300, "B1 Bert": 8979, "C1 Carl KG": 13704}
    # VAT per rate over the whole document:
    # 19 %: 6300 + 8979 + 3080 + 6300 = 24659 -> round(4685.21) = 46.85;
    # 7 %: 1420 + 2904 = 4324 -> round(302.68) = 3.03.
    taxes = sorted(apr.taxes.values_list("rate_bp", "net_minor", "tax_minor"))
    assert taxes == [(700, 4324, 303), (1900, 24659, 4685)]
    assert (apr.net_minor, apr.tax_minor, apr.total_minor) == (28983, 4988, 33971)
    assert {line.section_customer_id for line in apr.lines.all()} == {a.pk, b.pk, c.pk}
    assert invariants_check()[1] == []


def test_overdue_aggregated_invoice_blocks_the_account_and_its_subcustomers(wisp):
    billing_run_start(run_date=JAN5)
    account = wisp.account
    # Due 19 January; blocked more than 10 days after: on 30 January (11 days late).
    dunning_run(today=date(2026, 1, 29))
    account.refresh_from_db()
    assert account.status == CustomerStatus.ACTIVE
    dunning_run(today=date(2026, 1, 30))
    statuses = dict(Customer.objects.values_list("reference", "status"))
    assert statuses[account.reference] == CustomerStatus.BLOCKED
    assert {statuses["A1"], statuses["B1"], statuses["C1"]} == {CustomerStatus.BLOCKED}

    # The partner pays its account 181.82: the invoice is paid, everyone active again.
    payment_record(customer=account, amount=Money.from_minor(18182, "EUR"), on=date(2026, 1, 31))
    statuses = dict(Customer.objects.values_list("reference", "status"))
    assert set(statuses.values()) == {CustomerStatus.ACTIVE}
    assert invariants_check()[1] == []


def test_without_block_subcustomers_only_the_account_is_blocked(wisp):
    type(wisp).objects.filter(pk=wisp.pk).update(block_subcustomers=False)
    billing_run_start(run_date=JAN5)
    dunning_run(today=date(2026, 1, 30))
    statuses = dict(Customer.objects.values_list("reference", "status"))
    assert statuses[wisp.account.reference] == CustomerStatus.BLOCKED
    assert {statuses["A1"], statuses["B1"], statuses["C1"]} == {CustomerStatus.ACTIVE}


def test_sections_follow_their_titles_not_the_customers_ids(wisp):
    """A sub-customer added later with a title that sorts first gets the first section: the
    sections are ordered by title (reference, then name), not by customer id."""
    early = CustomerFactory(partner=wisp, reference="Z9", name="Zora")
    late = CustomerFactory(partner=wisp, reference="0A", name="Aaron")
    assert early.pk < late.pk
    fiber100 = TariffFactory(name="Fiber 100 (2)", price_minor=2990)
    ServiceFactory(customer=early, tariff=fiber100, start_date=JAN5)
    ServiceFactory(customer=late, tariff=fiber100, start_date=JAN5)
    billing_run_start(run_date=JAN5)
    jan = Invoice.objects.get(customer=wisp.account)
    assert [section for section, *_ in _lines(jan)] == ["0A Aaron", "A1 Anna", "B1 Bert", "Z9 Zora"]
