"""The credit note form on invoices of many lines (aggregated and wholesale invoices run to
160,000): above CREDIT_FORM_ALL_LINES_MAX lines the form has no field per line; the lines to
credit partly are found with a search (a page at a time), only the amounts entered are posted,
and the browser's post stays under Django's DATA_UPLOAD_MAX_NUMBER_FIELDS (docs/billing.md)."""

from __future__ import annotations

import re

import pytest
from django.db.models import F, Max
from django.urls import reverse
from django.utils import timezone

from ispbill.invoicing.models import (
    SECTIONED_KINDS,
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceTax,
)

from .conftest import signed_in

pytestmark = pytest.mark.django_db


def _today() -> str:
    return timezone.localdate().isoformat()


def _sectioned() -> Invoice:
    """A demo aggregated/wholesale invoice, net prices, not credited, the operator's."""
    invoice = (
        Invoice.objects.filter(
            kind__in=SECTIONED_KINDS,
            prices_include_tax=False,
            credited_minor=0,
            lines__tax_rate_bp=1900,
        )
        .exclude(issuer__name="Alpenfunk")
        .exclude(status="cancelled")
        .order_by("id")
        .distinct()
        .first()
    )
    assert invoice is not None, "the demo has a sectioned invoice"
    return invoice


def _grow(invoice: Invoice, extra: int) -> None:
    """Add ``extra`` lines of 1.00 net at 19 % (tax 0.19 each) and keep the totals true."""
    start = invoice.lines.aggregate(m=Max("position"))["m"] or 0
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            position=start + i,
            section=f"Sub-customer {i % 7}",
            description=f"Extra port {i}",
            quantity=1,
            unit_price_minor=100,
            amount_minor=100,
            tax_rate_bp=1900,
            tax_category="S",
        )
        for i in range(1, extra + 1)
    )
    InvoiceTax.objects.filter(invoice=invoice, rate_bp=1900, category="S").update(
        net_minor=F("net_minor") + extra * 100, tax_minor=F("tax_minor") + extra * 19
    )
    Invoice.objects.filter(pk=invoice.pk).update(
        net_minor=F("net_minor") + extra * 100,
        tax_minor=F("tax_minor") + extra * 19,
        total_minor=F("total_minor") + extra * 119,
    )


def _as_browser(html: str) -> dict[str, str]:
    """Every named input/select/textarea of the credit note form, empty, as a browser
    posts an untouched form (the CSRF token is not checked by the test client)."""
    (form,) = [f.split("</form>")[0] for f in html.split("<form")[1:] if 'name="reason"' in f]
    names = re.findall(r'<(?:input|select|textarea)[^>]*\sname="([^"]+)"', form)
    return {name: "" for name in names if name != "csrfmiddlewaretoken"}


def test_full_credit_of_1200_lines_posts_as_a_browser_would(demo):
    client = signed_in("accountant")
    invoice = _sectioned()
    _grow(invoice, 1200)
    invoice.refresh_from_db()
    url = reverse("web:credit_note_new", kwargs={"invoice_id": invoice.pk})
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    posted = {**_as_browser(html), "reason": "Contract ended", "date": _today(), "full": "on"}
    assert len(posted) < 50, len(posted)  # the page posts a few fields, not one per line
    preview = client.post(url, posted)
    assert preview.status_code == 200, preview.status_code  # before: 400, > 1,000 fields
    body = preview.content.decode()
    assert "Total credited (gross)" in body and "everything not credited yet" in body
    issued = client.post(url, {**posted, "confirm": "1"})
    assert issued.status_code == 302
    note = CreditNote.objects.get(invoice=invoice)
    assert note.total_minor == invoice.total_minor  # everything
    assert note.lines.count() == invoice.lines.count()


def test_search_shows_a_page_of_lines_and_posts_only_those(demo):
    client = signed_in("accountant")
    invoice = _sectioned()
    _grow(invoice, 120)
    url = reverse("web:credit_note_new", kwargs={"invoice_id": invoice.pk})
    html = client.get(url, {"q": "Extra port"}).content.decode()
    assert len(re.findall(r'name="line_\d+"', html)) == 25  # one page, not 120
    assert "Only the first 25 matching lines are shown" in html
    one = invoice.lines.get(description="Extra port 117")
    found = client.post(
        url, {"reason": "x", "date": _today(), "q": "Extra port 117", "search": "1"}
    ).content.decode()
    assert re.findall(r'name="line_(\d+)"', found) == [str(one.pk)]
    assert "left to credit 1.00" in found and "This field is required" not in found


