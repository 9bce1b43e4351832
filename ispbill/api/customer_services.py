"""Services: customers' subscriptions to tariffs."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from ispbill.api.context import actor
from ispbill.api.customers import issuer_currency
from ispbill.api.errors import ERROR_RESPONSES
from ispbill.api.guard import guard, resolved
from ispbill.api.idempotency import idempotency_openapi, idempotent
from ispbill.api.schemas import (
    AmountText,
    Day,
    Id,
    InSchema,
    ListParams,
    MoneyOut,
    Page,
    PercentBp,
    Str200,
    amount_minor,
    money_out,
    ordered,
    page,
)
from ispbill.billing.actions import service_create
from ispbill.billing.service_end import (
    CustomerTermination,
    EndLine,
    ServiceEnding,
    customer_terminate,
    customer_termination_preview,
    service_end,
    service_end_preview,
)
from ispbill.catalog.selectors import tariff_sellable
from ispbill.core.errors import DomainValidationError
from ispbill.core.money import QUANTITY_MAX
from ispbill.core.tenancy import get_scoped_or_404
from ispbill.customers.models import Customer
from ispbill.radius.models import UsageTopUp
from ispbill.radius.topups import MAX_PACKS, TopUpChannel, usage_topup_buy
from ispbill.radius.usage import usage_allowances, usage_month
from ispbill.subscriptions.models import Service
from ispbill.subscriptions.services import service_update

router = Router(tags=["services"])

ServiceStatusName = Literal["active", "paused", "stopped"]


class ServiceFields(InSchema):
    description: Str200 | None = None
    quantity: int | None = Field(None, ge=1, le=QUANTITY_MAX)
    price_override: AmountText | None = Field(
        None, description="Replaces the tariff price; null: the tariff's"
    )
    discount_bp: PercentBp | None = None
    discount_until: Day | None = Field(None, description="Last day of the discount")
    end_date: Day | None = Field(
        None,
        description="Last day of service (included); sets the date only (the daily work stops "
        "the service after it). POST /services/{id}/end ends it with its preview's rules.",
    )
    status: ServiceStatusName | None = None
    start_date: Day | None = Field(
        None, description="Correctable until the service is billed; then 422 already_billed"
    )


_NULLABLE = {"price_override", "discount_until", "end_date"}


class ServiceIn(ServiceFields):
    customer_id: Id
    tariff_id: Id
    start_date: Day


class ServiceOut(Schema):
    id: int
    partner_id: int
    customer_id: int
    tariff_id: int
    description: str
    quantity: int
    price_override: MoneyOut | None
    discount_bp: int
    discount_until: dt.date | None
    start_date: dt.date
    end_date: dt.date | None
    status: str
    created_at: dt.datetime


def service_out(s: Service, cache: dict[int, str] | None = None) -> dict[str, Any]:
    currency = issuer_currency(s.partner_id, cache)
    return {
        **{f: getattr(s, f) for f in ServiceOut.model_fields if f != "price_override"},
        "price_override": money_out(s.price_override_minor, currency),
    }


def _fields(payload: Schema, currency: str) -> dict[str, Any]:
    data = payload.dict(exclude_unset=True)
    data = {k: v for k, v in data.items() if v is not None or k in _NULLABLE}
    if "price_override" in data:
        text = data.pop("price_override")
        data["price_override_minor"] = (
            None if text is None else amount_minor(text, currency, field="price_override")
        )
    return data


class ServiceFilters(ListParams):
    customer_id: Id | None = None
    tariff_id: Id | None = None
    status: ServiceStatusName | None = None
    sort: Literal["id", "-id", "start_date", "-start_date"] = "id"


@router.get("/services", response={200: Page[ServiceOut], **ERROR_RESPONSES})
@guard("customers.read")
def service_list(request: HttpRequest, filters: Query[ServiceFilters]) -> Any:
    qs = Service.objects.all()
    if filters.customer_id:
        qs = qs.filter(customer_id=filters.customer_id)
    if filters.tariff_id:
        qs = qs.filter(tariff_id=filters.tariff_id)
    if filters.status:
        qs = qs.filter(status=filters.status)
    cache: dict[int, str] = {}
    return page(ordered(qs, filters.sort), filters, lambda s: service_out(s, cache))


def customer_for_write(customer_id: int) -> Customer:
    """A customer named in a request body: unknown and foreign ids answer alike (422)."""
    try:
        return get_scoped_or_404(Customer, pk=customer_id, for_write=True)
    except Exception as exc:
        raise DomainValidationError.for_fields({"customer_id": "No such customer."}) from exc


@router.post("/services", response={201: ServiceOut, **ERROR_RESPONSES})
@guard("customers.write")
def service_create_view(request: HttpRequest, payload: ServiceIn) -> Any:
    customer = customer_for_write(payload.customer_id)
    data = _fields(payload, issuer_currency(customer.partner_id))
    data.pop("customer_id")
    tariff = tariff_sellable(customer=customer, tariff_id=data.pop("tariff_id"))
    if tariff is None or tariff.kind == "one_time":
        raise DomainValidationError.for_fields(
            {"tariff_id": "Choose an internet or recurring tariff this customer's partner sells."}
        )
    service = service_create(
        customer=customer,
        tariff=tariff,
        start_date=data.pop("start_date"),
        actor=actor(request),
        **data,
    )
    return Status(201, service_out(service))


@router.get("/services/{service_id}", response={200: ServiceOut, **ERROR_RESPONSES})
@guard("customers.read")
def service_read(request: HttpRequest, service_id: int) -> Any:
    return service_out(resolved(request, "service_id"))


@router.patch("/services/{service_id}", response={200: ServiceOut, **ERROR_RESPONSES})
@guard("customers.write")
def service_update_view(request: HttpRequest, service_id: int, payload: ServiceFields) -> Any:
    service = resolved(request, "service_id")
    data = _fields(payload, issuer_currency(service.partner_id))
    return service_out(service_update(service=service, actor=actor(request), **data))


class UsageDayOut(Schema):
    day: dt.date
    bytes_in: int
    bytes_out: int


class ServiceUsageOut(Schema):
    service_id: int
    start: dt.date = Field(..., description="First day of the current month")
    end: dt.date
    used_bytes: int
    included_gb: int | None
    rollover_bytes: int = Field(..., description="Carried over from last month")
    topup_gb: int = Field(..., description="Top-ups bought for this month")
    allowance_bytes: int | None = Field(
        ..., description="included + rolled over + top-ups; null: unlimited"
    )
    capped: str = Field(..., description='"throttle" or "block" when the cap was reached')
    days: list[UsageDayOut]


class UsageMonthParams(Schema):
    month: Day | None = Field(None, description="Any day of the month to read; default: today")


@router.get("/services/{service_id}/usage", response={200: ServiceUsageOut, **ERROR_RESPONSES})
@guard("customers.read")
def service_usage(request: HttpRequest, service_id: int, month: Query[UsageMonthParams]) -> Any:
    """A month's traffic of the service from RADIUS accounting (docs/usage.md): this
    month's, or the month of ``month`` (any day in it), e.g. the previous one for a chart."""
    service = resolved(request, "service_id")
    return {"service_id": service.pk, **usage_month(service, today=month.month)}


