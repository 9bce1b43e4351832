"""The REST API (``/api/v1/``). Every operation authenticates (``API_AUTH``) unless it says
``auth=None``; the docs and the OpenAPI schema are public."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import NinjaAPI, Schema

from ispbill.accounts.permissions import access_for_request
from ispbill.api import (
    audit,
    billing_runs,
    brand,
    commission_statements,
    customer_services,
    customers,
    dunning,
    emails,
    exports,
    gateways,
    invoices,
    one_time_charges,
    partner_prices,
    partners,
    payments,
    plan_changes,
    sepa,
    sequences,
    tariffs,
    tax_rates,
    usage,
    users,
    webhooks,
)
from ispbill.api.auth import API_AUTH
from ispbill.api.errors import ERROR_RESPONSES, install_exception_handlers

api = NinjaAPI(
    title="ispbill",
    version="1",
    urls_namespace="api",
    auth=API_AUTH,
    description="The ispbill REST API. See docs/api.md: authentication, money, idempotency, "
    "errors, pagination.",
)
install_exception_handlers(api)

for _module in (
    partners,
    brand,
    customers,
    tax_rates,
    tariffs,
    partner_prices,
    customer_services,
    plan_changes,
    one_time_charges,
    billing_runs,
    dunning,
    invoices,
    emails,
    payments,
    sepa,
    gateways,
    commission_statements,
    sequences,
    users,
    audit,
    webhooks,
    usage,
    exports,
):
    api.add_router("/", _module.router)


class MeOut(Schema):
    username: str
    role: str
    partner_id: int | None
    customer_id: int | None
    impersonating: bool
    capabilities: list[str]


@api.get("/me", response={200: MeOut, **ERROR_RESPONSES}, tags=["account"])
def me(request: HttpRequest) -> dict[str, Any]:
    """The authenticated user and what it may do."""
    access = access_for_request(request)
    user: Any = request.user
    return {
        "username": user.username,
        "role": access.role or "",
        "partner_id": access.partner_id,
        "customer_id": access.customer_id,
        "impersonating": access.is_impersonating,
        "capabilities": sorted(access.capabilities),
    }
