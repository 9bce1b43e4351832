"""Tax rates of an issuer (the operator or an own-invoicing partner)."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from ispbill.api.context import acting_partner, actor
from ispbill.api.errors import ERROR_RESPONSES
from ispbill.api.guard import guard, resolved
from ispbill.api.schemas import Id, InSchema, ListParams, Name100, Page, PercentBp, ordered, page
from ispbill.catalog.models import TaxRate
from ispbill.catalog.services import tax_rate_create, tax_rate_update

router = Router(tags=["catalog"])

Category = Literal["S", "Z", "E", "AE", "K", "G", "O", "L", "M"]


class TaxRateIn(InSchema):
    partner_id: Id | None = Field(None, description="Operator only; default the home partner")
    name: Name100
    rate_bp: PercentBp = Field(..., description="Hundredths of a percent: 19 % = 1900")
    category: Category = "S"


class TaxRatePatch(InSchema):
    name: Name100 | None = None
    rate_bp: PercentBp | None = None
    category: Category | None = None
    is_active: bool | None = None


class TaxRateOut(Schema):
    id: int
    partner_id: int
    name: str
    rate_bp: int
    rate: str = Field(..., description='Percent as a decimal string, "19.00"')
    category: str
    is_active: bool

    @staticmethod
    def resolve_rate(obj: TaxRate) -> str:
        return f"{obj.rate_bp // 100}.{obj.rate_bp % 100:02d}"


class TaxRateFilters(ListParams):
    partner_id: Id | None = None
    is_active: bool | None = None
    sort: Literal["id", "-id", "name", "-name", "rate_bp", "-rate_bp"] = "id"


@router.get("/tax-rates", response={200: Page[TaxRateOut], **ERROR_RESPONSES})
@guard("catalog.read")
def tax_rate_list(request: HttpRequest, filters: Query[TaxRateFilters]) -> Any:
    qs = TaxRate.objects.all()
    if filters.partner_id:
        qs = qs.filter(partner_id=filters.partner_id)
    if filters.is_active is not None:
        qs = qs.filter(is_active=filters.is_active)
    return page(ordered(qs, filters.sort), filters)


@router.post("/tax-rates", response={201: TaxRateOut, **ERROR_RESPONSES})
@guard("catalog.write")
def tax_rate_create_view(request: HttpRequest, payload: TaxRateIn) -> Any:
    data = payload.dict()
    partner = acting_partner(request, data.pop("partner_id"))
    return Status(201, tax_rate_create(partner=partner, actor=actor(request), **data))


@router.get("/tax-rates/{tax_rate_id}", response={200: TaxRateOut, **ERROR_RESPONSES})
@guard("catalog.read")
def tax_rate_read(request: HttpRequest, tax_rate_id: int) -> Any:
    return resolved(request, "tax_rate_id")


@router.patch("/tax-rates/{tax_rate_id}", response={200: TaxRateOut, **ERROR_RESPONSES})
@guard("catalog.write")
def tax_rate_update_view(request: HttpRequest, tax_rate_id: int, payload: TaxRatePatch) -> Any:
    data = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None}
    return tax_rate_update(tax_rate=resolved(request, "tax_rate_id"), actor=actor(request), **data)
