"""PDFs for download: stored files when there are some, else rendered now from the issued
document's own data (its copied lines and snapshots, never live records)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpResponse, StreamingHttpResponse

from ispbill.invoicing.detail import invoice_detail_csv, invoice_has_detail
from ispbill.invoicing.documents import invoice_detail_filename
from ispbill.invoicing.models import CreditNote, Invoice, InvoiceLine
from ispbill.invoicing.pdfs import PdfPendingError, credit_note_pdf
from ispbill.invoicing.sending import invoice_pdf
from ispbill.payments.documents import receipt_pdf
from ispbill.payments.models import Payment


def pdf_response(content: bytes, name: str) -> HttpResponse:
    """A PDF shown in the browser, saved as ``<name>.pdf``."""
    safe = "".join(ch for ch in name if ch.isalnum() or ch in "-_") or "document"
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{safe}.pdf"'
    return response


def _pdf_or_pending(render: Callable[[], bytes], name: str) -> HttpResponse:
    # A document whose issuer's template and assets fail even with the default template is
    # "PDF pending" (docs/documents.md, "Limits"): say so, never answer 500.
    try:
        content = render()
    except PdfPendingError as exc:
        return HttpResponse(str(exc), status=409, content_type="text/plain; charset=utf-8")
    return pdf_response(content, name)


def invoice_pdf_response(invoice: Invoice) -> HttpResponse:
    return _pdf_or_pending(lambda: invoice_pdf(invoice), f"invoice-{invoice.number or invoice.pk}")


def credit_note_pdf_response(note: CreditNote) -> HttpResponse:
    return _pdf_or_pending(lambda: credit_note_pdf(note), f"credit-note-{note.number or note.pk}")


def receipt_pdf_response(payment: Payment) -> HttpResponse:
    return _pdf_or_pending(
        lambda: receipt_pdf(payment), f"receipt-{payment.date:%Y-%m-%d}-{payment.pk}"
    )


def invoice_detail_response(invoice: Invoice) -> StreamingHttpResponse:
    """The line detail of an aggregated or wholesale invoice as CSV, streamed (docs/
    documents.md, "Summary of a large aggregated invoice"); 404 for any other invoice."""
    if not invoice_has_detail(invoice):
        raise Http404("Only aggregated and wholesale invoices have a line detail.")
    response = StreamingHttpResponse(
        invoice_detail_csv(invoice), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{invoice_detail_filename(invoice)}"'
    return response


def invoice_lines_shown(invoice: Invoice) -> tuple[list[InvoiceLine], int]:
    """The lines an invoice page shows and how many the invoice has: an aggregated or
    wholesale invoice shows at most AGGREGATED_DETAIL_MAX_LINES (its summary PDF's
    threshold), the rest are in its line detail CSV; any other invoice all of them."""
    if not invoice_has_detail(invoice):
        lines = list(invoice.lines.all())
        return lines, len(lines)
    shown = settings.AGGREGATED_DETAIL_MAX_LINES
    lines = list(invoice.lines.all()[: shown + 1])
    if len(lines) <= shown:
        return lines, len(lines)
    return lines[:shown], invoice.lines.count()
