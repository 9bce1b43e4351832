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
    ListParams,
    MoneyOut,
    Page,
    amount_minor,
    money_out,
    ordered,
    page,
)
from ispbill.catalog.models import PartnerPrice, Tariff
from ispbill.catalog.services import partner_price_set
from ispbill.core.errors import DomainValidationError, NotAllowed
from ispbill.partners.models import Partner

router = Router(tags=["catalog"])


class PartnerPriceIn(Schema):
    partner_id: Id
    tariff_id: Id
    price: AmountText = Field(..., description="Net, in the operator's currency")


class PartnerPricePatch(Schema):
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
