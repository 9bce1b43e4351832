"""Payments (record, import, refund); allocation to open invoices is automatic."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from ispbill.api.context import actor
from ispbill.api.customer_services import customer_for_write
from ispbill.api.errors import ERROR_RESPONSES
from ispbill.api.guard import guard, resolved
from ispbill.api.idempotency import idempotency_openapi, idempotent
from ispbill.api.schemas import (
    AmountText,
    CurrencyCode,
    Day,
    Id,
    InSchema,
    ListParams,
    MoneyOut,
    Page,
    PaymentDay,
    Str140,
    Str300,
    money_out,
    ordered,
    page,
)
from ispbill.core.errors import DomainValidationError
from ispbill.core.money import Money
from ispbill.payments.imports import ImportRow, payments_import
from ispbill.payments.models import Payment
from ispbill.payments.services import payment_record, payment_refund

router = Router(tags=["payments"])

Method = Literal["bank_transfer", "direct_debit", "cash", "card", "other"]


class PaymentIn(InSchema):
    customer_id: Id
    amount: AmountText = Field(..., description='Decimal string, "12.50"; > 0')
    currency: CurrencyCode
    date: PaymentDay | None = Field(None, description="Default: today; not after today")
    method: Method = "bank_transfer"
    reference: Str140 = Field("", description="Bank reference; unique per method")
    note: Str300 = ""


class AllocationOut(Schema):
    invoice_id: int
    amount: MoneyOut
    date: dt.date


class RefundOut(Schema):
    id: int
    payment_id: int
    amount: MoneyOut
    date: dt.date
    reason: str


class PaymentOut(Schema):
    id: int
    customer_id: int
    issuer_id: int
    amount: MoneyOut
    allocated: MoneyOut
    refunded: MoneyOut
    unallocated: MoneyOut = Field(..., description="Credit left on the account")
    date: dt.date
    method: str
    reference: str
    receipt_number: str = Field(..., description="Number in the issuer's receipt series")
    note: str
    allocations: list[AllocationOut]
    refunds: list[RefundOut]


def _money(text: str, currency: str, field: str) -> Money:
    try:
        return Money.parse(text, currency)
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise DomainValidationError.for_fields({field: str(exc)}) from exc


def refund_out(r: Any, currency: str) -> dict[str, Any]:
    return {
        "id": r.pk,
        "payment_id": r.payment_id,
        "amount": money_out(r.amount_minor, currency),
        "date": r.date,
        "reason": r.reason,
    }


def payment_out(p: Payment) -> dict[str, Any]:
    cur = p.currency
    return {
        "id": p.pk,
        "customer_id": p.customer_id,
        "issuer_id": p.issuer_id,
        "amount": money_out(p.amount_minor, cur),
        "allocated": money_out(p.allocated_minor, cur),
        "refunded": money_out(p.refunded_minor, cur),
        "unallocated": money_out(p.unallocated_minor, cur),
        "date": p.date,
        "method": p.method,
        "reference": p.reference,
        "receipt_number": p.receipt_number,
        "note": p.note,
        "allocations": [
            {"invoice_id": a.invoice_id, "amount": money_out(a.amount_minor, cur), "date": a.date}
            for a in p.allocations.all()
        ],
        "refunds": [refund_out(r, cur) for r in p.refunds.all()],
    }


def _json(data: dict[str, Any]) -> dict[str, Any]:
    return PaymentOut(**data).model_dump(mode="json")


@router.post(
    "/payments", response={201: PaymentOut, **ERROR_RESPONSES}, openapi_extra=idempotency_openapi()
)
@guard("finance.write")
@idempotent()
def payment_create(request: HttpRequest, payload: PaymentIn) -> Any:
    """Record money received; it is allocated to the oldest open invoices, the rest stays as
    credit. Send an ``Idempotency-Key``. A repeated bank reference is a 409."""
    customer = customer_for_write(payload.customer_id)
    payment = payment_record(
        customer=customer,
        amount=_money(payload.amount, payload.currency, "amount"),
        on=payload.date or timezone.localdate(),
        method=payload.method,
        reference=payload.reference,
        note=payload.note,
        actor=actor(request),
    )
    return 201, _json(payment_out(payment))


class ImportIn(InSchema):
    payments: list[PaymentIn] = Field(..., min_length=1, max_length=1000)


class ImportOut(Schema):
    created: list[PaymentOut]
    skipped_references: list[str] = Field(..., description="Already recorded: not added again")


@router.post(
    "/payments/import",
    response={201: ImportOut, **ERROR_RESPONSES},
    openapi_extra=idempotency_openapi(),
)
@guard("finance.write")
@idempotent()
def payment_import_view(request: HttpRequest, payload: ImportIn) -> Any:
    """Record a bank statement's payments; rows with a reference already recorded are
    skipped, so importing the same statement twice adds nothing."""
    rows = []
    for index, item in enumerate(payload.payments):
        rows.append(
            ImportRow(
                customer=customer_for_write(item.customer_id),
                amount=_money(item.amount, item.currency, f"payments.{index}.amount"),
                on=item.date or timezone.localdate(),
                method=item.method,
                reference=item.reference,
                note=item.note,
            )
        )
    result = payments_import(rows=rows, actor=actor(request))
    body = ImportOut(
        created=[PaymentOut(**payment_out(p)) for p in result.created],
        skipped_references=result.skipped,
    )
    return 201, body.model_dump(mode="json")


class PaymentFilters(ListParams):
    customer_id: Id | None = None
    method: Method | None = None
    reference: Str140 | None = None
    date_from: Day | None = None
    date_to: Day | None = None
    sort: Literal["id", "-id", "date", "-date", "amount_minor", "-amount_minor"] = "-id"


@router.get("/payments", response={200: Page[PaymentOut], **ERROR_RESPONSES})
@guard("finance.read")
def payment_list(request: HttpRequest, filters: Query[PaymentFilters]) -> Any:
    qs = Payment.objects.all()
    for name in ("customer_id", "method", "reference"):
        value = getattr(filters, name)
        if value:
            qs = qs.filter(**{name: value})
    if filters.date_from:
        qs = qs.filter(date__gte=filters.date_from)
    if filters.date_to:
        qs = qs.filter(date__lte=filters.date_to)
    return page(ordered(qs, filters.sort), filters, payment_out)


@router.get("/payments/{payment_id}", response={200: PaymentOut, **ERROR_RESPONSES})
@guard("finance.read")
def payment_read(request: HttpRequest, payment_id: int) -> Any:
    return payment_out(resolved(request, "payment_id"))


class RefundIn(InSchema):
    amount: AmountText
    date: Day | None = Field(None, description="Default: today")
    reason: Str300 = ""


@router.post(
    "/payments/{payment_id}/refunds",
    response={201: RefundOut, **ERROR_RESPONSES},
    openapi_extra=idempotency_openapi(),
)
@guard("finance.write")
@idempotent()
def payment_refund_view(request: HttpRequest, payment_id: int, payload: RefundIn) -> Any:
    """Pay back unallocated credit of the payment. Send an ``Idempotency-Key``."""
    payment = resolved(request, "payment_id")
    refund = payment_refund(
        payment=payment,
        amount=_money(payload.amount, payment.currency, "amount"),
        on=payload.date or timezone.localdate(),
        reason=payload.reason,
        actor=actor(request),
    )
    return 201, RefundOut(**refund_out(refund, payment.currency)).model_dump(mode="json")
