"""Wholesale invoices print like aggregated ones: a section per sub-customer, a summary PDF
above AGGREGATED_DETAIL_MAX_LINES with the lines in the CSV line detail (docs/documents.md,
"Summary of a large aggregated invoice"; docs/reseller-modes.md, "Wholesale charges").

The hand-built invoice: Bergnetz (own invoicing, wholesale charges, aggregation day 5,
monthly) with two customers on operator tariffs, billed to its account on 5 January 2026 at
its partner prices (Fiber 100 21.00, 19 %; Phone 9.00, 7 %), with the services' discounts:

    A1 Anna Alt   Fiber 100 from 20 Dec 2025, 20 % off
                  20 Dec - 4 Jan: 16 of the 31 days of 5 Dec - 4 Jan:
                  21.00 x 16 x 0.8 / 31 = 8.6710 -> 8.67
                  5 Jan - 4 Feb: 21.00 x 0.8 = 16.80                  subtotal 25.47
    B1 Bert GmbH  Fiber 100 from 5 Jan: 21.00
                  Phone from 5 Jan, 10 % off until 14 Jan (10 of 31 days):
                  9.00 x (31 - 10 x 0.1) / 31 = 9.00 x 30 / 31 = 8.7097 -> 8.71
                                                                       subtotal 29.71

VAT 19 % of 8.67 + 16.80 + 21.00 = 46.47 is 8.8293 -> 8.83; 7 % of 8.71 is 0.6097 -> 0.61.
Net 55.18, VAT 9.44, total 64.62.
"""

from __future__ import annotations

from datetime import date

import pytest
from django.core import mail
from django.test import override_settings
from facturx import get_facturx_xml_from_pdf
from lxml import etree

from ispbill.billing.run import billing_run_start
from ispbill.catalog.models import Tariff
from ispbill.documents.facturx import facturx_xml_check
from ispbill.invoicing.detail import (
    invoice_detail_csv_bytes,
    invoice_has_detail,
    invoice_pdf_is_summary,
)
from ispbill.invoicing.documents import invoice_document_data
from ispbill.invoicing.models import Invoice, InvoiceKind, InvoiceLine
from ispbill.invoicing.sending import invoice_send
from ispbill.partners.models import AggregationCycle, PartnerMode
from tests.factories import (
    CustomerFactory,
    PartnerPriceFactory,
    ServiceFactory,
    TariffFactory,
    TaxRateFactory,
    partner_with_account,
)
from tests.invoicing.conftest import pdf_text

pytestmark = pytest.mark.django_db
JAN5 = date(2026, 1, 5)
WHOLESALE_CSV = (
    '"position","sub_customer_reference","sub_customer","description","period_start",'
    '"period_end","quantity","unit_price","amount","tax_rate","tax_category","currency",'
    '"prorated_days","period_days","discount_percent","discount_days"\n'
    '1,"A1","Anna Alt","Fiber 100","2025-12-20","2026-01-04",1,21.00,8.67,19.00,"S","EUR",'
    '16,31,20.00,""\n'
    '2,"A1","Anna Alt","Fiber 100","2026-01-05","2026-02-04",1,21.00,16.80,19.00,"S","EUR",'
    '"","",20.00,""\n'
    '3,"B1","Bert GmbH","Fiber 100","2026-01-05","2026-02-04",1,21.00,21.00,19.00,"S","EUR",'
    '"","","",""\n'
    '4,"B1","Bert GmbH","Phone","2026-01-05","2026-02-04",1,9.00,8.71,7.00,"S","EUR",'
    '"","",10.00,10\n'
)


def wholesale_invoice(home, capture) -> Invoice:  # type: ignore[no-untyped-def]
    """The operator's wholesale invoice of the module docstring, with its PDF stored."""
    partner = partner_with_account(
        name="Bergnetz",
        mode=PartnerMode.OWN_INVOICING,
        wholesale_charges=True,
        aggregation_day=5,
        aggregation_cycle=AggregationCycle.MONTHLY,
    )
    fiber = Tariff.objects.filter(partner=home, name="Fiber 100").first() or TariffFactory(
        name="Fiber 100", price_minor=2990
    )
    phone = TariffFactory(
        name="Phone", price_minor=1290, tax_rate=TaxRateFactory(partner=home, rate_bp=700)
    )
    PartnerPriceFactory(partner=partner, tariff=fiber, price_minor=2100)
    PartnerPriceFactory(partner=partner, tariff=phone, price_minor=900)
    anna = CustomerFactory(partner=partner, reference="A1", name="Anna Alt")
    bert = CustomerFactory(partner=partner, reference="B1", name="Bert Berg", company="Bert GmbH")
    ServiceFactory(
        partner=partner,
        customer=anna,
        tariff=fiber,
        start_date=date(2025, 12, 20),
        discount_bp=2000,
    )
    ServiceFactory(partner=partner, customer=bert, tariff=fiber, start_date=JAN5)
    ServiceFactory(
        partner=partner,
        customer=bert,
        tariff=phone,
        start_date=JAN5,
        discount_bp=1000,
        discount_until=date(2026, 1, 14),
    )
    with capture(execute=True):
        billing_run_start(run_date=JAN5)
    inv = Invoice.objects.get(customer=partner.account)
    assert inv.kind == InvoiceKind.WHOLESALE
    assert (inv.net_minor, inv.tax_minor, inv.total_minor) == (5518, 944, 6462)
    return inv


