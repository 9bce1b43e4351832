"""One-time charges (installation, equipment): on the customer's next invoice."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from ispbill.api.context import access, actor
from ispbill.api.customer_services import customer_for_write
from ispbill.api.customers import issuer_currency
from ispbill.api.errors import ERROR_RESPONSES
from ispbill.api.guard import guard, resolved
from ispbill.api.schemas import (
    AmountText,
    Day,
    Id,
    InSchema,
    ListParams,
    MoneyOut,
    Name200,
    Page,
    amount_minor,
    money_out,
    ordered,
    page,
)
from ispbill.billing.actions import one_time_charge_create
from ispbill.catalog.selectors import tax_rate_for_customer
from ispbill.core.errors import DomainValidationError, NotAllowed
from ispbill.core.money import QUANTITY_MAX
from ispbill.subscriptions.models import OneTimeCharge

router = Router(tags=["services"])


class OneTimeChargeIn(InSchema):
    customer_id: Id
    description: Name200
    quantity: int = Field(1, ge=1, le=QUANTITY_MAX)
    unit_price: AmountText = Field(..., description="Net, in the customer's currency")
    tax_rate_id: Id
    charge_date: Day
    invoice_now: bool = Field(
        False, description="Issue an invoice for this charge at once (needs finance.write)"
    )


class OneTimeChargeOut(Schema):
    id: int
    partner_id: int
    customer_id: int
    description: str
    quantity: int
    unit_price: MoneyOut
    tax_rate_id: int
    charge_date: dt.date
    invoiced: bool
    created_at: dt.datetime


def _out(c: OneTimeCharge, cache: dict[int, str] | None = None) -> dict[str, Any]:
    currency = issuer_currency(c.partner_id, cache)
    return {
        **{f: getattr(c, f) for f in OneTimeChargeOut.model_fields if hasattr(c, f)},
        "unit_price": money_out(c.unit_price_minor, currency),
        "invoiced": c.charges.filter(invoice__isnull=False).exists(),
    }


class OneTimeChargeFilters(ListParams):
    customer_id: Id | None = None
    sort: Literal["id", "-id", "charge_date", "-charge_date"] = "id"


@router.get("/one-time-charges", response={200: Page[OneTimeChargeOut], **ERROR_RESPONSES})
@guard("customers.read")
def one_time_charge_list(request: HttpRequest, filters: Query[OneTimeChargeFilters]) -> Any:
    qs = OneTimeCharge.objects.all()
    if filters.customer_id:
        qs = qs.filter(customer_id=filters.customer_id)
    cache: dict[int, str] = {}
    return page(ordered(qs, filters.sort), filters, lambda c: _out(c, cache))


@router.post("/one-time-charges", response={201: OneTimeChargeOut, **ERROR_RESPONSES})
@guard("customers.write")
def one_time_charge_create_view(request: HttpRequest, payload: OneTimeChargeIn) -> Any:
    customer = customer_for_write(payload.customer_id)
    currency = issuer_currency(customer.partner_id)
    tax_rate = tax_rate_for_customer(customer=customer, tax_rate_id=payload.tax_rate_id)
    if tax_rate is None:
        raise DomainValidationError.for_fields(
            {"tax_rate_id": "Choose one of the tax rates of the issuer billing this customer."}
        )
    if payload.invoice_now and not access(request).can("finance.write"):
        raise NotAllowed("Invoicing at once needs the right to issue invoices (finance.write).")
    charge = one_time_charge_create(
        customer=customer,
        invoice_now=payload.invoice_now,
        description=payload.description,
        quantity=payload.quantity,
        unit_price_minor=amount_minor(payload.unit_price, currency, field="unit_price"),
        tax_rate=tax_rate,
        charge_date=payload.charge_date,
        actor=actor(request),
    )
    return Status(201, _out(charge))


@router.get(
    "/one-time-charges/{one_time_charge_id}",
    response={200: OneTimeChargeOut, **ERROR_RESPONSES},
)
@guard("customers.read")
def one_time_charge_read(request: HttpRequest, one_time_charge_id: int) -> Any:
    return _out(resolved(request, "one_time_charge_id"))
