"""Tariffs: the operator's (with the partners allowed to sell them) and own-invoicing
partners' own."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from ispbill.api.context import access, acting_partner, actor
from ispbill.api.errors import ERROR_RESPONSES
from ispbill.api.guard import guard, resolved
from ispbill.api.lookups import tariffs_visible
from ispbill.api.schemas import (
    AmountText,
    Id,
    InSchema,
    ListParams,
    MoneyOut,
    Name200,
    Page,
    Str100,
    amount_minor,
    money_out,
    ordered,
    page,
)
from ispbill.catalog.models import Tariff, TaxRate
from ispbill.catalog.services import tariff_create, tariff_update
from ispbill.core.errors import DomainValidationError
from ispbill.partners.models import Partner

router = Router(tags=["catalog"])

Kind = Literal["internet", "recurring", "one_time"]


class TariffFields(InSchema):
    kind: Kind | None = None
    period_months: Literal[1, 3, 6, 12] | None = None
    download_kbps: int | None = Field(None, ge=0, le=100_000_000)
    upload_kbps: int | None = Field(None, ge=0, le=100_000_000)
    is_active: bool | None = None
    customer_selectable: bool | None = Field(
        None, description="Customers may move to it in the portal (where the issuer allows)"
    )
    available_to: list[Id] | None = Field(
        None, max_length=1000, description="Operator tariffs: ids of the partners selling it"
    )
    included_gb: int | None = Field(None, ge=0, le=10_000_000, description="GB per month")
    cap_action: Literal["", "throttle", "block"] | None = None
    throttle_download_kbps: int | None = Field(None, ge=0, le=100_000_000)
    throttle_upload_kbps: int | None = Field(None, ge=0, le=100_000_000)
    overage_price: AmountText | None = Field(None, description="Per started GB over, net")
    topup_gb: int | None = Field(
        None, ge=0, le=10_000_000, description="GB of one top-up pack; 0: none"
    )
    topup_price: AmountText | None = Field(None, description="Price of one top-up pack, net")
    usage_alerts: str | None = Field(
        None, max_length=40, description='Alert e-mails at these % of the allowance: "80,100"'
    )
    rollover: bool | None = Field(None, description="Unused included volume carries over")


class TariffIn(TariffFields):
    partner_id: Id | None = Field(None, description="Operator only; default the home partner")
    name: Name200
    price: AmountText = Field(..., description="Per period, in the owner's currency, net")
    tax_rate_id: Id


class TariffPatch(TariffFields):
    name: Name200 | None = None
    price: AmountText | None = None
    tax_rate_id: Id | None = None


class TariffOut(Schema):
    id: int
    partner_id: int
    name: str
    kind: str
    price: MoneyOut
    tax_rate_id: int
    period_months: int
    download_kbps: int | None
    upload_kbps: int | None
    is_active: bool
    customer_selectable: bool
    available_to: list[int]
    included_gb: int | None
    cap_action: str
    throttle_download_kbps: int | None
    throttle_upload_kbps: int | None
    overage_price: MoneyOut | None
    topup_gb: int | None
    topup_price: MoneyOut | None
    usage_alerts: str
    rollover: bool
    created_at: dt.datetime


def tariff_out(t: Tariff) -> dict[str, Any]:
    currency = Partner.objects.values_list("currency", flat=True).get(pk=t.partner_id)
    return {
        **{
            f: getattr(t, f)
            for f in TariffOut.model_fields
            if f not in ("price", "available_to", "overage_price", "topup_price")
        },
        "price": money_out(t.price_minor, currency),
        "overage_price": None
        if t.overage_price_minor is None
        else money_out(t.overage_price_minor, currency),
        "topup_price": None
        if t.topup_price_minor is None
        else money_out(t.topup_price_minor, currency),
        "available_to": sorted(t.available_to.values_list("pk", flat=True)),
    }


def _resolve(request: HttpRequest, partner: Partner, data: dict[str, Any]) -> dict[str, Any]:
    if "price" in data:
        data["price_minor"] = amount_minor(data.pop("price"), partner.currency, field="price")
    if "overage_price" in data:
        text = data.pop("overage_price")
        data["overage_price_minor"] = (
            None
            if text in (None, "")
            else amount_minor(text, partner.currency, field="overage_price")
        )
    if data.get("topup_gb") == 0:  # no top-ups: the pack and its price go
        data["topup_gb"] = None
        data["topup_price_minor"] = None
        data.pop("topup_price", None)
    if "topup_price" in data:
        text = data.pop("topup_price")
        data["topup_price_minor"] = (
            None
            if text in (None, "")
            else amount_minor(text, partner.currency, field="topup_price")
        )
    if "tax_rate_id" in data:
        rate = TaxRate.objects.filter(pk=data.pop("tax_rate_id"), partner=partner).first()
        if rate is None:
            raise DomainValidationError.for_fields(
                {"tax_rate_id": "Choose one of the tariff owner's tax rates."}
            )
        data["tax_rate"] = rate
    if "available_to" in data:
        ids = set(data.pop("available_to"))
        partners = list(Partner.objects.filter(pk__in=ids))
        if len(partners) != len(ids) or not access(request).is_operator:
            raise DomainValidationError.for_fields({"available_to": "No such partner."})
        data["available_to"] = partners
    return data


class TariffFilters(ListParams):
    partner_id: Id | None = None
    kind: Kind | None = None
    is_active: bool | None = None
    q: Str100 | None = None
    sort: Literal["id", "-id", "name", "-name", "price_minor", "-price_minor"] = "id"


@router.get("/tariffs", response={200: Page[TariffOut], **ERROR_RESPONSES})
@guard("catalog.read")
def tariff_list(request: HttpRequest, filters: Query[TariffFilters]) -> Any:
    """A partner sees its own tariffs and the operator tariffs it may sell."""
    qs = tariffs_visible(access(request))
    if filters.partner_id:
        qs = qs.filter(partner_id=filters.partner_id)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.is_active is not None:
        qs = qs.filter(is_active=filters.is_active)
    if filters.q:
        qs = qs.filter(name__icontains=filters.q)
    return page(ordered(qs, filters.sort), filters, tariff_out)


@router.post("/tariffs", response={201: TariffOut, **ERROR_RESPONSES})
@guard("catalog.write")
def tariff_create_view(request: HttpRequest, payload: TariffIn) -> Any:
    data = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None}
    partner = acting_partner(request, data.pop("partner_id", None))
    data = _resolve(request, partner, data)
    tariff = tariff_create(
        partner=partner, available_to=data.pop("available_to", ()), actor=actor(request), **data
    )
    return Status(201, tariff_out(tariff))


@router.get("/tariffs/{tariff_id}", response={200: TariffOut, **ERROR_RESPONSES})
@guard("catalog.read")
def tariff_read(request: HttpRequest, tariff_id: int) -> Any:
    return tariff_out(resolved(request, "tariff_id"))


@router.patch("/tariffs/{tariff_id}", response={200: TariffOut, **ERROR_RESPONSES})
@guard("catalog.write")
def tariff_update_view(request: HttpRequest, tariff_id: int, payload: TariffPatch) -> Any:
    tariff = resolved(request, "tariff_id")
    data = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None}
    data = _resolve(request, Partner.objects.get(pk=tariff.partner_id), data)
    tariff = tariff_update(
        tariff=tariff, available_to=data.pop("available_to", None), actor=actor(request), **data
    )
    return tariff_out(tariff)