class TopUpIn(InSchema):
    packs: int = Field(1, ge=1, le=MAX_PACKS, description="Number of the tariff's top-up packs")
    invoice_now: bool = Field(
        False, description="Invoice it at once on an invoice of its own (else: next invoice)"
    )


class TopUpOut(Schema):
    id: int
    service_id: int
    month: dt.date = Field(..., description="First day of the month it adds to")
    packs: int
    gigabytes: int
    charge_id: int
    net: MoneyOut
    channel: str
    created_at: dt.datetime


class TopUpBoughtOut(TopUpOut):
    invoice_id: int | None
    cap_lifted: bool
    allowance_bytes: int | None


def _topup_out(t: UsageTopUp, currency: str) -> dict[str, Any]:
    return {
        "id": t.pk,
        "service_id": t.service_id,
        "month": t.month,
        "packs": t.packs,
        "gigabytes": t.gigabytes,
        "charge_id": t.charge_id,
        "net": money_out(t.charge.unit_price_minor * t.packs, currency),
        "channel": t.channel,
        "created_at": t.created_at,
    }


@router.get("/services/{service_id}/topups", response={200: list[TopUpOut], **ERROR_RESPONSES})
@guard("customers.read")
def service_topups(request: HttpRequest, service_id: int) -> Any:
    """The top-ups bought for the service, newest first (docs/usage.md)."""
    service = resolved(request, "service_id")
    currency = issuer_currency(service.partner_id)
    topups = UsageTopUp.objects.filter(service=service).select_related("charge")[:500]
    return [_topup_out(t, currency) for t in topups]


@router.post(
    "/services/{service_id}/topups",
    response={201: TopUpBoughtOut, **ERROR_RESPONSES},
    openapi_extra=idempotency_openapi(),
)
@guard("customers.write")
@idempotent()
def service_topup_buy(request: HttpRequest, service_id: int, payload: TopUpIn) -> Any:
    """Buy top-up packs for the service's current month: a one-time charge (next invoice,
    or an invoice at once with ``invoice_now``); the allowance grows at once and a cap
    reached this month is lifted when the traffic is under it again (CoA). Send an
    ``Idempotency-Key`` to retry safely."""
    service = resolved(request, "service_id")
    result = usage_topup_buy(
        service=service,
        packs=payload.packs,
        channel=TopUpChannel.API,
        actor=actor(request),
        invoice_now=payload.invoice_now,
    )
    allowance = usage_allowances(services=[service.pk], start=result.topup.month).get(service.pk)
    out = _topup_out(result.topup, issuer_currency(service.partner_id))
    body = TopUpBoughtOut(
        **out,
        invoice_id=result.invoice.pk if result.invoice else None,
        cap_lifted=result.cap_lifted,
        allowance_bytes=allowance,
    )
    return 201, body.model_dump(mode="json")


