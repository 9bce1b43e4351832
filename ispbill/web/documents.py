"""Invoice PDFs for download: the stored file when there is one, else rendered now from the
issued document's own data (its copied lines and snapshots, never live records)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import HttpResponse

from ispbill.documents.render import document_pdf_render
from ispbill.invoicing.documents import invoice_document_data
from ispbill.invoicing.models import Invoice


def invoice_pdf_bytes(invoice: Invoice) -> bytes:
    if invoice.pdf:
        stored = Path(settings.MEDIA_ROOT) / invoice.pdf
        if stored.is_file():
            return stored.read_bytes()
    return document_pdf_render(data=invoice_document_data(invoice))


def invoice_pdf_response(invoice: Invoice) -> HttpResponse:
    response = HttpResponse(invoice_pdf_bytes(invoice), content_type="application/pdf")
    safe = "".join(ch for ch in invoice.number if ch.isalnum() or ch in "-_") or str(invoice.pk)
    response["Content-Disposition"] = f'inline; filename="invoice-{safe}.pdf"'
    return response
