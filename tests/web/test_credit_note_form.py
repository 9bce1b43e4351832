"""The credit note form: a partial credit never silently becomes a full one, and the total
credited (gross) is shown before the credit note is issued — for every role that may issue
one (operator admin and accountant, an own-invoicing partner)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from ispbill.invoicing.models import CreditNote, Invoice

from .conftest import signed_in

pytestmark = pytest.mark.django_db


def _today() -> str:
    return timezone.localdate().isoformat()


ROLES = [("admin", None), ("accountant", None), ("alpenfunk", "Alpenfunk")]


def _invoice(partner_name: str | None) -> Invoice:
    qs = Invoice.objects.filter(status="unpaid", kind="recurring", lines__tax_rate_bp=1900)
    if partner_name:
        qs = qs.filter(issuer__name=partner_name)
    else:
        qs = qs.exclude(issuer__name="Alpenfunk")
    return qs.order_by("id").distinct().first()


@pytest.mark.parametrize(("username", "issuer"), ROLES)
def test_partial_credit_never_becomes_full(demo, username, issuer):
    client = signed_in(username)
    invoice = _invoice(issuer)
    assert invoice is not None
    line = invoice.lines.filter(tax_rate_bp=1900).order_by("position").first()
    url = reverse("web:credit_note_new", kwargs={"invoice_id": invoice.pk})

    form = client.get(url).content.decode()
    assert 'name="full"' in form and 'name="full" checked' not in form  # starts unticked

    base = {"reason": "Outage", "date": _today()}
    both = client.post(url, {**base, "full": "on", f"line_{line.pk}": "1.00"})
    assert both.status_code == 200
    assert "not both" in both.content.decode()
    only_reason = client.post(url, base)
    assert only_reason.status_code == 200
    assert "Enter an amount on at least one line, or tick" in only_reason.content.decode()
    assert not CreditNote.objects.filter(invoice=invoice).exists()

    # 1.00 as printed on the line, 19 % VAT: net 1.00 + 0.19 = 1.19, or gross 1.00 = 0.84 + 0.16
    preview = client.post(url, {**base, f"line_{line.pk}": "1.00"})
    html = preview.content.decode()
    assert preview.status_code == 200 and "Total credited (gross)" in html
    expected = "1.00" if invoice.prices_include_tax else "1.19"
    assert "Issue credit note of" in html and expected in html
    assert not CreditNote.objects.filter(invoice=invoice).exists()

    issued = client.post(url, {**base, f"line_{line.pk}": "1.00", "confirm": "1"})
    assert issued.status_code == 302
    note = CreditNote.objects.get(invoice=invoice)
    assert note.total_minor == (100 if invoice.prices_include_tax else 119)
    assert note.total_minor < invoice.total_minor


def test_edit_from_the_confirmation_keeps_the_entries(demo):
    client = signed_in("accountant")
    invoice = _invoice(None)
    line = invoice.lines.order_by("position").first()
    url = reverse("web:credit_note_new", kwargs={"invoice_id": invoice.pk})
    back = client.post(
        url, {"reason": "Outage", "date": _today(), f"line_{line.pk}": "2.00", "edit": "1"}
    )
    html = back.content.decode()
    assert back.status_code == 200 and 'value="2.00"' in html and "Outage" in html
    assert "Total credited (gross)" not in html
    assert not CreditNote.objects.filter(invoice=invoice).exists()


def test_over_crediting_is_refused_at_the_preview(demo):
    client = signed_in("accountant")
    invoice = _invoice(None)
    line = invoice.lines.order_by("position").first()
    url = reverse("web:credit_note_new", kwargs={"invoice_id": invoice.pk})
    too_much = f"{line.amount_minor / 100 + 1:.2f}"
    response = client.post(url, {"reason": "Outage", "date": _today(), f"line_{line.pk}": too_much})
    assert response.status_code == 200 and "left to credit" in response.content.decode()
    assert "Total credited (gross)" not in response.content.decode()
