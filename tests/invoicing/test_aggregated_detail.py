"""Large aggregated invoices: a summary PDF with the line detail in a CSV file
(docs/documents.md, "Summary of a large aggregated invoice").

The hand-built invoice: WISP (aggregated, day 5, monthly) with two sub-customers billed on
5 January 2026 at its partner prices:

    A1 Anna Alt     Fiber 100  21.00  19 %
    B1 Bert GmbH    Fiber 100  21.00  19 %
                    Phone       9.00   7 %

Sections: A1 21.00 (1 line), B1 30.00 (2 lines). VAT per rate over the invoice: 19 % of
42.00 = 7.98, 7 % of 9.00 = 0.63. Net 51.00, VAT 8.61, total 59.61.
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
from ispbill.documents.render import document_template_input
from ispbill.invoicing.detail import invoice_detail_csv_bytes, invoice_pdf_is_summary
from ispbill.invoicing.documents import invoice_detail_filename, invoice_document_data
from ispbill.invoicing.models import EmailDelivery, EmailStatus, Invoice, InvoiceKind
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
CSV = (
    '"position","sub_customer_reference","sub_customer","description","period_start",'
    '"period_end","quantity","unit_price","amount","tax_rate","tax_category","currency",'
    '"prorated_days","period_days","discount_percent","discount_days"\n'
    '1,"A1","Anna Alt","Fiber 100","2026-01-05","2026-02-04",1,21.00,21.00,19.00,"S","EUR",'
    '"","","",""\n'
    '2,"B1","Bert GmbH","Fiber 100","2026-01-05","2026-02-04",1,21.00,21.00,19.00,"S","EUR",'
    '"","","",""\n'
    '3,"B1","Bert GmbH","Phone","2026-01-05","2026-02-04",1,9.00,9.00,7.00,"S","EUR",'
    '"","","",""\n'
)


def wisp_invoice(home, capture) -> Invoice:  # type: ignore[no-untyped-def]
    wisp = partner_with_account(
        name="WISP",
        mode=PartnerMode.AGGREGATED,
        aggregation_day=5,
        aggregation_cycle=AggregationCycle.MONTHLY,
    )
    # The API tests' seed has its own "Fiber 100" (the partner price applies either way).
    fiber = Tariff.objects.filter(partner=home, name="Fiber 100").first() or TariffFactory(
        name="Fiber 100", price_minor=2990
    )
    phone = TariffFactory(
        name="Phone", price_minor=1290, tax_rate=TaxRateFactory(partner=home, rate_bp=700)
    )
    PartnerPriceFactory(partner=wisp, tariff=fiber, price_minor=2100)
    PartnerPriceFactory(partner=wisp, tariff=phone, price_minor=900)
    anna = CustomerFactory(partner=wisp, reference="A1", name="Anna Alt")
    bert = CustomerFactory(partner=wisp, reference="B1", name="Bert Berg", company="Bert GmbH")
    ServiceFactory(customer=anna, tariff=fiber, start_date=JAN5)
    ServiceFactory(customer=bert, tariff=fiber, start_date=JAN5)
    ServiceFactory(customer=bert, tariff=phone, start_date=JAN5)
    with capture(execute=True):
        billing_run_start(run_date=JAN5)
    inv = Invoice.objects.get(customer=wisp.account)
    assert inv.kind == InvoiceKind.AGGREGATED
    assert (inv.net_minor, inv.tax_minor, inv.total_minor) == (5100, 861, 5961)
    return inv


def test_the_detail_csv_of_a_small_aggregated_invoice_is_exact(
    home, media, django_capture_on_commit_callbacks
):
    inv = wisp_invoice(home, django_capture_on_commit_callbacks)
    assert invoice_detail_csv_bytes(inv).decode("utf-8") == CSV
    assert invoice_detail_filename(inv) == f"{inv.number}-detail.csv"
    # Under the threshold the PDF prints every line and is no summary.
    assert not invoice_pdf_is_summary(inv)
    data = invoice_document_data(inv)
    assert "summary" not in data["document"]
    assert len(data["lines"]) == 3


@override_settings(AGGREGATED_DETAIL_MAX_LINES=2)
def test_over_the_threshold_the_pdf_is_a_summary_per_sub_customer(
    home, media, django_capture_on_commit_callbacks
):
    inv = wisp_invoice(home, django_capture_on_commit_callbacks)
    assert invoice_pdf_is_summary(inv)
    data = invoice_document_data(inv)
    head = data["document"]
    assert head["summary"] is True and head["sections_listed"] is True
    assert head["detail_file"] == f"{inv.number}-detail.csv"
    assert (head["detail_lines"], head["detail_sections"]) == (3, 2)
    rows = [(s["reference"], s["name"], s["line_count"], s["subtotal"]) for s in data["sections"]]
    assert rows == [("A1", "Anna Alt", 1, "21.00"), ("B1", "Bert GmbH", 2, "30.00")]
    assert data["totals"]["net"] == "51.00" and data["totals"]["total"] == "59.61"
    assert [(r["rate"], r["net"], r["tax"]) for r in data["tax_breakdown"]] == [
        ("7.00", "9.00", "0.63"),
        ("19.00", "42.00", "7.98"),
    ]
    # The template gets no lines, only the sections and the sentences.
    given = document_template_input(data)
    assert given["lines"] == [] and len(given["sections"]) == 2
    assert given["sections"][1]["fmt"]["line_count"] == "2"

    stored = (media / inv.pdf).read_bytes()
    text = pdf_text(stored)
    assert "Summary by sub-customer" in text
    assert "This invoice covers 3 lines for 2 sub-customers." in text
    assert f"{inv.number}-detail.csv" in " ".join(text.split())
    for expected in ("A1", "Anna Alt", "B1", "Bert GmbH", "€21.00", "€30.00", "€59.61"):
        assert expected in text
    assert "Phone" not in text  # no line is printed
    # The Factur-X XML still carries every line (3 <= AGGREGATED_XML_MAX_LINES), valid.
    _, xml = get_facturx_xml_from_pdf(stored, check_xsd=True)
    facturx_xml_check(xml)
    root = etree.fromstring(xml)
    names = root.xpath("//ram:SpecifiedTradeProduct/ram:Name/text()", namespaces=root.nsmap)
    assert names == ["Fiber 100", "Fiber 100", "Phone"]
    assert f"{inv.number}-detail.csv".encode() in xml


@override_settings(
    AGGREGATED_DETAIL_MAX_LINES=2, AGGREGATED_SUMMARY_MAX_SECTIONS=1, AGGREGATED_XML_MAX_LINES=2
)
def test_too_many_sub_customers_to_list_gives_totals_and_one_xml_line_per_rate(
    home, media, django_capture_on_commit_callbacks
):
    inv = wisp_invoice(home, django_capture_on_commit_callbacks)
    data = invoice_document_data(inv)
    assert data["document"]["sections_listed"] is False
    assert data["sections"] == []
    # One line per rate: the sums of the line amounts, which are the rates' nets.
    assert [(ln["tax_rate"], ln["amount"]) for ln in data["lines"]] == [
        ("7.00", "9.00"),
        ("19.00", "42.00"),
    ]
    stored = (media / inv.pdf).read_bytes()
    text = " ".join(pdf_text(stored).split())
    assert "This invoice covers 3 lines for 2 sub-customers." in text
    assert "Anna Alt" not in text and "€59.61" in text
    _, xml = get_facturx_xml_from_pdf(stored, check_xsd=True)
    facturx_xml_check(xml)
    root = etree.fromstring(xml)
    names = root.xpath("//ram:SpecifiedTradeProduct/ram:Name/text()", namespaces=root.nsmap)
    assert names == [
        f"Services for 2 sub-customers, VAT 7% (line detail: {inv.number}-detail.csv)",
        f"Services for 2 sub-customers, VAT 19% (line detail: {inv.number}-detail.csv)",
    ]


@override_settings(AGGREGATED_DETAIL_MAX_LINES=2)
def test_the_email_of_a_summary_carries_the_pdf_and_the_csv(
    home, media, django_capture_on_commit_callbacks
):
    inv = wisp_invoice(home, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        invoice_send(invoice=inv, to="billing@wisp.example")
    assert EmailDelivery.objects.get(invoice=inv).status == EmailStatus.SENT
    (message,) = mail.outbox
    names = [(a[0], a[2]) for a in message.attachments]
    assert names == [
        (f"{inv.number}.pdf", "application/pdf"),
        (f"{inv.number}-detail.csv", "text/csv"),
    ]
    content = message.attachments[1][1]
    assert (content.encode() if isinstance(content, str) else content).decode() == CSV


def test_the_email_of_a_small_aggregated_invoice_carries_the_pdf_only(
    home, media, django_capture_on_commit_callbacks
):
    inv = wisp_invoice(home, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        invoice_send(invoice=inv, to="billing@wisp.example")
    (message,) = mail.outbox
    assert [a[0] for a in message.attachments] == [f"{inv.number}.pdf"]


def test_a_direct_invoice_has_no_detail(home, media, django_capture_on_commit_callbacks):
    from ispbill.invoicing.detail import invoice_has_detail

    c = CustomerFactory(partner=home)
    ServiceFactory(customer=c, tariff=TariffFactory(price_minor=3000), start_date=date(2026, 1, 1))
    with django_capture_on_commit_callbacks(execute=True):
        billing_run_start(run_date=date(2026, 1, 1))
    inv = Invoice.objects.get(customer=c)
    assert not invoice_has_detail(inv) and not invoice_pdf_is_summary(inv)


@override_settings(AGGREGATED_DETAIL_MAX_LINES=2, AGGREGATED_XML_MAX_LINES=2)
def test_a_summary_read_as_sums_lists_the_same_sub_customers(
    home, media, django_capture_on_commit_callbacks
):
    """Above AGGREGATED_XML_MAX_LINES the lines are never read one by one: the sections and
    the XML's lines per rate come from sums in the database, with the same figures."""
    inv = wisp_invoice(home, django_capture_on_commit_callbacks)
    data = invoice_document_data(inv)
    head = data["document"]
    assert (head["detail_lines"], head["detail_sections"], head["sections_listed"]) == (3, 2, True)
    assert (head["period_start"], head["period_end"]) == ("2026-01-05", "2026-02-04")
    rows = [(s["reference"], s["name"], s["line_count"], s["subtotal"]) for s in data["sections"]]
    assert rows == [("A1", "Anna Alt", 1, "21.00"), ("B1", "Bert GmbH", 2, "30.00")]
    assert [(ln["tax_rate"], ln["amount"]) for ln in data["lines"]] == [
        ("7.00", "9.00"),
        ("19.00", "42.00"),
    ]
    stored = (media / inv.pdf).read_bytes()
    text = pdf_text(stored)
    assert "Bert GmbH" in text and "€30.00" in text and "€59.61" in text
    _, xml = get_facturx_xml_from_pdf(stored, check_xsd=True)
    facturx_xml_check(xml)


@override_settings(AGGREGATED_DETAIL_MAX_LINES=2)
def test_a_large_detail_goes_by_email_zipped(
    home, media, django_capture_on_commit_callbacks, monkeypatch
):
    import io
    import zipfile

    from ispbill.invoicing import detail

    monkeypatch.setattr(detail, "DETAIL_ZIP_ABOVE", len(CSV) - 1)
    inv = wisp_invoice(home, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        invoice_send(invoice=inv, to="billing@wisp.example")
    (message,) = mail.outbox
    name, content, mimetype = message.attachments[1]
    assert (name, mimetype) == (f"{inv.number}-detail.csv.zip", "application/zip")
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.namelist() == [f"{inv.number}-detail.csv"]
        assert archive.read(f"{inv.number}-detail.csv").decode() == CSV
