"""Sending an invoice by email from its page, and the PDF links of receipts, statements and
credit notes in the panels and the customer portal."""

from __future__ import annotations

from datetime import date

import pytest
from django.core import mail
from django.urls import reverse

from ispbill.accounts.models import User
from ispbill.core.models import AuditEvent
from ispbill.customers.models import Customer
from ispbill.invoicing.models import CreditNote, Invoice
from ispbill.partners.models import Partner
from ispbill.payments.credit_notes import credit_note_issue
from ispbill.payments.models import Payment

from .conftest import signed_in

pytestmark = pytest.mark.django_db


def partner(name: str) -> Partner:
    return Partner.objects.get(name=name)


def assert_pdf(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_operator_sends_an_invoice_by_email(demo, django_capture_on_commit_callbacks):
    invoice = Invoice.objects.exclude(customer_snapshot__email="").order_by("pk").first()
    client = signed_in("admin")
    url = reverse("web:invoice", kwargs={"invoice_id": invoice.pk})
    html = client.get(url).content.decode()
    send_url = reverse("web:invoice_send", kwargs={"invoice_id": invoice.pk})
    assert f'action="{send_url}"' in html and "data-confirm" in html
    assert f'value="{invoice.customer_snapshot["email"]}"' in html
    assert 'for="id_to"' in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(send_url, {"to": "books@example.org"}, follow=True)
    assert response.redirect_chain[-1][0] == url
    # Its commit callbacks run after the view here (the test's transaction): as with a
    # broker, the view finds it queued (tests/web/test_send_outcome.py: as served).
    assert "is queued and on its way to books@example.org" in response.content.decode()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["books@example.org"]
    (name, content, mimetype) = message.attachments[0]
    assert mimetype == "application/pdf" and content.startswith(b"%PDF")
    assert invoice.number in name
    assert AuditEvent.objects.filter(action="invoice.sent", object_id=str(invoice.pk)).exists()


def test_send_shows_a_bad_address_next_to_the_field(demo, django_capture_on_commit_callbacks):
    invoice = Invoice.objects.order_by("pk").first()
    client = signed_in("admin")
    send_url = reverse("web:invoice_send", kwargs={"invoice_id": invoice.pk})
    page = client.get(send_url).content.decode()
    assert 'for="id_to"' in page and "Send invoice" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(send_url, {"to": "not an address"})
    html = response.content.decode()
    assert response.status_code == 200 and "has-error" in html and "valid email" in html
    with django_capture_on_commit_callbacks(execute=True):
        empty = client.post(send_url, {"to": ""})
    assert empty.status_code == 200 and "This field is required" in empty.content.decode()
    assert mail.outbox == []


def test_send_in_the_partner_panel(demo, django_capture_on_commit_callbacks):
    own = Invoice.objects.filter(partner=partner("Alpenfunk")).order_by("pk").first()
    other = Invoice.objects.filter(partner=partner("CityNet Resellers")).order_by("pk").first()
    alpen = signed_in("alpenfunk")
    page = alpen.get(reverse("web:invoice", kwargs={"invoice_id": own.pk})).content.decode()
    assert "Send invoice by email" in page
    with django_capture_on_commit_callbacks(execute=True):
        sent = alpen.post(
            reverse("web:invoice_send", kwargs={"invoice_id": own.pk}), {"to": "a@example.org"}
        )
        foreign = alpen.post(
            reverse("web:invoice_send", kwargs={"invoice_id": other.pk}), {"to": "a@example.org"}
        )
    assert sent.status_code == 302 and foreign.status_code == 404
    assert len(mail.outbox) == 1
    # A percentage partner does not write finance documents: no button, and 403.
    city = signed_in("citynet")
    page = city.get(reverse("web:invoice", kwargs={"invoice_id": other.pk})).content.decode()
    assert "Send invoice by email" not in page
    url = reverse("web:invoice_send", kwargs={"invoice_id": other.pk})
    assert city.post(url, {"to": "a@example.org"}).status_code == 403


def test_receipt_pdf_for_the_owner_only(demo):
    payment = Payment.objects.filter(partner=partner("Alpenfunk")).order_by("pk").first()
    url = reverse("web:payment_receipt_pdf", kwargs={"payment_id": payment.pk})
    admin = signed_in("admin")
    assert_pdf(admin.get(url))
    listed = admin.get(reverse("web:payments"), {"q": payment.reference})
    assert url in listed.content.decode()
    customer_page = admin.get(reverse("web:customer", kwargs={"customer_id": payment.customer_id}))
    assert url in customer_page.content.decode()
    assert_pdf(signed_in("alpenfunk").get(url))
    assert signed_in("citynet").get(url).status_code == 404


def test_credit_note_pdf_for_the_owner_only(demo):
    note = CreditNote.objects.select_related("invoice").order_by("pk").first()
    assert note is not None and note.partner_id == partner("CityNet Resellers").pk
    url = reverse("web:credit_note_pdf", kwargs={"credit_note_id": note.pk})
    admin = signed_in("admin")
    assert_pdf(admin.get(url))
    invoice_page = admin.get(reverse("web:invoice", kwargs={"invoice_id": note.invoice_id}))
    assert url in invoice_page.content.decode()
    assert_pdf(signed_in("citynet").get(url))
    assert signed_in("alpenfunk").get(url).status_code == 404


def test_customer_statement_pdf_for_the_owner_only(demo):
    customer = Customer.objects.filter(partner=partner("CityNet Resellers")).order_by("pk")[0]
    url = reverse("web:customer_statement_pdf", kwargs={"customer_id": customer.pk})
    admin = signed_in("admin")
    statement = admin.get(reverse("web:customer_statement", kwargs={"customer_id": customer.pk}))
    assert url + "?start=" in statement.content.decode()
    assert_pdf(admin.get(url, {"start": "2026-01-01", "end": "2026-04-30"}))
    assert_pdf(signed_in("citynet").get(url))
    assert signed_in("alpenfunk").get(url).status_code == 404


def test_portal_pdfs_of_the_customer_only(demo):
    me = User.objects.get(username="customer").customer
    assert me is not None
    invoice = Invoice.objects.filter(customer=me).order_by("pk").first()
    note = credit_note_issue(invoice=invoice, on=date(2026, 4, 1), reason="Goodwill", actor="t")
    payment = Payment.objects.filter(customer=me).order_by("pk").first()
    assert payment is not None
    other = Customer.objects.filter(partner=me.partner).exclude(pk=me.pk).order_by("pk")
    other_payment = Payment.objects.filter(customer__in=other).order_by("pk").first()
    other_note = CreditNote.objects.exclude(customer=me).order_by("pk").first()
    client = signed_in("customer")

    receipt = reverse("web:portal_receipt_pdf", kwargs={"payment_id": payment.pk})
    credit = reverse("web:portal_credit_note_pdf", kwargs={"credit_note_id": note.pk})
    statement = reverse("web:portal_statement_pdf")
    assert_pdf(client.get(receipt))
    assert_pdf(client.get(credit))
    assert_pdf(client.get(statement, {"start": "2026-01-01"}))
    invoices_page = client.get(reverse("web:portal_invoices")).content.decode()
    assert receipt in invoices_page and credit in invoices_page
    assert statement in client.get(reverse("web:portal_statement")).content.decode()
    assert receipt in client.get(reverse("web:portal")).content.decode()

    foreign_receipt = reverse("web:portal_receipt_pdf", kwargs={"payment_id": other_payment.pk})
    foreign_credit = reverse("web:portal_credit_note_pdf", kwargs={"credit_note_id": other_note.pk})
    assert client.get(foreign_receipt).status_code == 404
    assert client.get(foreign_credit).status_code == 404
    # The panel's links are not the portal's: a customer has no finance.read.
    panel = reverse("web:payment_receipt_pdf", kwargs={"payment_id": payment.pk})
    assert client.get(panel).status_code == 403