class ServiceEndIn(InSchema):
    end_date: Day = Field(..., description="Last day of service (included)")


class EndLineOut(Schema):
    start: dt.date
    end: dt.date
    amount: MoneyOut


class ServiceEndingOut(Schema):
    service_id: int
    name: str
    end_date: dt.date
    stops_now: bool = Field(..., description="Stopped at once; else after its end date")
    to_charge: list[EndLineOut] = Field(..., description="Up to the end date, not charged yet")
    to_charge_total: MoneyOut
    billed: bool = Field(..., description="False: the customer becomes inactive, not billed")
    charged_after: EndLineOut | None = Field(
        ..., description="Days after the end date already charged: not given back"
    )
    disconnection_fee: MoneyOut


class ServiceEndOut(Schema):
    service: ServiceOut
    ending: ServiceEndingOut


def _line_out(line: EndLine, currency: str) -> dict[str, Any]:
    return {"start": line.start, "end": line.end, "amount": money_out(line.amount_minor, currency)}


def ending_out(e: ServiceEnding) -> dict[str, Any]:
    return {
        "service_id": e.service_id,
        "name": e.name,
        "end_date": e.end_date,
        "stops_now": e.stops_now,
        "to_charge": [_line_out(line, e.currency) for line in e.to_charge],
        "to_charge_total": money_out(e.to_charge_minor, e.currency),
        "billed": e.billed,
        "charged_after": _line_out(e.charged_after, e.currency) if e.charged_after else None,
        "disconnection_fee": money_out(e.fee_minor, e.currency),
    }


@router.post(
    "/services/{service_id}/end/preview", response={200: ServiceEndingOut, **ERROR_RESPONSES}
)
@guard("customers.write")
def service_end_preview_view(request: HttpRequest, service_id: int, payload: ServiceEndIn) -> Any:
    """What ending the service on ``end_date`` means (docs/billing.md "Ending and editing a
    service"). Nothing is written."""
    service = resolved(request, "service_id")
    return ending_out(
        service_end_preview(service=service, end=payload.end_date, today=timezone.localdate())
    )


@router.post("/services/{service_id}/end", response={200: ServiceEndOut, **ERROR_RESPONSES})
@guard("customers.write")
def service_end_view(request: HttpRequest, service_id: int, payload: ServiceEndIn) -> Any:
    """End the service on ``end_date``: stopped at once when that is today or earlier."""
    service = resolved(request, "service_id")
    ending = service_end(
        service=service, end=payload.end_date, today=timezone.localdate(), actor=actor(request)
    )
    service.refresh_from_db()
    return {"service": service_out(service), "ending": ending_out(ending)}


class TerminateIn(InSchema):
    date: Day | None = Field(None, description="Today or earlier; default today")


class TerminationOut(Schema):
    customer_id: int
    date: dt.date
    services: list[ServiceEndingOut]
    not_billed: MoneyOut = Field(..., description="Days up to the date not charged yet")
    disconnection_fees: MoneyOut
    balance: MoneyOut = Field(..., description="< 0: the customer owes (a warning only)")


def termination_out(t: CustomerTermination) -> dict[str, Any]:
    return {
        "customer_id": t.customer_id,
        "date": t.on,
        "services": [ending_out(s) for s in t.services],
        "not_billed": money_out(t.not_billed_minor, t.currency),
        "disconnection_fees": money_out(t.fee_minor, t.currency),
        "balance": money_out(t.balance_minor, t.currency),
    }


@router.post(
    "/customers/{customer_id}/terminate/preview",
    response={200: TerminationOut, **ERROR_RESPONSES},
    tags=["customers"],
)
@guard("customers.write")
def customer_terminate_preview_view(
    request: HttpRequest, customer_id: int, payload: TerminateIn
) -> Any:
    """What terminating the customer means. Nothing is written."""
    today = timezone.localdate()
    return termination_out(
        customer_termination_preview(
            customer=resolved(request, "customer_id"), on=payload.date or today, today=today
        )
    )


@router.post(
    "/customers/{customer_id}/terminate",
    response={200: TerminationOut, **ERROR_RESPONSES},
    tags=["customers"],
)
@guard("customers.write")
def customer_terminate_view(request: HttpRequest, customer_id: int, payload: TerminateIn) -> Any:
    """End every service of the customer on ``date`` and make it inactive."""
    today = timezone.localdate()
    return termination_out(
        customer_terminate(
            customer=resolved(request, "customer_id"),
            on=payload.date or today,
            today=today,
            actor=actor(request),
        )
    )
