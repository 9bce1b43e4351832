"""Invoices (read, list, PDF, send by email), their credit notes, and aggregated invoices."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.db import connection
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django_scopes import scope
from django_scopes.state import get_scope
from ninja import Field, Query, Router, Schema, Status

from ispbill.api.context import actor
from ispbill.api.errors import ERROR_RESPONSES, ApiError
from ispbill.api.guard import guard, resolved
from ispbill.api.idempotency import idempotency_openapi, idempotent
from ispbill.api.schemas import (
    AmountText,
    Day,
    Id,
    InSchema,
    ListParams,
    MoneyOut,
    Name300,
    OutModel,
    Page,
    Str64,
    Str254,
    amount_minor,
    money_out,
    ordered,
    page,
    page_of,
)
from ispbill.core.errors import DomainValidationError
from ispbill.core.tenancy import current_customer_id, current_partner_ids
from ispbill.invoicing.detail import invoice_detail_csv, invoice_has_detail
from ispbill.invoicing.documents import invoice_detail_filename
from ispbill.invoicing.models import CreditNote, Invoice, InvoiceKind, InvoiceStatus
from ispbill.invoicing.pdfs import PdfPendingError
from ispbill.invoicing.sending import invoice_pdf, invoice_send
from ispbill.payments.credit_notes import credit_note_issue

router = Router(tags=["invoices"])

StatusName = Literal["unpaid", "partially_paid", "paid", "credited"]
KindName = Literal["recurring", "one_off", "aggregated", "wholesale"]


class InvoiceLineOut(Schema):
    id: int
    position: int
    section: str
    section_customer_id: int | None
    tariff_id: int | None
    description: str
    period_start: dt.date | None
    period_end: dt.date | None
    quantity: int
    unit_price: MoneyOut
    amount: MoneyOut
    tax_rate_bp: int
    tax_category: str


class TaxGroupOut(Schema):
    rate_bp: int
    category: str
    net: MoneyOut
    tax: MoneyOut


class InvoiceSummaryOut(OutModel):
    id: int
    number: str
    kind: str
    partner_id: int
    issuer_id: int
    customer_id: int
    billing_run_id: int | None
    billing_date: dt.date | None
    issue_date: dt.date
    due_date: dt.date
    status: str
    overdue: bool
    currency: str
    prices_include_tax: bool
    net: MoneyOut
    tax: MoneyOut
    total: MoneyOut
    paid: MoneyOut = Field(..., description="Payments allocated")
    credited: MoneyOut
    open: MoneyOut = Field(..., description="total - paid - credited")
    paid_at: dt.date | None
    notes: str


class SectionOut(Schema):
    key: str
    title: str
    customer_id: int | None
    subtotal: MoneyOut


class InvoiceOut(InvoiceSummaryOut):
    lines: list[InvoiceLineOut]
    taxes: list[TaxGroupOut]
    sections: list[SectionOut]
    credit_note_ids: list[int]
    pdf_stored: bool = Field(..., description="The PDF rendered at issue is stored")
    pdf_error: str = Field(
        ...,
        description="Why the stored PDF used the default template, or why it is pending "
        "(docs/documents.md, Limits); empty when the issuer's template rendered it",
    )


# The columns of a summary: lists read these values only, never model instances.
SUMMARY_COLUMNS = (
    "id",
    "number",
    "kind",
    "partner_id",
    "issuer_id",
    "customer_id",
    "billing_run_id",
    "billing_date",
    "issue_date",
    "due_date",
    "status",
    "currency",
    "prices_include_tax",
    "net_minor",
    "tax_minor",
    "total_minor",
    "allocated_minor",
    "credited_minor",
    "paid_at",
    "notes",
)


def invoice_summary(inv: Invoice) -> dict[str, Any]:
    return summary_of_row({column: getattr(inv, column) for column in SUMMARY_COLUMNS})


def summary_of_row(row: dict[str, Any], today: dt.date | None = None) -> dict[str, Any]:
    """The summary of one invoice from its ``SUMMARY_COLUMNS`` values."""
    cur = row["currency"]
    is_open = row["status"] in (InvoiceStatus.UNPAID, InvoiceStatus.PARTIALLY_PAID)
    total, allocated, credited = row["total_minor"], row["allocated_minor"], row["credited_minor"]
    return {
        "id": row["id"],
        "number": row["number"],
        "kind": row["kind"],
        "partner_id": row["partner_id"],
        "issuer_id": row["issuer_id"],
        "customer_id": row["customer_id"],
        "billing_run_id": row["billing_run_id"],
        "billing_date": row["billing_date"],
        "issue_date": row["issue_date"],
        "due_date": row["due_date"],
        "status": row["status"],
        "overdue": is_open and row["due_date"] < (today or timezone.localdate()),
        "currency": cur,
        "prices_include_tax": row["prices_include_tax"],
        "net": money_out(row["net_minor"], cur),
        "tax": money_out(row["tax_minor"], cur),
        "total": money_out(total, cur),
        "paid": money_out(allocated, cur),
        "credited": money_out(credited, cur),
        "open": money_out(total - allocated - credited, cur),
        "paid_at": row["paid_at"],
        "notes": row["notes"],
    }


def invoice_detail(inv: Invoice) -> dict[str, Any]:
    cur = inv.currency
    lines = list(inv.lines.all())
    sections: dict[str, dict[str, Any]] = {}
    if inv.has_sections and any(ln.section_customer_id or ln.section for ln in lines):
        for line in lines:
            key = str(line.section_customer_id or line.section or "general")
            section = sections.setdefault(
                key,
                {
                    "key": key,
                    "title": line.section or key,
                    "customer_id": line.section_customer_id,
                    "subtotal_minor": 0,
                },
            )
            section["subtotal_minor"] += line.amount_minor
    return {
        **invoice_summary(inv),
        "lines": [
            {
                "id": line.pk,
                "position": line.position,
                "section": line.section,
                "section_customer_id": line.section_customer_id,
                "tariff_id": line.tariff_id,
                "description": line.description,
                "period_start": line.period_start,
                "period_end": line.period_end,
                "quantity": line.quantity,
                "unit_price": money_out(line.unit_price_minor, cur),
                "amount": money_out(line.amount_minor, cur),
                "tax_rate_bp": line.tax_rate_bp,
                "tax_category": line.tax_category,
            }
            for line in lines
        ],
        "taxes": [
            {
                "rate_bp": t.rate_bp,
                "category": t.category,
                "net": money_out(t.net_minor, cur),
                "tax": money_out(t.tax_minor, cur),
            }
            for t in inv.taxes.all()
        ],
        "sections": [
            {
                "key": s["key"],
                "title": s["title"],
                "customer_id": s["customer_id"],
                "subtotal": money_out(s["subtotal_minor"], cur),
            }
            for s in sections.values()
        ],
        "credit_note_ids": sorted(
            CreditNote.objects.filter(invoice=inv).values_list("pk", flat=True)
        ),
        "pdf_stored": bool(inv.pdf),
        "pdf_error": inv.pdf_error,
    }


class InvoiceFilters(ListParams):
    customer_id: Id | None = None
    partner_id: Id | None = None
    issuer_id: Id | None = None
    billing_run_id: Id | None = None
    status: StatusName | None = None
    kind: KindName | None = None
    overdue: bool | None = Field(None, description="Unpaid or partly paid past the due date")
    issued_from: Day | None = None
    issued_to: Day | None = None
    number: Str64 | None = Field(None, description="Exact invoice number")
    sort: Literal[
        "id",
        "-id",
        "issue_date",
        "-issue_date",
        "due_date",
        "-due_date",
        "total_minor",
        "-total_minor",
        "number",
        "-number",
    ] = "-id"


def _filtered(filters: InvoiceFilters, kind: str | None = None) -> Any:
    qs = Invoice.objects.all()
    kind = kind or filters.kind
    if kind:
        qs = qs.filter(kind=kind)
    for name in ("customer_id", "partner_id", "issuer_id", "billing_run_id", "status", "number"):
        value = getattr(filters, name)
        if value:
            qs = qs.filter(**{name: value})
    if filters.issued_from:
        qs = qs.filter(issue_date__gte=filters.issued_from)
    if filters.issued_to:
        qs = qs.filter(issue_date__lte=filters.issued_to)
    if filters.overdue is not None:
        overdue = {
            "status__in": [InvoiceStatus.UNPAID, InvoiceStatus.PARTIALLY_PAID],
            "due_date__lt": timezone.localdate(),
        }
        qs = qs.filter(**overdue) if filters.overdue else qs.exclude(**overdue)
    return ordered(qs, filters.sort)


def invoice_page(filters: InvoiceFilters, kind: str | None = None) -> dict[str, Any]:
    """One page of invoice summaries, read as values (no model instances, no snapshots).

    A partner's staff read their partner's invoices and those billed to the partner's
    account: ``partner_id IN (...) OR customer_id IN (...)``, which PostgreSQL answers by
    sorting every match. Read as two parts instead, each in index order, and merged
    (``page_of``): the partner's own invoices under the scope narrowed to the partner, and
    the account's. A page of a partner with 400,000 invoices then costs what a customer's
    does (docs/performance.md, "Reads at 1,000,000 invoices")."""
    today = timezone.localdate()

    def present(row: dict[str, Any]) -> dict[str, Any]:
        return summary_of_row(row, today)

    partners = current_partner_ids()
    accounts = [int(a) for a in get_scope().get("account") or ()]
    if (
        partners is None
        or not accounts
        or current_customer_id() is not None
        or not connection.features.supports_slicing_ordering_in_compound
    ):
        return page(_filtered(filters, kind).values(*SUMMARY_COLUMNS), filters, present)
    with scope(partner=partners, customer=None, account=()):
        own = _filtered(filters, kind).values(*SUMMARY_COLUMNS)
    billed_to_account = (
        _filtered(filters, kind)
        .filter(customer_id__in=accounts)
        .exclude(partner_id__in=partners)
        .values(*SUMMARY_COLUMNS)
    )
    return page_of([own, billed_to_account], filters, present)


@router.get("/invoices", response={200: Page[InvoiceSummaryOut], **ERROR_RESPONSES})
@guard("finance.read")
def invoice_list(request: HttpRequest, filters: Query[InvoiceFilters]) -> Any:
    return invoice_page(filters)


@router.get("/invoices/{invoice_id}", response={200: InvoiceOut, **ERROR_RESPONSES})
@guard("finance.read")
def invoice_read(request: HttpRequest, invoice_id: int) -> Any:
    return invoice_detail(resolved(request, "invoice_id"))


_PDF = {
    "responses": {
        "200": {
            "description": "The invoice as PDF (Factur-X when stored at issue)",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


@router.get("/invoices/{invoice_id}/pdf", response=ERROR_RESPONSES, openapi_extra=_PDF)
@guard("finance.read")
def invoice_pdf_view(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """The stored PDF; rendered from the invoice's own data if none is stored yet."""
    invoice = resolved(request, "invoice_id")
    try:
        content = invoice_pdf(invoice)
    except PdfPendingError as exc:  # docs/documents.md, "Limits"
        raise ApiError(409, str(exc), code="pdf_pending") from None
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
    return response


