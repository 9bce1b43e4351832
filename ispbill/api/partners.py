"""Partners (resellers) with their mode settings."""

from __future__ import annotations

from typing import Any, Literal

from django.db.models import Q
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from ispbill.api.context import actor
from ispbill.api.errors import ERROR_RESPONSES
from ispbill.api.guard import guard, resolved
from ispbill.api.schemas import (
    AmountText,
    BicText,
    CountryCode,
    CurrencyCode,
    IbanText,
    Id,
    InSchema,
    ListParams,
    MoneyOut,
    Name200,
    NumberPattern,
    Page,
    PercentBp,
    ReminderDays,
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
from ispbill.billing.changes import partner_create, partner_mode_change
from ispbill.catalog.models import TaxRate
from ispbill.core import validators
from ispbill.core.errors import DomainValidationError
from ispbill.partners.models import Partner
from ispbill.partners.services import partner_active_set, partner_update

router = Router(tags=["partners"])

Mode = Literal["percentage", "own_invoicing", "aggregated"]


class PartnerSettings(InSchema):
    """Every setting is optional on create (model defaults apply) and on update."""

    legal_name: Str200 | None = None
    street: Str200 | None = None
    postcode: Str20 | None = None
    city: Str100 | None = None
    country: CountryCode | None = None
    vat_id: VatIdText | None = None
    email: Str254 | None = None
    phone: Str40 | None = None
    website: Str200 | None = None
    iban: IbanText | None = None
    bic: BicText | None = None
    currency: CurrencyCode | None = None
    prices_include_tax: bool | None = None
    billing_day: int | None = Field(None, ge=1, le=28)
    payment_due_days: int | None = Field(None, ge=0, le=validators.PAYMENT_DUE_DAYS_MAX)
    payment_period: Literal["prepaid", "postpaid"] | None = None
    first_period_billing: Literal["next_invoice", "on_activation"] | None = None
    blocking_days: int | None = Field(None, ge=0, le=3650, description="null: never")
    deactivation_days: int | None = Field(None, ge=0, le=3650, description="null: never")
    reminder_days: ReminderDays | None = None
    email_invoices_on_issue: bool | None = Field(
        None,
        description="Issuers: e-mail each invoice, with its PDF, to the customer once issued",
    )
    invoice_number_pattern: NumberPattern | None = None
    credit_note_number_pattern: NumberPattern | None = None
    receipt_number_pattern: NumberPattern | None = None
    self_billing_number_pattern: NumberPattern | None = Field(
        None, description="Commission statements (self-billing credit notes); operator only"
    )
    commission_bp: PercentBp | None = None
    commission_base: Literal["paid", "invoiced"] | None = None
    commission_statement_day: int | None = Field(None, ge=1, le=28)
    discount_bp: PercentBp | None = None
    aggregation_day: int | None = Field(None, ge=1, le=28)
    aggregation_cycle: Literal[1, 3, 12] | None = None
    aggregation_anchor_month: int | None = Field(None, ge=1, le=12)
    block_subcustomers: bool | None = None
    wholesale_charges: bool | None = None
    runs_own_billing: bool | None = Field(
        None,
        description="Own invoicing: billed and dunned by runs of its own (the daily work "
        "starts one; default true), not by the operator's runs (docs/reseller-modes.md)",
    )
    plan_change_credit: Literal["credit_note", "next_invoice"] | None = Field(
        None, description="How a plan change gives back the unused part of the old tariff"
    )
    plan_change_invoicing: Literal["next_invoice", "at_once"] | None = None
    portal_plan_change: bool | None = Field(
        None, description="Customers may change plan in the portal"
    )
    fee_upgrade: AmountText | None = Field(None, description="0: none")
    fee_downgrade: AmountText | None = Field(None, description="0: none")
    fee_disconnection: AmountText | None = Field(None, description="0: none")
    fee_reconnection: AmountText | None = Field(None, description="0: none")
    fee_late_payment: AmountText | None = Field(None, description="0: none")
    late_fee_days: int | None = Field(None, ge=0, le=365)
    fee_tax_rate_id: Id | None = Field(None, description="One of the issuer's tax rates")


# Fields whose null means "never" (or "none") rather than "not sent".
_NULLABLE = {"blocking_days", "deactivation_days", "fee_tax_rate_id"}
FEES = ("fee_upgrade", "fee_downgrade", "fee_disconnection", "fee_reconnection", "fee_late_payment")


def _settings(payload: Schema, currency: str | None = None) -> dict[str, Any]:
    data = payload.dict(exclude_unset=True)
    data = {k: v for k, v in data.items() if v is not None or k in _NULLABLE}
    money_in = data.get("currency") or currency or "EUR"
    for name in FEES:
        if name in data:
            data[f"{name}_minor"] = amount_minor(data.pop(name), money_in, field=name)
    if "fee_tax_rate_id" in data:
        rate_id = data.pop("fee_tax_rate_id")
        rate = TaxRate._base_manager.filter(pk=rate_id).first() if rate_id else None
        if rate_id and rate is None:
            raise DomainValidationError.for_fields({"fee_tax_rate_id": "No such tax rate."})
        data["fee_tax_rate"] = rate
    return data


class PartnerIn(PartnerSettings):
    name: Name200
    mode: Mode


class PartnerPatch(PartnerSettings):
    name: Name200 | None = None


class ModeIn(InSchema):
    mode: Mode = Field(..., description="Takes effect from each service's next period")


class PartnerOut(Schema):
    id: int
    name: str
    mode: str
    is_home: bool
    is_active: bool
    account_id: int | None
    legal_name: str
    street: str
    postcode: str
    city: str
    country: str
    vat_id: str
    email: str
    phone: str
    website: str
    iban: str
    bic: str
    currency: str
    prices_include_tax: bool
    billing_day: int
    payment_due_days: int
    payment_period: str
    first_period_billing: str
    blocking_days: int | None
    deactivation_days: int | None
    reminder_days: str
    email_invoices_on_issue: bool
    invoice_number_pattern: str
    credit_note_number_pattern: str
    receipt_number_pattern: str
    self_billing_number_pattern: str
    commission_bp: int
    commission_base: str
    commission_statement_day: int
    discount_bp: int
    aggregation_day: int
    aggregation_cycle: int
    aggregation_anchor_month: int
    block_subcustomers: bool
    wholesale_charges: bool
    runs_own_billing: bool
    plan_change_credit: str
    plan_change_invoicing: str
    portal_plan_change: bool
    fee_upgrade: MoneyOut
    fee_downgrade: MoneyOut
    fee_disconnection: MoneyOut
    fee_reconnection: MoneyOut
    fee_late_payment: MoneyOut
    late_fee_days: int
    fee_tax_rate_id: int | None

    @staticmethod
    def resolve_fee_upgrade(obj: Partner) -> Any:
        return money_out(obj.fee_upgrade_minor, obj.currency)

    @staticmethod
    def resolve_fee_downgrade(obj: Partner) -> Any:
        return money_out(obj.fee_downgrade_minor, obj.currency)

    @staticmethod
    def resolve_fee_disconnection(obj: Partner) -> Any:
        return money_out(obj.fee_disconnection_minor, obj.currency)

    @staticmethod
    def resolve_fee_reconnection(obj: Partner) -> Any:
        return money_out(obj.fee_reconnection_minor, obj.currency)

    @staticmethod
    def resolve_fee_late_payment(obj: Partner) -> Any:
        return money_out(obj.fee_late_payment_minor, obj.currency)


class PartnerFilters(ListParams):
    mode: Literal["direct", "percentage", "own_invoicing", "aggregated"] | None = None
    is_active: bool | None = None
    q: Str100 | None = Field(None, description="Part of the name")
    sort: Literal["id", "-id", "name", "-name", "created_at", "-created_at"] = "id"


@router.get("/partners", response={200: Page[PartnerOut], **ERROR_RESPONSES})
@guard("partners.read")
def partner_list(request: HttpRequest, filters: Query[PartnerFilters]) -> Any:
    qs = Partner.objects.all()
    if filters.mode:
        qs = qs.filter(mode=filters.mode)
    if filters.is_active is not None:
        qs = qs.filter(is_active=filters.is_active)
    if filters.q:
        qs = qs.filter(Q(name__icontains=filters.q) | Q(legal_name__icontains=filters.q))
    return page(ordered(qs, filters.sort), filters)


@router.post("/partners", response={201: PartnerOut, **ERROR_RESPONSES})
@guard("partners.manage")
def partner_create_view(request: HttpRequest, payload: PartnerIn) -> Any:
    data = _settings(payload)
    partner = partner_create(mode=data.pop("mode"), actor=actor(request), **data)
    return Status(201, partner)


@router.get("/partners/{partner_id}", response={200: PartnerOut, **ERROR_RESPONSES})
@guard("partners.read")
def partner_read(request: HttpRequest, partner_id: int) -> Any:
    return resolved(request, "partner_id")


@router.patch("/partners/{partner_id}", response={200: PartnerOut, **ERROR_RESPONSES})
@guard("partners.manage")
def partner_update_view(request: HttpRequest, partner_id: int, payload: PartnerPatch) -> Any:
    partner = resolved(request, "partner_id")
    return partner_update(
        partner=partner, actor=actor(request), **_settings(payload, partner.currency)
    )


@router.post("/partners/{partner_id}/disable", response={200: PartnerOut, **ERROR_RESPONSES})
@guard("partners.manage")
def partner_disable_view(request: HttpRequest, partner_id: int) -> Any:
    """Partners are never deleted; a disabled partner's documents stay readable."""
    return partner_active_set(
        partner=resolved(request, "partner_id"), active=False, actor=actor(request)
    )


@router.post("/partners/{partner_id}/enable", response={200: PartnerOut, **ERROR_RESPONSES})
@guard("partners.manage")
def partner_enable_view(request: HttpRequest, partner_id: int) -> Any:
    return partner_active_set(
        partner=resolved(request, "partner_id"), active=True, actor=actor(request)
    )


@router.post("/partners/{partner_id}/mode", response={200: PartnerOut, **ERROR_RESPONSES})
@guard("partners.manage")
def partner_mode_view(request: HttpRequest, partner_id: int, payload: ModeIn) -> Any:
    """Switch a reseller's mode, from each of its services' next period on."""
    return partner_mode_change(
        partner=resolved(request, "partner_id"), mode=payload.mode, actor=actor(request)
    )
