"""An invoice line whose amount is not quantity x unit price says why: the part of the period
charged ("13/31 days") and the discount ("discount 10%"), on the PDF in the customer's
language, in Factur-X and on the invoice pages. Figures worked by hand."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client
from django.urls import reverse
from lxml import etree

from ispbill.accounts.models import Role, User
from ispbill.billing.rating import ServiceTerms, service_rate
from ispbill.billing.run import billing_run_start
from ispbill.core.periods import Cycle
from ispbill.documents.facturx import facturx_xml_build
from ispbill.documents.i18n import line_adjustment_text
from ispbill.invoicing.documents import invoice_document_data
from ispbill.invoicing.models import Invoice, InvoiceLine
from ispbill.invoicing.sending import invoice_pdf
from tests.factories import CustomerFactory, ServiceFactory, TariffFactory
from tests.invoicing.conftest import pdf_text

pytestmark = pytest.mark.django_db


def _terms(**kw: object) -> ServiceTerms:
    base: dict[str, object] = {
        "service_id": 1,
        "description": "Fiber",
        "start_date": date(2026, 1, 1),
        "end_date": None,
        "quantity": 1,
        "unit_price_minor": 3000,
        "tariff_period_months": 1,
    }
    base.update(kw)
    return ServiceTerms(**base)  # type: ignore[arg-type]


def _rate(terms: ServiceTerms, on: date) -> list[tuple[int, dict[str, int]]]:
    drafts = service_rate(
        terms=terms, cycle=Cycle(1), prepaid=True, charged_through=None, billing_date=on
    )
    return [(d.amount_minor, d.adjustment) for d in drafts]


def test_the_rating_records_why_an_amount_differs():
    # Whole January at 30.00: nothing to explain.
    assert _rate(_terms(), date(2026, 1, 1)) == [(3000, {})]
    # From 19 January: 13 of January's 31 days, 30.00 x 13 / 31 = 12.5806 -> 12.58; then
    # February in full.
    assert _rate(_terms(start_date=date(2026, 1, 19)), date(2026, 2, 1)) == [
        (1258, {"days": 13, "period_days": 31}),
        (3000, {}),
    ]
    # 10 % off the whole of January: 30.00 x 0.9 = 27.00.
    assert _rate(_terms(discount_bp=1000), date(2026, 1, 1)) == [(2700, {"discount_bp": 1000})]
    # Both: 30.00 x 13 x 0.9 / 31 = 11.3225 -> 11.32.
    assert _rate(_terms(start_date=date(2026, 1, 19), discount_bp=1000), date(2026, 1, 19)) == [
        (1132, {"days": 13, "period_days": 31, "discount_bp": 1000})
    ]
    # 10 % until 10 January: 30.00 x (31 - 10 x 0.1) / 31 = 30.00 x 30 / 31 = 29.0322 -> 29.03.
    assert _rate(_terms(discount_bp=1000, discount_until=date(2026, 1, 10)), date(2026, 1, 1)) == [
        (2903, {"discount_bp": 1000, "discount_days": 10})
    ]


def test_the_explanation_in_both_languages():
    assert line_adjustment_text({}, "en") == ""
    assert line_adjustment_text({"days": 13, "period_days": 31}, "en") == "13/31 days"
    assert line_adjustment_text({"days": 13, "period_days": 31}, "de") == "13/31 Tage"
    assert line_adjustment_text({"discount_bp": 1000}, "en") == "discount 10%"
    assert line_adjustment_text({"discount_bp": 1250}, "de") == "Rabatt 12,5\u00a0%"
    both = {"days": 13, "period_days": 31, "discount_bp": 1000}
    assert line_adjustment_text(both, "de") == "13/31 Tage, Rabatt 10\u00a0%"
    partial = {"discount_bp": 1000, "discount_days": 10}
    assert line_adjustment_text(partial, "en") == "discount 10% for 10 days"


@pytest.fixture
def prorated_invoice(home):
    """Fiber at 30.00 from 19 January with 10 % off, billed on 1 February (prepaid): January
    13/31 days with the discount (11.32) and February with the discount (27.00)."""
    customer = CustomerFactory(partner=home, language="de")
    ServiceFactory(
        customer=customer,
        tariff=TariffFactory(price_minor=3000, name="Fiber 100"),
        start_date=date(2026, 1, 19),
        discount_bp=1000,
    )
    billing_run_start(run_date=date(2026, 2, 1))
    return Invoice.objects.get(customer=customer)


def test_lines_carry_the_explanation_to_pdf_facturx_and_pages(prorated_invoice, home):
    invoice = prorated_invoice
    lines = list(InvoiceLine.objects.filter(invoice=invoice).order_by("position"))
    assert [(ln.unit_price_minor, ln.amount_minor, ln.adjustment) for ln in lines] == [
        (3000, 1132, {"days": 13, "period_days": 31, "discount_bp": 1000}),
        (3000, 2700, {"discount_bp": 1000}),
    ]
    # Net 11.32 + 27.00 = 38.32; VAT 19 % = 7.2808 -> 7.28; total 45.60.
    assert (invoice.net_minor, invoice.tax_minor, invoice.total_minor) == (3832, 728, 4560)
    data = invoice_document_data(invoice)
    assert data["lines"][0]["adjustment"] == {"days": 13, "period_days": 31, "discount_bp": 1000}

    text = " ".join(pdf_text(invoice_pdf(invoice)).split())
    assert "19.01.2026 – 31.01.2026 · 13/31 Tage, Rabatt 10 %" in text
    assert "01.02.2026 – 28.02.2026 · Rabatt 10 %" in text

    xml = etree.fromstring(facturx_xml_build(data))
    notes = [n.text for n in xml.iter("{*}Content")]
    assert "13/31 Tage, Rabatt 10\u00a0%" in notes and "Rabatt 10\u00a0%" in notes

    client = Client()
    client.force_login(User.objects.create(username="op", role=Role.ADMIN))
    page = client.get(reverse("web:invoice", kwargs={"invoice_id": invoice.pk})).content.decode()
    assert "13/31 days, discount 10%" in page and "discount 10%" in page
    portal = Client()
    portal.force_login(
        User.objects.create(
            username="kunde", role=Role.CUSTOMER, partner=home, customer=invoice.customer
        )
    )
    url = reverse("web:portal_invoice", kwargs={"invoice_id": invoice.pk})
    assert "13/31 days, discount 10%" in portal.get(url).content.decode()
