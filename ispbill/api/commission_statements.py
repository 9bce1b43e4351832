"""Commission statements of percentage partners: list, read, approve, record the payout."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from ispbill.api.context import access, actor
from ispbill.api.errors import ERROR_RESPONSES
from ispbill.api.guard import guard, resolved
from ispbill.api.lookups import statements_visible
from ispbill.api.schemas import (
    Day,
    Id,
    ListParams,
    MoneyOut,
    Name150,
    Page,
    money_out,
    ordered,
    page,
)
from ispbill.commission.statements import commission_statement_approve, commission_statement_pay
from ispbill.partners.models import CommissionAccrual, CommissionStatement

router = Router(tags=["commission"])


class AccrualOut(Schema):
    date: dt.date
    source_type: str
    source_id: int
    invoice_id: int
    rate_bp: int
    base: MoneyOut
    amount: MoneyOut


class CommissionStatementOut(Schema):
    id: int
    partner_id: int
    period_start: dt.date
    period_end: dt.date
    status: str
    total: MoneyOut
    approved_at: dt.datetime | None
    paid_at: dt.datetime | None
    payout_reference: str
    lines: list[AccrualOut]


def statement_out(st: CommissionStatement) -> dict[str, Any]:
    cur = st.currency
    lines = CommissionAccrual.objects.filter(statement=st).order_by("date", "id")
    return {
        "id": st.pk,
        "partner_id": st.partner_id,
        "period_start": st.period_start,
        "period_end": st.period_end,
        "status": st.status,
        "total": money_out(st.total_minor, cur),
        "approved_at": st.approved_at,
        "paid_at": st.paid_at,
        "payout_reference": st.payout_reference,
        "lines": [
            {
                "date": a.date,
                "source_type": a.source_type,
                "source_id": a.source_id,
                "invoice_id": a.invoice_id,
                "rate_bp": a.rate_bp,
                "base": money_out(a.base_minor, cur),
                "amount": money_out(a.amount_minor, cur),
            }
            for a in lines
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
    qs = statements_visible(access(request))
    if filters.partner_id:
        qs = qs.filter(partner_id=filters.partner_id)
    if filters.status:
        qs = qs.filter(status=filters.status)
    return page(ordered(qs, filters.sort), filters, statement_out)


@router.get(
    "/commission-statements/{statement_id}",
    response={200: CommissionStatementOut, **ERROR_RESPONSES},
)
@guard("commission.read")
def statement_read(request: HttpRequest, statement_id: int) -> Any:
    return statement_out(resolved(request, "statement_id"))


class ApproveIn(Schema):
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


class PayoutIn(Schema):
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
