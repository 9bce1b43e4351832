"""A credit note's tax groups equal its header, and an invoice's credit notes add up to it
per rate (docs/billing.md, "Credit notes"); `ispbill check` compares them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from lxml import etree

from ispbill.billing.run import billing_run_start
from ispbill.core.invariants import invariants_check
from ispbill.documents.facturx import facturx_xml_build
from ispbill.invoicing.documents import credit_note_document_data
from ispbill.invoicing.models import CreditNote, CreditNoteTax, Invoice, InvoiceLine
from ispbill.invoicing.tax import TaxGroup, credit_note_totals
from ispbill.payments.credit_notes import credit_note_issue
from tests.billing.builders import customer, service, tariff

pytestmark = pytest.mark.django_db
NS = {"ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}


def _xml_amounts(cn: CreditNote) -> tuple[Decimal, list[Decimal]]:
    root = etree.fromstring(facturx_xml_build(credit_note_document_data(cn)))
    header = root.findall(
        ".//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:TaxTotalAmount", NS
    )
    groups = root.findall(
        ".//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:CalculatedAmount", NS
    )
    return Decimal(header[0].text), [Decimal(g.text) for g in groups]


def test_two_lines_of_three_cents_credited_one_by_one(home):
    """Invoice: 2 x 0.03 at 19 %: net 0.06, tax round(0.0114) = 0.01, total 0.07. The first
    line's credit: 0.03 + round(0.0057) = 0.01 -> 0.04. The second takes what is left of the
    group: net 0.03, tax 0.00 -> 0.03 (it said 0.00 in the header but 0.01 in its group)."""
    c = customer()
    plan_a, plan_b = tariff(home, price=3), tariff(home, price=3)
    service(c, plan_a, date(2026, 4, 1))
    service(c, plan_b, date(2026, 4, 1))
    billing_run_start(run_date=date(2026, 4, 1))
    inv = Invoice.objects.get(customer=c)
    assert (inv.net_minor, inv.tax_minor, inv.total_minor) == (6, 1, 7)
    first, second = InvoiceLine.objects.filter(invoice=inv).order_by("position")
    cn1 = credit_note_issue(invoice=inv, on=date(2026, 4, 2), reason="a", lines={first.pk: 3})
    cn2 = credit_note_issue(invoice=inv, on=date(2026, 4, 3), reason="b", lines={second.pk: 3})
    assert [(cn.net_minor, cn.tax_minor, cn.total_minor) for cn in (cn1, cn2)] == [
        (3, 1, 4),
        (3, 0, 3),
    ]
    for cn in (cn1, cn2):
        groups = list(
            CreditNoteTax.objects.filter(credit_note=cn).values_list("net_minor", "tax_minor")
        )
        assert groups == [(cn.net_minor, cn.tax_minor)]
        header_tax, group_taxes = _xml_amounts(cn)
        assert header_tax == sum(group_taxes) == Decimal(cn.tax_minor) / 100
    inv.refresh_from_db()
    assert inv.credited_minor == inv.total_minor == 7 and inv.status == "credited"
    assert invariants_check()[1] == []


def test_check_finds_a_credit_note_whose_groups_differ_from_its_header(home):
    c = customer()
    service(c, tariff(home, price=1000), date(2026, 4, 1))
    billing_run_start(run_date=date(2026, 4, 1))
    cn = credit_note_issue(invoice=Invoice.objects.get(customer=c), on=date(2026, 4, 2), reason="x")
    assert invariants_check()[1] == []
    CreditNoteTax.objects.filter(credit_note=cn).update(tax_minor=191)
    breaches = invariants_check()[1]
    assert any(f"credit_note:{cn.pk}" in str(b) for b in breaches), breaches


def test_the_rule_by_hand():
    # Net prices, 19 %: left of the group net 10.00, tax 1.90.
    left = {(1900, "S"): (1000, 190)}
    part = credit_note_totals([TaxGroup(1900, "S", 333, 63)], left=left, prices_include_tax=False)
    assert (part.net_minor, part.tax_minor) == (333, 63)  # its own rounded tax
    whole = credit_note_totals(
        [TaxGroup(1900, "S", 1000, 190)], left={(1900, "S"): (667, 127)}, prices_include_tax=False
    )
    assert (whole.net_minor, whole.tax_minor) == (667, 127)  # all that is left, exactly
    capped = credit_note_totals(
        [TaxGroup(1900, "S", 3, 1)], left={(1900, "S"): (6, 0)}, prices_include_tax=False
    )
    assert (capped.net_minor, capped.tax_minor) == (3, 0)  # never more tax than is left
    # Gross prices: left gross 35.70 (net 30.00, tax 5.70); credit all gross -> exactly it.
    gross = credit_note_totals(
        [TaxGroup(1900, "S", 3000, 570)], left={(1900, "S"): (3000, 570)}, prices_include_tax=True
    )
    assert (gross.net_minor, gross.tax_minor, gross.total_minor) == (3000, 570, 3570)
    # Gross 0.04 of a 0.07 group (net 0.06, tax 0.01 left 0.00): tax capped, net 0.04.
    g = credit_note_totals(
        [TaxGroup(1900, "S", 3, 1)], left={(1900, "S"): (6, 0)}, prices_include_tax=True
    )
    assert (g.net_minor, g.tax_minor, g.total_minor) == (4, 0, 4)
