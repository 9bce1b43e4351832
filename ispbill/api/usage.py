"""Usage reads: top users of a period and traffic per partner and month (docs/usage.md,
docs/api.md). Read in the token's scope: a partner's token sees its own services only."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from ispbill.api.errors import ERROR_RESPONSES
from ispbill.api.guard import guard
from ispbill.api.schemas import Day, Id, ListParams, Page, Str100, page
from ispbill.core.errors import DomainValidationError
from ispbill.radius.usage_stats import top_details, usage_per_partner, usage_top

router = Router(tags=["usage"])
MAX_DAYS = 366


class Period(Schema):
    start: Day | None = Field(None, description="First day (included); default: this month's first")
    end: Day | None = Field(None, description="Last day (included); default: today")


def _period(params: Period) -> tuple[dt.date, dt.date]:
    today = timezone.localdate()
    start = params.start or today.replace(day=1)
    end = params.end or today
    if end < start:
        raise DomainValidationError.for_fields({"end": "The period ends before it starts."})
    if (end - start).days >= MAX_DAYS:
        raise DomainValidationError.for_fields({"end": "Choose a period of at most a year."})
    return start, end


class TopUsersFilters(ListParams, Period):
    q: Str100 | None = Field(
        None,
        description="Part of the customer's name or number, the "
        "service's description or its RADIUS User-Name",
    )
    partner_id: Id | None = None


class TopUserOut(Schema):
    service_id: int
    customer_id: int
    customer_reference: str
    customer_name: str
    partner_name: str
    service_description: str
    tariff_name: str
    username: str | None = Field(..., description="The service's RADIUS User-Name")
    included_gb: int | None = Field(..., description="The tariff's included volume per month")
    upload_bytes: int
    download_bytes: int
    total_bytes: int


@router.get("/usage/top", response={200: Page[TopUserOut], **ERROR_RESPONSES})
@guard("customers.read")
def usage_top_list(request: HttpRequest, filters: Query[TopUsersFilters]) -> Any:
    """The services with most traffic (download + upload) in the period, most first."""
    start, end = _period(filters)
    rows = usage_top(start=start, end=end, q=filters.q or "", partner_id=filters.partner_id)
    answer = page(rows, filters)
    answer["items"] = top_details(answer["items"])
    return answer


class PartnerUsageOut(Schema):
    month: dt.date = Field(..., description="First day of the month")
    partner_id: int
    partner_name: str
    services: int = Field(..., description="Services with traffic in the month")
    upload_bytes: int
    download_bytes: int
    total_bytes: int


class PartnerUsageList(Schema):
    start: dt.date
    end: dt.date
    items: list[PartnerUsageOut]


@router.get("/usage/partners", response={200: PartnerUsageList, **ERROR_RESPONSES})
@guard("finance.read")
def usage_partners(request: HttpRequest, filters: Query[Period]) -> Any:
    """Traffic per partner and month in the period (the reports page's usage report)."""
    start, end = _period(filters)
    return {"start": start, "end": end, "items": usage_per_partner(start=start, end=end)}