_DETAIL_CSV = {
    "responses": {
        "200": {
            "description": "The line detail of an aggregated or wholesale invoice as CSV "
            "(UTF-8), one row per line in section order: position, sub_customer_reference, "
            "sub_customer, description, period_start, period_end, quantity, unit_price, "
            "amount, tax_rate, tax_category, currency, prorated_days, period_days, "
            "discount_percent, discount_days; amounts and the discount as exact decimals. "
            "404 for an invoice that is neither aggregated nor wholesale.",
            "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


@router.get(
    "/invoices/{invoice_id}/detail.csv", response=ERROR_RESPONSES, openapi_extra=_DETAIL_CSV
)
@guard("finance.read")
def invoice_detail_csv_view(request: HttpRequest, invoice_id: int) -> StreamingHttpResponse:
    """The line detail of an aggregated or wholesale invoice (the file a summary PDF names),
    streamed; docs/documents.md, "Summary of a large aggregated invoice"."""
    invoice = resolved(request, "invoice_id")
    if not invoice_has_detail(invoice):
        raise ApiError(
            404, "Only aggregated and wholesale invoices have a line detail.", code="not_found"
        )
    response = StreamingHttpResponse(
        invoice_detail_csv(invoice), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{invoice_detail_filename(invoice)}"'
    return response


class SendIn(InSchema):
    to: Str254 | None = Field(None, description="Default: the customer's email address")


class SentOut(Schema):
    invoice_id: int
    to: str
    email_id: int = Field(
        ..., description="Its e-mail: GET /emails/{email_id} tells whether it went"
    )


@router.post("/invoices/{invoice_id}/send", response={202: SentOut, **ERROR_RESPONSES})
@guard("finance.write")
def invoice_send_view(request: HttpRequest, invoice_id: int, payload: SendIn) -> Any:
    """Email the invoice with its PDF attached (sent after the request commits)."""
    invoice = resolved(request, "invoice_id")
    delivery = invoice_send(invoice=invoice, to=payload.to or "", actor=actor(request))
    return Status(202, {"invoice_id": invoice.pk, "to": delivery.to, "email_id": delivery.pk})


# -- credit notes ----------------------------------------------------------------------------


class CreditLineIn(InSchema):
    invoice_line_id: Id
    amount: AmountText = Field(..., description="As printed on the line: net, or gross")


class CreditNoteIn(InSchema):
    reason: Name300
    issue_date: Day | None = Field(None, description="Default: today")
    lines: list[CreditLineIn] | None = Field(
        None, max_length=1000, description="Omit to credit everything not credited yet"
    )


class CreditNoteLineOut(Schema):
    position: int
    invoice_line_id: int | None
    description: str
    amount: MoneyOut
    tax_rate_bp: int


class CreditNoteOut(Schema):
    id: int
    number: str
    invoice_id: int
    customer_id: int
    issuer_id: int
    issue_date: dt.date
    reason: str
    currency: str
    net: MoneyOut
    tax: MoneyOut
    total: MoneyOut
    lines: list[CreditNoteLineOut]


def credit_note_out(cn: CreditNote) -> dict[str, Any]:
    cur = cn.currency
    return {
        "id": cn.pk,
        "number": cn.number,
        "invoice_id": cn.invoice_id,
        "customer_id": cn.customer_id,
        "issuer_id": cn.issuer_id,
        "issue_date": cn.issue_date,
        "reason": cn.reason,
        "currency": cur,
        "net": money_out(cn.net_minor, cur),
        "tax": money_out(cn.tax_minor, cur),
        "total": money_out(cn.total_minor, cur),
        "lines": [
            {
                "position": line.position,
                "invoice_line_id": line.invoice_line_id,
                "description": line.description,
                "amount": money_out(line.amount_minor, cur),
                "tax_rate_bp": line.tax_rate_bp,
            }
            for line in cn.lines.all()
        ],
    }


@router.post(
    "/invoices/{invoice_id}/credit-notes",
    response={201: CreditNoteOut, **ERROR_RESPONSES},
    openapi_extra=idempotency_openapi(),
)
@guard("finance.write")
@idempotent()
def credit_note_create(request: HttpRequest, invoice_id: int, payload: CreditNoteIn) -> Any:
    """Credit the invoice totally (no ``lines``) or partly. Send an ``Idempotency-Key``."""
    invoice = resolved(request, "invoice_id")
    lines: dict[int, int] | None = None
    if payload.lines is not None:
        lines = {}
        for item in payload.lines:
            if item.invoice_line_id in lines:
                raise DomainValidationError.for_fields(
                    {"lines": f"Line {item.invoice_line_id} is listed twice."}
                )
            lines[item.invoice_line_id] = amount_minor(
                item.amount, invoice.currency, field="lines.amount"
            )
    cn = credit_note_issue(
        invoice=invoice,
        on=payload.issue_date or timezone.localdate(),
        reason=payload.reason,
        lines=lines,
        actor=actor(request),
    )
    return 201, CreditNoteOut(**credit_note_out(cn)).model_dump(mode="json")


class CreditNoteFilters(ListParams):
    invoice_id: Id | None = None
    customer_id: Id | None = None
    sort: Literal["id", "-id", "issue_date", "-issue_date"] = "-id"


@router.get("/credit-notes", response={200: Page[CreditNoteOut], **ERROR_RESPONSES})
@guard("finance.read")
def credit_note_list(request: HttpRequest, filters: Query[CreditNoteFilters]) -> Any:
    qs = CreditNote.objects.all()
    if filters.invoice_id:
        qs = qs.filter(invoice_id=filters.invoice_id)
    if filters.customer_id:
        qs = qs.filter(customer_id=filters.customer_id)
    return page(ordered(qs, filters.sort), filters, credit_note_out)


@router.get("/credit-notes/{credit_note_id}", response={200: CreditNoteOut, **ERROR_RESPONSES})
@guard("finance.read")
def credit_note_read(request: HttpRequest, credit_note_id: int) -> Any:
    return credit_note_out(resolved(request, "credit_note_id"))


# -- aggregated invoices -----------------------------------------------------------------------


@router.get(
    "/aggregated-invoices",
    response={200: Page[InvoiceSummaryOut], **ERROR_RESPONSES},
    tags=["aggregated invoices"],
)
@guard("finance.read")
def aggregated_invoice_list(request: HttpRequest, filters: Query[InvoiceFilters]) -> Any:
    """Invoices the operator issued to aggregated partners' accounts."""
    return invoice_page(filters, kind=InvoiceKind.AGGREGATED)


@router.get(
    "/aggregated-invoices/{invoice_id}",
    response={200: InvoiceOut, **ERROR_RESPONSES},
    tags=["aggregated invoices"],
)
@guard("finance.read")
def aggregated_invoice_read(request: HttpRequest, invoice_id: int) -> Any:
    """With a section (subtotal) per sub-customer."""
    invoice = resolved(request, "invoice_id")
    if invoice.kind != InvoiceKind.AGGREGATED:
        from django.http import Http404

        raise Http404
    return invoice_detail(invoice)
