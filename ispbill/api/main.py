"""The REST API (``/api/v1/``). Every operation authenticates (``API_AUTH``) unless it says
``auth=None``; the docs and the OpenAPI schema are public."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema

from ispbill.accounts.permissions import access_for_request
from ispbill.api.auth import API_AUTH

api = NinjaAPI(title="ispbill", version="1", urls_namespace="api", auth=API_AUTH)


@api.exception_handler(PermissionDenied)
def _permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return api.create_response(
        request, {"detail": "Your role does not allow this action."}, status=403
    )


class MeOut(Schema):
    username: str
    role: str
    partner_id: int | None
    customer_id: int | None
    impersonating: bool
    capabilities: list[str]


@api.get("/me", response=MeOut, tags=["account"])
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
