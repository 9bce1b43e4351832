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
    BicText,
    CountryCode,
    CurrencyCode,
    IbanText,
    ListParams,
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
    ordered,
    page,
)
from ispbill.partners.changes import partner_mode_change
from ispbill.partners.models import Partner
from ispbill.partners.services import partner_active_set, partner_create, partner_update

router = Router(tags=["partners"])

Mode = Literal["percentage", "own_invoicing", "aggregated"]


class PartnerSettings(Schema):
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
    payment_due_days: int | None = Field(None, ge=0, le=365)
    payment_period: Literal["prepaid", "postpaid"] | None = None
    first_period_billing: Literal["next_invoice", "on_activation"] | None = None
    blocking_days: int | None = Field(None, ge=0, le=3650, description="null: never")
    deactivation_days: int | None = Field(None, ge=0, le=3650, description="null: never")
    reminder_days: ReminderDays | None = None
    invoice_number_pattern: NumberPattern | None = None
    credit_note_number_pattern: NumberPattern | None = None
    receipt_number_pattern: NumberPattern | None = None
    commission_bp: PercentBp | None = None
    commission_base: Literal["paid", "invoiced"] | None = None
    commission_statement_day: int | None = Field(None, ge=1, le=28)
    discount_bp: PercentBp | None = None
    aggregation_day: int | None = Field(None, ge=1, le=28)
    aggregation_cycle: Literal[1, 3, 12] | None = None
    aggregation_anchor_month: int | None = Field(None, ge=1, le=12)
    block_subcustomers: bool | None = None
    wholesale_charges: bool | None = None


# Fields whose null means "never" rather than "not sent".
_NULLABLE = {"blocking_days", "deactivation_days"}


def _settings(payload: Schema) -> dict[str, Any]:
    data = payload.dict(exclude_unset=True)
    return {k: v for k, v in data.items() if v is not None or k in _NULLABLE}


class PartnerIn(PartnerSettings):
    name: Name200
    mode: Mode


class PartnerPatch(PartnerSettings):
    name: Name200 | None = None


class ModeIn(Schema):
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
    invoice_number_pattern: str
    credit_note_number_pattern: str
    receipt_number_pattern: str
    commission_bp: int
    commission_base: str
    commission_statement_day: int
    discount_bp: int
    aggregation_day: int
    aggregation_cycle: int
    aggregation_anchor_month: int
    block_subcustomers: bool
    wholesale_charges: bool


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
    return partner_update(
        partner=resolved(request, "partner_id"), actor=actor(request), **_settings(payload)
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