def test_wholesale_lines_carry_their_sub_customers_and_print_in_sections(
    home, media, django_capture_on_commit_callbacks
):
    inv = wholesale_invoice(home, django_capture_on_commit_callbacks)
    lines = InvoiceLine.objects.filter(invoice=inv).order_by("position")
    assert [
        (ln.section_customer.reference, ln.section, ln.description, ln.amount_minor) for ln in lines
    ] == [
        ("A1", "A1 Anna Alt", "Fiber 100", 867),
        ("A1", "A1 Anna Alt", "Fiber 100", 1680),
        ("B1", "B1 Bert GmbH", "Fiber 100", 2100),
        ("B1", "B1 Bert GmbH", "Phone", 871),
    ]
    data = invoice_document_data(inv)
    assert data["document"]["type"] == "aggregated_invoice"
    assert "summary" not in data["document"]
    assert [(s["title"], s["subtotal"]) for s in data["sections"]] == [
        ("A1 Anna Alt", "25.47"),
        ("B1 Bert GmbH", "29.71"),
    ]
    assert [ln["section"] for ln in data["lines"]] == [
        str(lines[0].section_customer_id),
        str(lines[0].section_customer_id),
        str(lines[2].section_customer_id),
        str(lines[2].section_customer_id),
    ]
    assert invoice_has_detail(inv) and not invoice_pdf_is_summary(inv)

    stored = (media / inv.pdf).read_bytes()
    text = pdf_text(stored)
    for expected in ("A1 Anna Alt", "B1 Bert GmbH", "€25.47", "€29.71", "€64.62", "Phone"):
        assert expected in text, expected
    # The XML names each line's sub-customer in its note.
    _, xml = get_facturx_xml_from_pdf(stored, check_xsd=True)
    facturx_xml_check(xml)
    notes = [n.text or "" for n in etree.fromstring(xml).iter("{*}Content")]
    assert sum("A1 Anna Alt" in n for n in notes) == 2
    assert sum("B1 Bert GmbH" in n for n in notes) == 2


def test_the_line_detail_has_discount_and_proration_columns(
    home, media, django_capture_on_commit_callbacks
):
    inv = wholesale_invoice(home, django_capture_on_commit_callbacks)
    assert invoice_detail_csv_bytes(inv).decode("utf-8") == WHOLESALE_CSV


@override_settings(AGGREGATED_DETAIL_MAX_LINES=3)
def test_over_the_threshold_a_wholesale_invoice_is_a_summary_with_the_csv(
    home, media, django_capture_on_commit_callbacks
):
    inv = wholesale_invoice(home, django_capture_on_commit_callbacks)
    assert invoice_pdf_is_summary(inv)
    data = invoice_document_data(inv)
    head = data["document"]
    assert (head["summary"], head["sections_listed"]) == (True, True)
    assert (head["detail_lines"], head["detail_sections"]) == (4, 2)
    rows = [(s["reference"], s["name"], s["line_count"], s["subtotal"]) for s in data["sections"]]
    assert rows == [("A1", "Anna Alt", 2, "25.47"), ("B1", "Bert GmbH", 2, "29.71")]
    text = " ".join(pdf_text((media / inv.pdf).read_bytes()).split())
    assert "This invoice covers 4 lines for 2 sub-customers." in text
    assert f"{inv.number}-detail.csv" in text
    assert "Phone" not in text and "€64.62" in text

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        invoice_send(invoice=inv, to="billing@bergnetz.example")
    (message,) = mail.outbox
    assert [(a[0], a[2]) for a in message.attachments] == [
        (f"{inv.number}.pdf", "application/pdf"),
        (f"{inv.number}-detail.csv", "text/csv"),
    ]
    content = message.attachments[1][1]
    assert (content.encode() if isinstance(content, str) else content).decode() == WHOLESALE_CSV


@override_settings(AGGREGATED_DETAIL_MAX_LINES=3, AGGREGATED_XML_MAX_LINES=3)
def test_above_the_xml_limit_a_wholesale_invoice_carries_one_xml_line_per_rate(
    home, media, django_capture_on_commit_callbacks
):
    inv = wholesale_invoice(home, django_capture_on_commit_callbacks)
    data = invoice_document_data(inv)
    rows = [(s["reference"], s["line_count"], s["subtotal"]) for s in data["sections"]]
    assert rows == [("A1", 2, "25.47"), ("B1", 2, "29.71")]
    assert [(ln["tax_rate"], ln["amount"]) for ln in data["lines"]] == [
        ("7.00", "8.71"),
        ("19.00", "46.47"),
    ]
    _, xml = get_facturx_xml_from_pdf((media / inv.pdf).read_bytes(), check_xsd=True)
    facturx_xml_check(xml)
