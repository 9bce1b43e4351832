"""Commission statements of percentage partners: list, read, build every closed month,
approve (the self-billing credit note), record the payout, download PDF and XML."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from ispbill.api.context import actor
from ispbill.api.errors import ERROR_RESPONSES, ApiError
from ispbill.api.guard import guard, resolved
from ispbill.api.schemas import (
    Day,
    Id,
    InSchema,
    ListParams,
    MoneyOut,
    Name150,
    Page,
    money_out,
    ordered,
    page,
)
from ispbill.commission.selectors import commission_statements_visible
from ispbill.commission.statements import (
    commission_statement_approve,
    commission_statement_pay,
    commission_statement_pdf,
    commission_statement_xml,
    commission_statements_build_closed,
    statement_line_rows,
)
from ispbill.invoicing.pdfs import PdfPendingError
from ispbill.partners.models import CommissionStatement

router = Router(tags=["commission"])


class AccrualOut(Schema):
    date: dt.date
    source_type: str
    source_id: int
    invoice_id: int
    invoice_number: str
    customer_id: int
    customer: str = Field(..., description="The invoice's customer: name (reference)")
    rate_bp: int
    base: MoneyOut
    amount: MoneyOut


class CommissionStatementOut(Schema):
    id: int
    partner_id: int
    period_start: dt.date
    period_end: dt.date
    status: str
    number: str = Field(..., description="Self-billing credit note number; '' while a draft")
    issue_date: dt.date | None = Field(..., description="Approval date: the document's date")
    total: MoneyOut = Field(..., description="The commission, net")
    tax_rate_bp: int
    tax_category: str = Field(..., description="EN 16931: S, AE (reverse charge) or O")
    tax_note: str
    tax: MoneyOut
    gross: MoneyOut = Field(..., description="Commission plus VAT: what is paid out")
    approved_at: dt.datetime | None
    paid_at: dt.datetime | None
    payout_reference: str
    lines: list[AccrualOut]


def statement_out(st: CommissionStatement) -> dict[str, Any]:
    cur = st.currency
    return {
        "id": st.pk,
        "partner_id": st.partner_id,
        "period_start": st.period_start,
        "period_end": st.period_end,
        "status": st.status,
        "number": st.number,
        "issue_date": st.issue_date,
        "total": money_out(st.total_minor, cur),
        "tax_rate_bp": st.tax_rate_bp,
        "tax_category": st.tax_category,
        "tax_note": st.tax_note,
        "tax": money_out(st.tax_minor, cur),
        "gross": money_out(st.gross_minor, cur),
        "approved_at": st.approved_at,
        "paid_at": st.paid_at,
        "payout_reference": st.payout_reference,
        "lines": [
            {
                "date": row["line"].date,
                "source_type": row["line"].source_type,
                "source_id": row["line"].source_id,
                "invoice_id": row["line"].invoice_id,
                "invoice_number": row["invoice_number"],
                "customer_id": row["customer_id"],
                "customer": row["customer"],
                "rate_bp": row["line"].rate_bp,
                "base": money_out(row["line"].base_minor, cur),
                "amount": money_out(row["line"].amount_minor, cur),
            }
            for row in statement_line_rows(st)
        ],
    }


class CommissionStatementFilters(ListParams):
    partner_id: Id | None = None
    status: Literal["draft", "approved", "paid"] | None = None
    sort: Literal["id", "-id", "period_start", "-period_start"] = "-period_start"


@router.get(
    "/commission-statements", response={200: Page[CommissionStatementOut], **ERROR_RESPONSES}
)
@guard("commission.read")
def statement_list(request: HttpRequest, filters: Query[CommissionStatementFilters]) -> Any:
    qs = commission_statements_visible()
    if filters.partner_id:
        qs = qs.filter(partner_id=filters.partner_id)
    if filters.status:
        qs = qs.filter(status=filters.status)
    return page(ordered(qs, filters.sort), filters, statement_out)


# Before /commission-statements/{statement_id}: Django matches paths in order.
class BuildClosedOut(Schema):
    built: list[int] = Field(..., description="Ids of the statements created")
    updated: list[int] = Field(..., description="Ids of drafts that got new lines")
    failures: list[str]
    message: str


@router.post(
    "/commission-statements/build-closed", response={200: BuildClosedOut, **ERROR_RESPONSES}
)
@guard("commission.manage")
def statements_build_closed(request: HttpRequest) -> Any:
    """Build every closed month not built yet, for every partner (what the daily work does;
    idempotent: a second call builds nothing)."""
    result = commission_statements_build_closed(actor=actor(request))
    return {
        "built": [st.pk for st in result.built],
        "updated": [st.pk for st in result.updated],
        "failures": result.failures,
        "message": result.message(),
    }


@router.get(
    "/commission-statements/{statement_id}",
    response={200: CommissionStatementOut, **ERROR_RESPONSES},
)
@guard("commission.read")
def statement_read(request: HttpRequest, statement_id: int) -> Any:
    return statement_out(resolved(request, "statement_id"))


class ApproveIn(InSchema):
    date: Day | None = Field(None, description="Ledger date; default today")


@router.post(
    "/commission-statements/{statement_id}/approve",
    response={200: CommissionStatementOut, **ERROR_RESPONSES},
)
@guard("commission.manage")
def statement_approve(request: HttpRequest, statement_id: int, payload: ApproveIn) -> Any:
    """Draft -> approved: the total is owed to the partner and posted to the ledger."""
    st = commission_statement_approve(
        statement=resolved(request, "statement_id"), actor=actor(request), on=payload.date
    )
    return statement_out(st)


class PayoutIn(InSchema):
    reference: Name150 = Field(..., description="The bank transfer's reference")
    date: Day | None = Field(None, description="Default: today")


@router.post(
    "/commission-statements/{statement_id}/payout",
    response={200: CommissionStatementOut, **ERROR_RESPONSES},
)
@guard("commission.manage")
def statement_payout(request: HttpRequest, statement_id: int, payload: PayoutIn) -> Any:
    """Approved -> paid: record that the payout left the bank."""
    st = commission_statement_pay(
        statement=resolved(request, "statement_id"),
        on=payload.date or timezone.localdate(),
        reference=payload.reference,
        actor=actor(request),
    )
    return statement_out(st)


def _file(content: str) -> dict[str, Any]:
    return {
        "responses": {
            "200": {
                "description": "The statement's file",
                "content": {content: {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    }


@router.get(
    "/commission-statements/{statement_id}/pdf",
    response=ERROR_RESPONSES,
    openapi_extra=_file("application/pdf"),
)
@guard("commission.read")
def statement_pdf(request: HttpRequest, statement_id: int) -> HttpResponse:
    """The statement as PDF; approved: the stored self-billing credit note (Factur-X)."""
    st = resolved(request, "statement_id")
    try:
        content = commission_statement_pdf(st)
    except PdfPendingError as exc:
        raise ApiError(409, str(exc), code="pdf_pending") from None
    response = HttpResponse(content, content_type="application/pdf")
    name = st.number or f"commission-{st.partner_id}-{st.period_start:%Y-%m}"
    response["Content-Disposition"] = f'attachment; filename="{_safe(name)}.pdf"'
    return response


@router.get(
    "/commission-statements/{statement_id}/xml",
    response=ERROR_RESPONSES,
    openapi_extra=_file("application/xml"),
)
@guard("commission.read")
def statement_xml(request: HttpRequest, statement_id: int) -> HttpResponse:
    """The approved statement's EN 16931 XML (type 389, self-billed); 422 for a draft."""
    st = resolved(request, "statement_id")
    response = HttpResponse(commission_statement_xml(st), content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="{_safe(st.number)}.xml"'
    return response


def _safe(name: str) -> str:
    return "".join(ch for ch in name if ch.isalnum() or ch in "-_") or "statement"
