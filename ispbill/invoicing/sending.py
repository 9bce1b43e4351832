"""Sending issued invoices by email, with their PDF attached."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction

from ispbill.core.audit import audit_record
from ispbill.core.errors import DomainValidationError
from ispbill.invoicing.models import Invoice

__all__ = ["invoice_pdf", "invoice_send"]


def invoice_pdf(invoice: Invoice) -> bytes:
    """The stored PDF of the invoice; rendered from its document data when none is stored
    yet (the data is built from the invoice alone, so it is the document as issued)."""
    if invoice.pdf:
        root = Path(settings.MEDIA_ROOT).resolve()
        path = (root / invoice.pdf).resolve()
        if path.is_relative_to(root) and path.is_file():
            return path.read_bytes()
    from ispbill.documents.render import document_pdf_render
    from ispbill.invoicing.documents import invoice_document_data

    return document_pdf_render(data=invoice_document_data(invoice))


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
    pdf = invoice_pdf(invoice)
    issuer = str(invoice.issuer_snapshot.get("name") or "")
    message = EmailMessage(
        subject=f"Invoice {invoice.number}",
        body=(
            f"Please find attached invoice {invoice.number} of {invoice.issue_date:%Y-%m-%d}, "
            f"due {invoice.due_date:%Y-%m-%d}.\n\n{issuer}\n"
        ),
        to=[address],
    )
    message.attach(f"{invoice.number}.pdf", pdf, "application/pdf")
    audit_record(action="invoice.sent", obj=invoice, actor=actor, changes={"to": address})
    transaction.on_commit(message.send)
    return address
