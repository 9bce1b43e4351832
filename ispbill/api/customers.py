"""Customers (billing accounts), their balances and statements of account."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.db.models import Q
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from ispbill.api.context import acting_partner, actor
from ispbill.api.errors import ERROR_RESPONSES
from ispbill.api.guard import guard, resolved
from ispbill.api.schemas import (
    CountryCode,
    Day,
    Id,
    InSchema,
    ListParams,
    MoneyOut,
    Name40,
    Name200,
    Page,
    SignedAmountText,
    Str20,
    Str40,
    Str100,
    Str200,
    Str254,
    VatIdText,
    amount_minor,
    money_out,
    ordered,
    page,
)
from ispbill.billing.moves import PartnerChangeError, customer_partner_move
from ispbill.core import validators
from ispbill.core.errors import DomainValidationError
from ispbill.core.tenancy import get_scoped_or_404
from ispbill.customers.models import Customer
from ispbill.customers.services import customer_create, customer_status_set, customer_update
from ispbill.partners.models import Partner, PartnerMode
from ispbill.payments.selectors import customer_balance, customer_open_invoices, customer_statement
from ispbill.payments.services import customer_credit_minor

router = Router(tags=["customers"])


def issuer_currency(partner_id: int, cache: dict[int, str] | None = None) -> str:
    """The currency a customer of ``partner_id`` is billed in (its issuer's)."""
    if cache is not None and partner_id in cache:
        return cache[partner_id]
    partner = Partner.objects.get(pk=partner_id)
    if partner.mode not in (PartnerMode.DIRECT, PartnerMode.OWN_INVOICING):
        partner = Partner.objects.get(is_home=True)
    if cache is not None:
        cache[partner_id] = partner.currency
    return partner.currency


class CustomerFields(InSchema):
    company: Str200 | None = None
    email: Str254 | None = None
    phone: Str40 | None = None
    street: Str200 | None = None
    postcode: Str20 | None = None
    city: Str100 | None = None
    country: CountryCode | None = None
    vat_id: VatIdText | None = None
    language: Literal["en", "de"] | None = None
    billing_day: int | None = Field(None, ge=1, le=28, description="1-28; null: the issuer's")
    payment_due_days: int | None = Field(None, ge=0, le=validators.PAYMENT_DUE_DAYS_MAX)
    payment_period: Literal["prepaid", "postpaid", ""] | None = None
    min_balance: SignedAmountText | None = Field(
        None, description="Decimal string in the customer's currency; may be negative"
    )


_NULLABLE = {"billing_day", "payment_due_days", "min_balance"}


class CustomerIn(CustomerFields):
    partner_id: Id | None = Field(None, description="Operator only; default the home partner")
    reference: Name40 = Field(..., description="Customer number, unique per partner")
    name: Name200


class CustomerPatch(CustomerFields):
    reference: Name40 | None = None
    name: Name200 | None = None


class StatusIn(InSchema):
    status: Literal["active", "blocked", "inactive"]
    reason: Str200 = ""


class CustomerOut(Schema):
    id: int
    partner_id: int
    reference: str
    name: str
    company: str
    email: str
    phone: str
    street: str
    postcode: str
    city: str
    country: str
    vat_id: str
    language: str
    status: str
    billing_day: int | None
    payment_due_days: int | None
    payment_period: str
    min_balance: MoneyOut | None
    currency: str
    created_at: dt.datetime


def customer_out(c: Customer, cache: dict[int, str] | None = None) -> dict[str, Any]:
    currency = issuer_currency(c.partner_id, cache)
    return {
        **{f: getattr(c, f) for f in CustomerOut.model_fields if hasattr(c, f)},
        "min_balance": money_out(c.min_balance_minor, currency),
        "currency": currency,
    }


def _fields(payload: Schema, currency: str) -> dict[str, Any]:
    data = payload.dict(exclude_unset=True)
    data = {k: v for k, v in data.items() if v is not None or k in _NULLABLE}
    if "min_balance" in data:
        text = data.pop("min_balance")
        data["min_balance_minor"] = (
            None if text is None else amount_minor(text, currency, field="min_balance")
        )
    return data


class CustomerFilters(ListParams):
    partner_id: Id | None = None
    status: Literal["new", "active", "blocked", "inactive"] | None = None
    q: Str100 | None = Field(None, description="Part of the name, number or email")
    sort: Literal["id", "-id", "name", "-name", "reference", "-reference"] = "id"


@router.get("/customers", response={200: Page[CustomerOut], **ERROR_RESPONSES})
@guard("customers.read")
def customer_list(request: HttpRequest, filters: Query[CustomerFilters]) -> Any:
    qs = Customer.objects.all()
    if filters.partner_id:
        qs = qs.filter(partner_id=filters.partner_id)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.q:
        qs = qs.filter(
            Q(name__icontains=filters.q)
            | Q(reference__icontains=filters.q)
            | Q(email__icontains=filters.q)
        )
    cache: dict[int, str] = {}
    return page(ordered(qs, filters.sort), filters, lambda c: customer_out(c, cache))


@router.post("/customers", response={201: CustomerOut, **ERROR_RESPONSES})
@guard("customers.write")
def customer_create_view(request: HttpRequest, payload: CustomerIn) -> Any:
    partner = acting_partner(request, payload.partner_id)
    data = _fields(payload, issuer_currency(partner.pk))
    data.pop("partner_id", None)
    customer = customer_create(partner=partner, actor=actor(request), **data)
    return Status(201, customer_out(customer))


@router.get("/customers/{customer_id}", response={200: CustomerOut, **ERROR_RESPONSES})
@guard("customers.read")
def customer_read(request: HttpRequest, customer_id: int) -> Any:
    return customer_out(resolved(request, "customer_id"))


@router.patch("/customers/{customer_id}", response={200: CustomerOut, **ERROR_RESPONSES})
@guard("customers.write")
def customer_update_view(request: HttpRequest, customer_id: int, payload: CustomerPatch) -> Any:
    customer = resolved(request, "customer_id")
    data = _fields(payload, issuer_currency(customer.partner_id))
    return customer_out(customer_update(customer=customer, actor=actor(request), **data))


@router.post("/customers/{customer_id}/status", response={200: CustomerOut, **ERROR_RESPONSES})
@guard("customers.write")
def customer_status_view(request: HttpRequest, customer_id: int, payload: StatusIn) -> Any:
    """Block, unblock (active) or deactivate a customer by hand."""
    customer = customer_status_set(
        customer=resolved(request, "customer_id"),
        status=payload.status,
        reason=payload.reason,
        actor=actor(request),
    )
    return customer_out(customer)


class BalanceOut(Schema):
    customer_id: int
    balance: MoneyOut = Field(..., description="Payments + credit notes - invoices; < 0 owes")
    open_invoices: int
    open_amount: MoneyOut
    credit: MoneyOut = Field(..., description="Unallocated payments on the account")


@router.get("/customers/{customer_id}/balance", response={200: BalanceOut, **ERROR_RESPONSES})
@guard("finance.read")
def customer_balance_view(request: HttpRequest, customer_id: int) -> Any:
    customer = resolved(request, "customer_id")
    currency = issuer_currency(customer.partner_id)
    open_invoices = customer_open_invoices(customer)
    return {
        "customer_id": customer.pk,
        "balance": money_out(customer_balance(customer), currency),
        "open_invoices": len(open_invoices),
        "open_amount": money_out(sum(i.open_minor for i in open_invoices), currency),
        "credit": money_out(customer_credit_minor(customer.pk), currency),
    }


class AccountStatementRowOut(Schema):
    date: dt.date
    kind: str
    reference: str
    debit: MoneyOut
    credit: MoneyOut
    balance: MoneyOut


class AccountStatementOut(Schema):
    customer_id: int
    start: dt.date
    end: dt.date
    opening_balance: MoneyOut
    closing_balance: MoneyOut
    rows: list[AccountStatementRowOut]


class AccountStatementParams(Schema):
    start: Day
    end: Day


@router.get(
    "/customers/{customer_id}/statement", response={200: AccountStatementOut, **ERROR_RESPONSES}
)
@guard("finance.read")
def customer_statement_view(
    request: HttpRequest, customer_id: int, params: Query[AccountStatementParams]
) -> Any:
    """Every invoice, credit note, payment and refund in [start, end] with a running balance."""
    if params.end < params.start:
        raise DomainValidationError.for_fields({"end": "The end is before the start."})
    customer = resolved(request, "customer_id")
    cur = issuer_currency(customer.partner_id)
    st = customer_statement(customer, start=params.start, end=params.end)
    return {
        "customer_id": customer.pk,
        "start": st.start,
        "end": st.end,
        "opening_balance": money_out(st.opening_minor, cur),
        "closing_balance": money_out(st.closing_minor, cur),
        "rows": [
            {
                "date": r.date,
                "kind": r.kind,
                "reference": r.reference,
                "debit": money_out(r.debit_minor, cur),
                "credit": money_out(r.credit_minor, cur),
                "balance": money_out(r.balance_minor, cur),
            }
            for r in st.rows
        ],
    }


class PartnerChangeIn(InSchema):
    partner_id: Id = Field(..., description="The partner the customer moves to")
    preview: bool = Field(
        False,
        description="true: only show what the move would do and bill; nothing is written",
    )


class MoveChargeOut(Schema):
    billing_date: dt.date = Field(..., description="The billing date that charges it")
    description: str
    period_start: dt.date
    period_end: dt.date
    quantity: int
    unit_price: MoneyOut
    amount: MoneyOut = Field(..., description="Net (gross where the issuer's prices include tax)")
    tax_rate_bp: int
    kind: Literal["retail", "wholesale"]
    billed_to: str = Field(..., description="The customer, or the partner's account")


class MoveInvoiceOut(Schema):
    issuer: str
    billing_date: dt.date
    issue_date: dt.date
    due_date: dt.date
    net: MoneyOut
    tax: MoneyOut
    total: MoneyOut
    charges: list[MoveChargeOut]


class PartnerChangeOut(Schema):
    customer_id: int
    moved: bool = Field(..., description="false for a preview")
    from_partner_id: int
    from_partner: str
    from_mode: str
    to_partner_id: int
    to_partner: str
    to_mode: str
    issuer: str = Field(..., description="Who invoices the customer's services from now on")
    billed_to: str = Field(..., description="The customer, or the aggregated partner's account")
    cycle: str = Field(..., description='The new billing cycle, e.g. "day 5, monthly"')
    next_billing_date: dt.date | None = Field(
        ..., description="The first billing date on the new cycle (null: nothing to bill)"
    )
    invoices: list[MoveInvoiceOut] = Field(
        ..., description="The customer's invoices that billing date issues (numbered then)"
    )
    held: list[MoveChargeOut] = Field(
        ..., description="Charges for the aggregated partner's next invoice"
    )
    wholesale: list[MoveChargeOut] = Field(
        ..., description="Wholesale charges the operator bills an own-invoicing partner"
    )
    wholesale_billing_date: dt.date | None


def _move_charge_out(ch: Any) -> dict[str, Any]:
    return {
        "billing_date": ch.billing_date,
        "description": ch.description,
        "period_start": ch.period_start,
        "period_end": ch.period_end,
        "quantity": ch.quantity,
        "unit_price": money_out(ch.unit_price_minor, ch.currency),
        "amount": money_out(ch.amount_minor, ch.currency),
        "tax_rate_bp": ch.tax_rate_bp,
        "kind": ch.kind,
        "billed_to": ch.billed_to,
    }


def partner_change_out(move: Any) -> dict[str, Any]:
    return {
        "customer_id": move.customer_id,
        "moved": move.committed,
        "from_partner_id": move.from_partner_id,
        "from_partner": move.from_partner,
        "from_mode": move.from_mode,
        "to_partner_id": move.to_partner_id,
        "to_partner": move.to_partner,
        "to_mode": move.to_mode,
        "issuer": move.issuer,
        "billed_to": move.billed_to,
        "cycle": move.cycle,
        "next_billing_date": move.next_billing_date,
        "invoices": [
            {
                "issuer": inv.issuer,
                "billing_date": inv.billing_date,
                "issue_date": inv.issue_date,
                "due_date": inv.due_date,
                "net": money_out(inv.net_minor, inv.currency),
                "tax": money_out(inv.tax_minor, inv.currency),
                "total": money_out(inv.total_minor, inv.currency),
                "charges": [_move_charge_out(ch) for ch in inv.charges],
            }
            for inv in move.invoices
        ],
        "held": [_move_charge_out(ch) for ch in move.held],
        "wholesale": [_move_charge_out(ch) for ch in move.wholesale],
        "wholesale_billing_date": move.wholesale_billing_date,
    }


@router.post(
    "/customers/{customer_id}/partner-change",
    response={200: PartnerChangeOut, **ERROR_RESPONSES},
)
@guard("partners.manage")
def customer_partner_change_view(
    request: HttpRequest, customer_id: int, payload: PartnerChangeIn
) -> Any:
    """Move a customer to another partner, from each service's next period on, or with
    ``preview: true`` only show what the move would do. Either way the answer lists what
    the next billing bills after the move: the rest of the period cut by the change and the
    new cycle's next period, as the customer's invoices (with their totals), as charges for
    an aggregated partner's invoice, and as wholesale charges to an own-invoicing partner
    (docs/reseller-modes.md). Refused (422, ``partner_change_refused``): the customer's own
    partner, a disabled partner, an aggregated partner without account, a partner's
    account. An unknown partner is a 404. Audited (``customer.partner_changed``)."""
    customer = resolved(request, "customer_id")
    partner = get_scoped_or_404(Partner, pk=payload.partner_id)
    try:
        move = customer_partner_move(
            customer=customer, partner=partner, commit=not payload.preview, actor=actor(request)
        )
    except PartnerChangeError as exc:
        raise DomainValidationError(
            str(exc), fields={"partner_id": str(exc)}, code="partner_change_refused"
        ) from exc
    return partner_change_out(move)