def test_hand_worked_partial_credit_through_the_search(demo, monkeypatch):
    """A small sectioned invoice through the search path (threshold lowered to 1 line):
    2.00 on line A and 1.00 on line B, both 19 % net: net 3.00 + VAT 0.57 = 3.57."""
    monkeypatch.setattr("ispbill.web.views_finance.CREDIT_FORM_ALL_LINES_MAX", 1)
    client = signed_in("accountant")
    invoice = _sectioned()
    a, b = list(
        invoice.lines.filter(tax_rate_bp=1900, amount_minor__gte=200).order_by("position")[:2]
    )
    url = reverse("web:credit_note_new", kwargs={"invoice_id": invoice.pk})
    assert 'name="line_' not in client.get(url).content.decode()
    base = {"reason": "Outage", "date": _today()}

    # search A by its position, enter 2.00; search B: A's amount is kept (and posted)
    html = client.post(url, {**base, "q": str(a.position), "search": "1"}).content.decode()
    assert f'name="line_{a.pk}"' in html
    html = client.post(
        url, {**base, f"line_{a.pk}": "2.00", "q": str(b.position), "search": "1"}
    ).content.decode()
    assert f'name="line_{a.pk}"' in html and 'value="2.00"' in html
    assert f'name="line_{b.pk}"' in html and "Lines with an amount entered (1)" in html

    entered = {**base, f"line_{a.pk}": "2.00", f"line_{b.pk}": "1.00", "q": str(b.position)}
    preview = client.post(url, entered).content.decode()
    assert "Total credited (gross)" in preview and "3.57" in preview
    assert "the amounts entered on 2 lines" in preview
    assert client.post(url, {**entered, "confirm": "1"}).status_code == 302
    note = CreditNote.objects.get(invoice=invoice)
    assert (note.net_minor, note.tax_minor, note.total_minor) == (300, 57, 357)
    assert {(cl.invoice_line_id, cl.amount_minor) for cl in note.lines.all()} == {
        (a.pk, 200),
        (b.pk, 100),
    }


@pytest.mark.parametrize("many", [False, True])
def test_a_line_of_another_invoice_is_a_form_error(demo, monkeypatch, many):
    if many:
        monkeypatch.setattr("ispbill.web.views_finance.CREDIT_FORM_ALL_LINES_MAX", 1)
    client = signed_in("accountant")
    invoice = _sectioned()
    other = Invoice.objects.exclude(pk=invoice.pk).filter(status="unpaid").first()
    foreign = other.lines.first()
    url = reverse("web:credit_note_new", kwargs={"invoice_id": invoice.pk})
    for extra in ({}, {"confirm": "1"}):
        response = client.post(
            url, {"reason": "x", "date": _today(), f"line_{foreign.pk}": "1.00", **extra}
        )
        assert response.status_code == 200
        assert "not lines of this invoice" in response.content.decode()
    assert not CreditNote.objects.filter(invoice__in=[invoice, other]).exists()


def test_partner_cannot_open_or_post_another_tenants_form(demo, monkeypatch):
    monkeypatch.setattr("ispbill.web.views_finance.CREDIT_FORM_ALL_LINES_MAX", 1)
    invoice = _sectioned()
    line = invoice.lines.first()
    url = reverse("web:credit_note_new", kwargs={"invoice_id": invoice.pk})
    client = signed_in("alpenfunk")
    assert client.get(url, {"q": line.description}).status_code == 404
    posted = {"reason": "x", "date": _today(), f"line_{line.pk}": "1.00", "confirm": "1"}
    assert client.post(url, posted).status_code == 404
    assert client.post(url, {**posted, "search": "1", "q": "a"}).status_code == 404
    assert not CreditNote.objects.filter(invoice=invoice).exists()
