"""Invoice PDFs for download: the stored file when there is one, else rendered now from the
issued document's own data (its copied lines and snapshots, never live records)."""

from __future__ import annotations

from django.http import HttpResponse

from ispbill.invoicing.models import Invoice
from ispbill.invoicing.sending import invoice_pdf


def invoice_pdf_bytes(invoice: Invoice) -> bytes:
    return invoice_pdf(invoice)


def invoice_pdf_response(invoice: Invoice) -> HttpResponse:
    response = HttpResponse(invoice_pdf_bytes(invoice), content_type="application/pdf")
    safe = "".join(ch for ch in invoice.number if ch.isalnum() or ch in "-_") or str(invoice.pk)
    response["Content-Disposition"] = f'inline; filename="invoice-{safe}.pdf"'
    return response
