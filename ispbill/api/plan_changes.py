"""Plan changes: move a service to another tariff today, on a later date or on the next
billing date; preview first (the same code path, rolled back); list and cancel the scheduled
ones (docs/billing.md "Changing plan")."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from ispbill.api.context import actor
from ispbill.api.customers import issuer_currency
from ispbill.api.errors import ERROR_RESPONSES
from ispbill.api.guard import guard, resolved
from ispbill.api.schemas import (
    Day,
    Id,
    InSchema,
    ListParams,
    MoneyOut,
    Page,
    money_out,
    ordered,
    page,
)
from ispbill.billing.models import PlanChange
from ispbill.billing.plan_changes import (
    PlanChangeError,
    PlanChangeOutcome,
    plan_change_cancel,
    plan_change_effective_date,
    plan_change_outcome,
    plan_change_preview,
    plan_change_request,
    plan_change_tariffs,
)
from ispbill.catalog.models import Tariff
from ispbill.subscriptions.models import Service

router = Router(tags=["plan changes"])

When = Literal["today", "next_billing_date"]


class PlanChangeIn(InSchema):
    tariff_id: Id
    effective: When | Day = Field(
        "today",
        description='"today", "next_billing_date" (the customer\'s next billing date) or a '
        "date (today or later)",
    )


class ChangeLineOut(Schema):
    kind: str = Field(..., description='"credit", "charge" or "fee"')
    description: str
    period_start: dt.date | None
    period_end: dt.date | None
    amount: MoneyOut = Field(
        ..., description="Negative for a credit; net, or gross for tax-inclusive issuers"
    )
    settled_by: str = Field(
        ...,
        description='"credit note", "invoice now", "next invoice" or "partner\'s invoice"',
    )
    wholesale: bool = Field(
        ..., description="Billed to the own-invoicing partner, not the customer"
    )


class DocumentOut(Schema):
    kind: str = Field(..., description='"credit note" or "invoice" (issued at once)')
    credits_invoice: str = Field(..., description="The invoice a credit note credits")
    net: MoneyOut
    tax: MoneyOut
    total: MoneyOut


class OutcomeOut(Schema):
    effective_date: dt.date
    old_tariff: str
    new_tariff: str
    lines: list[ChangeLineOut]
    documents: list[DocumentOut]
    credited: MoneyOut
    charged: MoneyOut


class PreviewOut(OutcomeOut):
    new_price: MoneyOut = Field(
        ..., description="The new tariff's price per period, for this customer"
    )
    new_period_months: int


class TariffChoiceOut(Schema):
    id: int
    name: str
    kind: str
    price: MoneyOut
    period_months: int
    download_kbps: int | None
    upload_kbps: int | None


class PlanChangeOut(Schema):
    id: int
    partner_id: int
    customer_id: int
    service_id: int
    old_tariff_id: int
    new_tariff_id: int
    effective_date: dt.date
    status: str
    requested_by: str
    created_at: dt.datetime
    applied_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    cancelled_by: str
    invoice_id: int | None
    fee_id: int | None
    outcome: OutcomeOut | None = Field(
        None, description="What it credited and charged, once applied"
    )


def outcome_out(o: PlanChangeOutcome) -> dict[str, Any]:
    cur = o.currency
    return {
        "effective_date": o.effective_date,
        "old_tariff": o.old_tariff,
        "new_tariff": o.new_tariff,
        "lines": [
            {
                "kind": x.kind,
                "description": x.description,
                "period_start": x.period_start,
                "period_end": x.period_end,
                "amount": money_out(x.amount_minor, cur),
                "settled_by": x.settled_by,
                "wholesale": x.wholesale,
            }
            for x in o.lines
        ],
        "documents": [
            {
                "kind": d.kind,
                "credits_invoice": d.reference,
                "net": money_out(d.net_minor, cur),
                "tax": money_out(d.tax_minor, cur),
                "total": money_out(d.total_minor, cur),
            }
            for d in o.documents
        ],
        "credited": money_out(o.credited_minor, cur),
        "charged": money_out(o.charged_minor, cur),
        "new_price": money_out(o.new_price_minor, cur),
        "new_period_months": o.new_period_months,
    }


def plan_change_out(change: PlanChange, outcome: PlanChangeOutcome | None = None) -> dict[str, Any]:
    if outcome is None and change.status == "applied":
        outcome = plan_change_outcome(change)
    return {
        **{f: getattr(change, f) for f in PlanChangeOut.model_fields if f != "outcome"},
        "outcome": outcome_out(outcome) if outcome is not None else None,
    }


def _asked(request: HttpRequest, service: Service, payload: PlanChangeIn) -> tuple[Tariff, dt.date]:
    from django.utils import timezone

    tariff = plan_change_tariffs(service=service).filter(pk=payload.tariff_id).first()
    if tariff is None:
        raise PlanChangeError(
            "Choose one of the tariffs offered for this service.",
            fields={"tariff_id": "Choose one of the tariffs offered for this service."},
        )
    effective = plan_change_effective_date(
        service=service, when=payload.effective, today=timezone.localdate()
    )
    return tariff, effective


@router.get(
    "/services/{service_id}/plan-change/tariffs",
    response={200: list[TariffChoiceOut], **ERROR_RESPONSES},
)
@guard("customers.read")
def plan_change_tariff_list(request: HttpRequest, service_id: int) -> Any:
    """The tariffs this service may move to."""
    service = resolved(request, "service_id")
    currency = issuer_currency(service.partner_id)
    return [
        {
            "id": t.pk,
            "name": t.name,
            "kind": t.kind,
            "price": money_out(t.price_minor, currency),
            "period_months": t.period_months,
            "download_kbps": t.download_kbps,
            "upload_kbps": t.upload_kbps,
        }
        for t in plan_change_tariffs(service=service)
    ]


@router.post(
    "/services/{service_id}/plan-change/preview",
    response={200: PreviewOut, **ERROR_RESPONSES},
)
@guard("customers.write")
def plan_change_preview_view(request: HttpRequest, service_id: int, payload: PlanChangeIn) -> Any:
    """What the change would credit and charge, with its periods and documents: the change
    itself, run in a transaction that is rolled back. Nothing is written."""
    service = resolved(request, "service_id")
    tariff, effective = _asked(request, service, payload)
    return outcome_out(
        plan_change_preview(
            service=service, tariff=tariff, effective=effective, actor=actor(request)
        )
    )


@router.post(
    "/services/{service_id}/plan-changes",
    response={201: PlanChangeOut, **ERROR_RESPONSES},
)
@guard("customers.write")
def plan_change_create(request: HttpRequest, service_id: int, payload: PlanChangeIn) -> Any:
    """Change the plan: applied at once when it takes effect today (the response carries
    what it credited and charged), else scheduled for its day."""
    service = resolved(request, "service_id")
    tariff, effective = _asked(request, service, payload)
    change, outcome = plan_change_request(
        service=service, tariff=tariff, effective=effective, actor=actor(request)
    )
    return Status(201, plan_change_out(change, outcome))


class PlanChangeFilters(ListParams):
    service_id: Id | None = None
    customer_id: Id | None = None
    status: Literal["scheduled", "applied", "cancelled"] | None = None
    sort: Literal["id", "-id", "effective_date", "-effective_date"] = "-id"


@router.get("/plan-changes", response={200: Page[PlanChangeOut], **ERROR_RESPONSES})
@guard("customers.read")
def plan_change_list(request: HttpRequest, filters: Query[PlanChangeFilters]) -> Any:
    qs = PlanChange.objects.all()
    if filters.service_id:
        qs = qs.filter(service_id=filters.service_id)
    if filters.customer_id:
        qs = qs.filter(customer_id=filters.customer_id)
    if filters.status:
        qs = qs.filter(status=filters.status)
    return page(ordered(qs, filters.sort), filters, plan_change_out)


@router.get("/plan-changes/{plan_change_id}", response={200: PlanChangeOut, **ERROR_RESPONSES})
@guard("customers.read")
def plan_change_read(request: HttpRequest, plan_change_id: int) -> Any:
    return plan_change_out(resolved(request, "plan_change_id"))


@router.post(
    "/plan-changes/{plan_change_id}/cancel", response={200: PlanChangeOut, **ERROR_RESPONSES}
)
@guard("customers.write")
def plan_change_cancel_view(request: HttpRequest, plan_change_id: int) -> Any:
    """Cancel a scheduled change (until the day it takes effect)."""
    change = plan_change_cancel(change=resolved(request, "plan_change_id"), actor=actor(request))
    return plan_change_out(change)
