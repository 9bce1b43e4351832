"""Wholesale partner prices of operator tariffs (aggregated mode, wholesale charges)."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from ispbill.api.context import access, actor
from ispbill.api.errors import ERROR_RESPONSES
from ispbill.api.guard import guard, resolved
from ispbill.api.schemas import (
    AmountText,
    Id,
    InSchema,
    ListParams,
    MoneyOut,
    Page,
    amount_minor,
    money_out,
    ordered,
    page,
)
from ispbill.catalog.models import PartnerPrice, Tariff
from ispbill.catalog.selectors import partner_pays_wholesale
from ispbill.catalog.selectors import partner_price_list as catalog_partner_price_list
from ispbill.catalog.services import (
    PriceListEntry,
    partner_price_list_save,
    partner_price_set,
    partner_tariffs_make_all_available,
)
from ispbill.core.errors import DomainValidationError, NotAllowed
from ispbill.partners.models import Partner

router = Router(tags=["catalog"])


class PartnerPriceIn(InSchema):
    partner_id: Id
    tariff_id: Id
    price: AmountText = Field(..., description="Net, in the operator's currency")


class PartnerPricePatch(InSchema):
    price: AmountText


class PartnerPriceOut(Schema):
    id: int
    partner_id: int
    tariff_id: int
    price: MoneyOut


def _out(p: PartnerPrice) -> dict[str, Any]:
    currency = Partner.objects.values_list("currency", flat=True).get(is_home=True)
    return {
        "id": p.pk,
        "partner_id": p.partner_id,
        "tariff_id": p.tariff_id,
        "price": money_out(p.price_minor, currency),
    }


def _operator_only(request: HttpRequest) -> None:
    if not access(request).is_operator:
        raise NotAllowed("Only the operator sets wholesale prices.")


class PartnerPriceFilters(ListParams):
    partner_id: Id | None = None
    tariff_id: Id | None = None
    sort: Literal["id", "-id", "price_minor", "-price_minor"] = "id"


@router.get("/partner-prices", response={200: Page[PartnerPriceOut], **ERROR_RESPONSES})
@guard("catalog.read")
def partner_price_list(request: HttpRequest, filters: Query[PartnerPriceFilters]) -> Any:
    qs = PartnerPrice.objects.all()
    if filters.partner_id:
        qs = qs.filter(partner_id=filters.partner_id)
    if filters.tariff_id:
        qs = qs.filter(tariff_id=filters.tariff_id)
    return page(ordered(qs, filters.sort), filters, _out)


@router.post("/partner-prices", response={201: PartnerPriceOut, **ERROR_RESPONSES})
@guard("catalog.write")
def partner_price_set_view(request: HttpRequest, payload: PartnerPriceIn) -> Any:
    """Create or change the wholesale price of a tariff for a partner."""
    _operator_only(request)
    partner = Partner.objects.filter(pk=payload.partner_id).first()
    tariff = Tariff.objects.filter(pk=payload.tariff_id).first()
    fields = {}
    if partner is None:
        fields["partner_id"] = "No such partner."
    if tariff is None:
        fields["tariff_id"] = "No such tariff."
    if partner is None or tariff is None:
        raise DomainValidationError.for_fields(fields)
    home_currency = Partner.objects.values_list("currency", flat=True).get(is_home=True)
    price = partner_price_set(
        partner=partner,
        tariff=tariff,
        price_minor=amount_minor(payload.price, home_currency, field="price"),
        actor=actor(request),
    )
    return Status(201, _out(price))


@router.get(
    "/partner-prices/{partner_price_id}", response={200: PartnerPriceOut, **ERROR_RESPONSES}
)
@guard("catalog.read")
def partner_price_read(request: HttpRequest, partner_price_id: int) -> Any:
    return _out(resolved(request, "partner_price_id"))


@router.patch(
    "/partner-prices/{partner_price_id}", response={200: PartnerPriceOut, **ERROR_RESPONSES}
)
@guard("catalog.write")
def partner_price_update_view(
    request: HttpRequest, partner_price_id: int, payload: PartnerPricePatch
) -> Any:
    _operator_only(request)
    current = resolved(request, "partner_price_id")
    home_currency = Partner.objects.values_list("currency", flat=True).get(is_home=True)
    price = partner_price_set(
        partner=current.partner,
        tariff=current.tariff,
        price_minor=amount_minor(payload.price, home_currency, field="price"),
        actor=actor(request),
    )
    return _out(price)


# -- a reseller's price list: availability and price of every operator tariff ---------------


class PriceListItemOut(Schema):
    tariff_id: int
    tariff_name: str
    period_months: int
    is_active: bool
    available: bool = Field(..., description="The partner may sell this tariff")
    retail: MoneyOut
    partner_price: MoneyOut | None = Field(
        ..., description="The partner's own price; null: its discount off retail applies"
    )
    price: MoneyOut = Field(
        ..., description="What the operator bills the partner: partner price, else discount"
    )
    source: Literal["partner_price", "discount"]


class PriceListOut(Schema):
    partner_id: int
    wholesale: bool = Field(
        ...,
        description="The operator bills this partner at these prices (aggregated mode, "
        "or own invoicing with wholesale charges)",
    )
    discount_bp: int
    items: list[PriceListItemOut]


class PriceListItemIn(InSchema):
    tariff_id: Id
    available: bool
    price: AmountText | None = Field(
        None, description="Net, in the operator's currency; null removes the partner price"
    )


class PriceListIn(InSchema):
    items: list[PriceListItemIn] = Field(
        ..., max_length=1000, description="Tariffs not named keep what they have"
    )


class MadeAvailableOut(Schema):
    made_available: int


def _price_list_out(partner: Partner, *, available_only: bool) -> dict[str, Any]:
    if partner.is_home:
        raise DomainValidationError.for_fields(
            {"partner_id": "The operator has no partner price list; choose a reseller."}
        )
    currency = Partner.objects.values_list("currency", flat=True).get(is_home=True)
    rows = catalog_partner_price_list(partner=partner, available_only=available_only)
    return {
        "partner_id": partner.pk,
        "wholesale": partner_pays_wholesale(partner),
        "discount_bp": partner.discount_bp,
        "items": [
            {
                "tariff_id": r.tariff.pk,
                "tariff_name": r.tariff.name,
                "period_months": r.tariff.period_months,
                "is_active": r.tariff.is_active,
                "available": r.available,
                "retail": money_out(r.tariff.price_minor, currency),
                "partner_price": money_out(r.partner_price_minor, currency),
                "price": money_out(r.price_minor, currency),
                "source": r.source,
            }
            for r in rows
        ],
    }


@router.get("/partners/{partner_id}/prices", response={200: PriceListOut, **ERROR_RESPONSES})
@guard("catalog.read")
def partner_prices_read(request: HttpRequest, partner_id: int) -> Any:
    """A reseller's price list. The operator sees every operator tariff; a partner (its
    own id only) sees the tariffs it may sell and its own price for each."""
    partner = resolved(request, "partner_id")
    return _price_list_out(partner, available_only=not access(request).is_operator)


@router.put("/partners/{partner_id}/prices", response={200: PriceListOut, **ERROR_RESPONSES})
@guard("partners.manage")
def partner_prices_write(request: HttpRequest, partner_id: int, payload: PriceListIn) -> Any:
    """Set availability and partner prices of the named operator tariffs, all or nothing."""
    partner = resolved(request, "partner_id")
    currency = Partner.objects.values_list("currency", flat=True).get(is_home=True)
    entries = [
        PriceListEntry(
            tariff_id=item.tariff_id,
            available=item.available,
            price_minor=(
                None
                if item.price is None
                else amount_minor(item.price, currency, field=f"price_{item.tariff_id}")
            ),
        )
        for item in payload.items
    ]
    partner_price_list_save(partner=partner, entries=entries, actor=actor(request))
    return _price_list_out(partner, available_only=False)


@router.post(
    "/partners/{partner_id}/tariffs/make-all-available",
    response={200: MadeAvailableOut, **ERROR_RESPONSES},
)
@guard("partners.manage")
def partner_tariffs_make_all_available_view(request: HttpRequest, partner_id: int) -> Any:
    """Make every active operator tariff available to the reseller."""
    partner = resolved(request, "partner_id")
    added = partner_tariffs_make_all_available(partner=partner, actor=actor(request))
    return {"made_available": added}
