"""The line detail (CSV) of an aggregated or wholesale invoice on the web: the link on the
invoice page and the download, for whoever may see the invoice, never another tenant
(docs/documents.md, "Summary of a large aggregated invoice")."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from ispbill.accounts.models import Role, User
from ispbill.invoicing.models import Invoice, InvoiceKind, InvoiceLine
from ispbill.partners.models import Partner

from .conftest import signed_in

pytestmark = pytest.mark.django_db

HEADER = (
    '"position","sub_customer_reference","sub_customer","description","period_start",'
    '"period_end","quantity","unit_price","amount","tax_rate","tax_category","currency",'
    '"prorated_days","period_days","discount_percent","discount_days"'
)


def _aggregated() -> Invoice:
    wisp = Partner.objects.get(name="WISP Verbund")
    invoice = (
        Invoice.objects.filter(customer_id=wisp.account_id, kind=InvoiceKind.AGGREGATED)
        .order_by("pk")
        .first()
    )
    assert invoice is not None
    return invoice


def _csv(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return b"".join(response.streaming_content).decode("utf-8")


def test_operator_and_the_aggregated_partner_download_the_line_detail(demo):
    invoice = _aggregated()
    url = reverse("web:invoice_detail_csv", kwargs={"invoice_id": invoice.pk})
    page = reverse("web:invoice", kwargs={"invoice_id": invoice.pk})
    lines = InvoiceLine.objects.filter(invoice=invoice).count()
    for username in ("admin", "accountant", "wispverbund"):
        client = signed_in(username)
        assert f'href="{url}"' in client.get(page).content.decode(), username
        response = client.get(url)
        text = _csv(response)
        rows = text.splitlines()
        assert rows[0] == HEADER and len(rows) == 1 + lines
        assert response["Content-Disposition"] == (
            f'attachment; filename="{invoice.number}-detail.csv"'
        )
    # Other partners: as if it did not exist.
    for username in ("citynet", "alpenfunk"):
        assert signed_in(username).get(url).status_code == 404, username


def _wholesale() -> Invoice:
    alpenfunk = Partner.objects.get(name="Alpenfunk")
    invoice = (
        Invoice.objects.filter(customer_id=alpenfunk.account_id, kind=InvoiceKind.WHOLESALE)
        .order_by("pk")
        .first()
    )
    assert invoice is not None
    return invoice


def test_the_wholesale_invoice_in_sections_and_its_line_detail_for_the_partner_billed(demo):
    """Alpenfunk (own invoicing, wholesale charges) reads the operator's wholesale invoice to
    its account: a section per customer of its own with the subtotal, and the line detail;
    the other partners get 404."""
    invoice = _wholesale()
    alpenfunk = Partner.objects.get(name="Alpenfunk")
    url = reverse("web:invoice_detail_csv", kwargs={"invoice_id": invoice.pk})
    page = reverse("web:invoice", kwargs={"invoice_id": invoice.pk})
    lines = list(InvoiceLine.objects.filter(invoice=invoice).select_related("section_customer"))
    # Every line names its sub-customer, one of Alpenfunk's customers.
    assert lines and all(ln.section_customer.partner_id == alpenfunk.pk for ln in lines)
    titles = {ln.section for ln in lines}
    assert len(titles) >= 2
    for username in ("admin", "accountant", "alpenfunk"):
        client = signed_in(username)
        html = client.get(page).content.decode()
        assert f'href="{url}"' in html, username
        for title in titles:
            assert f"<strong>{escape(title)}</strong>" in html, (username, title)
        rows = _csv(client.get(url)).splitlines()
        assert rows[0] == HEADER and len(rows) == 1 + len(lines)
        references = {ln.section_customer.reference for ln in lines}
        assert {row.split(",")[1].strip('"') for row in rows[1:]} == references
    # In the partner's invoice list too.
    listed = signed_in("alpenfunk").get(reverse("web:invoices") + f"?q={invoice.number}")
    assert f'href="{page}"' in listed.content.decode()
    for username in ("citynet", "wispverbund"):
        assert signed_in(username).get(url).status_code == 404, username
        assert signed_in(username).get(page).status_code == 404, username
    # A portal login of one of Alpenfunk's customers: not its invoice.
    portal = reverse("web:portal_invoice_detail_csv", kwargs={"invoice_id": invoice.pk})
    assert signed_in("alpenkunde").get(portal).status_code == 404


def test_a_direct_invoice_has_no_line_detail(demo):
    direct = (
        Invoice.objects.exclude(kind__in=[InvoiceKind.AGGREGATED, InvoiceKind.WHOLESALE])
        .order_by("pk")
        .first()
    )
    assert direct is not None
    admin = signed_in("admin")
    url = reverse("web:invoice_detail_csv", kwargs={"invoice_id": direct.pk})
    assert admin.get(url).status_code == 404
    page = admin.get(reverse("web:invoice", kwargs={"invoice_id": direct.pk})).content.decode()
    assert "Line detail (CSV)" not in page


def test_the_portal_of_the_partners_account_has_the_line_detail(demo):
    invoice = _aggregated()
    account = invoice.customer
    user = User.objects.create(
        username="wisp-portal",
        role=Role.CUSTOMER,
        partner_id=account.partner_id,
        customer=account,
        password=make_password("x"),
        email="wisp-portal@example.com",
    )
    client = Client()
    client.force_login(user)
    url = reverse("web:portal_invoice_detail_csv", kwargs={"invoice_id": invoice.pk})
    page = client.get(reverse("web:portal_invoice", kwargs={"invoice_id": invoice.pk}))
    assert f'href="{url}"' in page.content.decode()
    assert _csv(client.get(url)).splitlines()[0] == HEADER
    # Another customer of the portal never gets it.
    assert signed_in("customer").get(url).status_code == 404


def test_the_page_of_a_large_aggregated_invoice_shows_the_first_lines(demo, settings):
    invoice = _aggregated()
    lines = InvoiceLine.objects.filter(invoice=invoice).count()
    assert lines >= 2
    settings.AGGREGATED_DETAIL_MAX_LINES = 1
    page = signed_in("admin").get(reverse("web:invoice", kwargs={"invoice_id": invoice.pk}))
    text = page.content.decode()
    assert f"The first 1 of {lines} lines." in text
    assert reverse("web:invoice_detail_csv", kwargs={"invoice_id": invoice.pk}) in text
    settings.AGGREGATED_DETAIL_MAX_LINES = 2000
    page = signed_in("admin").get(reverse("web:invoice", kwargs={"invoice_id": invoice.pk}))
    assert "invoice-lines-more" not in page.content.decode()
