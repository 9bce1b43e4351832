"""Sending issued invoices by email, with their PDF attached."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction

from ispbill.core.audit import audit_record
from ispbill.core.errors import DomainValidationError
from ispbill.invoicing.models import Invoice

__all__ = ["invoice_pdf", "invoice_send"]


def invoice_pdf(invoice: Invoice) -> bytes:
    """The stored PDF of the invoice. One not rendered yet (rendering at issue switched off,
    or still queued) is rendered now from its document data, built from the invoice alone,
    with the issuer's template and the Factur-X XML, and stored: later reads return the same
    file."""
    from ispbill.invoicing.documents import invoice_document_data
    from ispbill.invoicing.pdfs import invoices_pdf_render, issuer_document_pdf, stored_pdf_read

    stored = stored_pdf_read(invoice.pdf)
    if stored is not None:
        return stored
    invoices_pdf_render(invoice_ids=[invoice.pk])
    path = Invoice.objects.filter(pk=invoice.pk).values_list("pdf", flat=True).first() or ""
    stored = stored_pdf_read(path)
    if stored is not None:
        return stored
    return issuer_document_pdf(issuer_id=invoice.issuer_id, data=invoice_document_data(invoice))


@transaction.atomic
def invoice_send(*, invoice: Invoice, to: str = "", actor: Any = None) -> str:
    """Email the invoice (PDF attached) to ``to`` or the customer's address, after commit.
    Returns the address it goes to."""
    address = (to or str(invoice.customer_snapshot.get("email") or "")).strip()
    if not address:
        raise DomainValidationError.for_fields(
            {"to": "The customer has no email address; give one to send the invoice to."}
        )
    try:
        validate_email(address)
    except ValidationError as exc:
        raise DomainValidationError.for_fields(
            {"to": f"{address!r} is not an email address."}
        ) from exc
    from ispbill.invoicing.emails import invoice_email_context
    from ispbill.invoicing.templates import issuer_email_render

    pdf = invoice_pdf(invoice)
    text = issuer_email_render(invoice.issuer_id, "email_invoice", invoice_email_context(invoice))
    message = EmailMessage(
        subject=text.subject,
        body=text.body,
        from_email=str(invoice.issuer_snapshot.get("email") or "") or None,
        to=[address],
    )
    message.attach(f"{invoice.number}.pdf", pdf, "application/pdf")
    audit_record(action="invoice.sent", obj=invoice, actor=actor, changes={"to": address})
    transaction.on_commit(message.send)
    return address
