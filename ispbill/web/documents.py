"""PDFs for download: stored files when there are some, else rendered now from the issued
document's own data (its copied lines and snapshots, never live records)."""

from __future__ import annotations

from django.http import HttpResponse

from ispbill.invoicing.models import CreditNote, Invoice
from ispbill.invoicing.pdfs import credit_note_pdf, receipt_pdf
from ispbill.invoicing.sending import invoice_pdf
from ispbill.payments.models import Payment


def pdf_response(content: bytes, name: str) -> HttpResponse:
    """A PDF shown in the browser, saved as ``<name>.pdf``."""
    safe = "".join(ch for ch in name if ch.isalnum() or ch in "-_") or "document"
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{safe}.pdf"'
    return response


def invoice_pdf_response(invoice: Invoice) -> HttpResponse:
    return pdf_response(invoice_pdf(invoice), f"invoice-{invoice.number or invoice.pk}")


def credit_note_pdf_response(note: CreditNote) -> HttpResponse:
    return pdf_response(credit_note_pdf(note), f"credit-note-{note.number or note.pk}")


def receipt_pdf_response(payment: Payment) -> HttpResponse:
    return pdf_response(receipt_pdf(payment), f"receipt-{payment.date:%Y-%m-%d}-{payment.pk}")
