"""Users (administrators: operator admins all, partner admins their partner's) and API
tokens (one's own; administrators also those of the users they manage)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from ispbill.accounts.models import PARTNER_ROLES, ApiToken, Role
from ispbill.accounts.services import api_token_create, api_token_revoke, user_create, user_update
from ispbill.api.context import access, actor
from ispbill.api.errors import ERROR_RESPONSES
from ispbill.api.guard import guard, resolved
from ispbill.api.lookups import tokens_visible, users_visible
from ispbill.api.schemas import (
    Id,
    InSchema,
    ListParams,
    Name100,
    Name150,
    Page,
    Str100,
    Str150,
    Str254,
    ordered,
    page,
)
from ispbill.core.audit import client_address
from ispbill.core.errors import DomainValidationError, NotAllowed
from ispbill.core.tenancy import get_scoped_or_404
from ispbill.customers.models import Customer
from ispbill.partners.models import Partner

router = Router(tags=["users"])

RoleName = Literal["admin", "accountant", "support", "partner_admin", "partner_staff", "customer"]


class UserIn(InSchema):
    username: Name150 = Field(..., pattern=r"^[\w.@+-]+$")
    role: RoleName
    email: Str254 = ""
    first_name: Str150 = ""
    last_name: Str150 = ""
    partner_id: Id | None = Field(None, description="Partner roles and portal users")
    customer_id: Id | None = Field(None, description="Portal users")


class UserPatch(InSchema):
    email: Str254 | None = None
    first_name: Str150 | None = None
    last_name: Str150 | None = None
    role: RoleName | None = None
    is_active: bool | None = None


class UserOut(Schema):
    id: int
    username: str
    role: str
    email: str
    first_name: str
    last_name: str
    partner_id: int | None
    customer_id: int | None
    is_active: bool
    date_joined: dt.datetime
    last_login: dt.datetime | None


def _role_allowed(request: HttpRequest, role: str | None) -> None:
    if role is None or access(request).is_operator:
        return
    if role not in PARTNER_ROLES and role != Role.CUSTOMER:
        raise NotAllowed("A partner administrator creates partner staff and portal users only.")


class UserFilters(ListParams):
    role: RoleName | None = None
    partner_id: Id | None = None
    is_active: bool | None = None
    q: Str100 | None = None
    sort: Literal["id", "-id", "username", "-username"] = "id"


@router.get("/users", response={200: Page[UserOut], **ERROR_RESPONSES})
@guard("users.manage")
def user_list(request: HttpRequest, filters: Query[UserFilters]) -> Any:
    qs = users_visible(access(request))
    if filters.role:
        qs = qs.filter(role=filters.role)
    if filters.partner_id:
        qs = qs.filter(partner_id=filters.partner_id)
    if filters.is_active is not None:
        qs = qs.filter(is_active=filters.is_active)
    if filters.q:
        qs = qs.filter(username__icontains=filters.q)
    return page(ordered(qs, filters.sort), filters)


@router.post("/users", response={201: UserOut, **ERROR_RESPONSES})
@guard("users.manage")
def user_create_view(request: HttpRequest, payload: UserIn) -> Any:
    """A user without a password: it sets one through "forgot password", or uses tokens."""
    _role_allowed(request, payload.role)
    acc = access(request)
    partner = None
    if payload.partner_id is not None or not acc.is_operator:
        pid = payload.partner_id if acc.is_operator else acc.partner_id
        if not acc.is_operator and payload.partner_id not in (None, acc.partner_id):
            pid = None
        partner = Partner.objects.filter(pk=pid).first() if pid else None
        if partner is None:
            raise DomainValidationError.for_fields({"partner_id": "No such partner."})
    customer = None
    if payload.customer_id is not None:
        try:
            customer = get_scoped_or_404(Customer, pk=payload.customer_id, for_write=True)
        except Exception as exc:
            raise DomainValidationError.for_fields({"customer_id": "No such customer."}) from exc
    user = user_create(
        username=payload.username,
        role=payload.role,
        email=payload.email,
        partner=partner,
        customer=customer,
        first_name=payload.first_name,
        last_name=payload.last_name,
        actor=actor(request),
    )
    return Status(201, user)


@router.get("/users/{user_id}", response={200: UserOut, **ERROR_RESPONSES})
@guard("users.manage")
def user_read(request: HttpRequest, user_id: int) -> Any:
    return resolved(request, "user_id")


@router.patch("/users/{user_id}", response={200: UserOut, **ERROR_RESPONSES})
@guard("users.manage")
def user_update_view(request: HttpRequest, user_id: int, payload: UserPatch) -> Any:
    _role_allowed(request, payload.role)
    data = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None}
    return user_update(user=resolved(request, "user_id"), actor=actor(request), **data)


# -- tokens ---------------------------------------------------------------------------------


class TokenOut(Schema):
    id: int
    user_id: int
    name: str
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class TokenCreatedOut(TokenOut):
    token: str = Field(..., description="The secret: shown once, never again")


class TokenIn(InSchema):
    name: Name100
    expires_at: dt.datetime | None = Field(None, description="Default: never expires")
    user_id: Id | None = Field(None, description="Administrators: create it for a user they manage")


class TokenFilters(ListParams):
    user_id: Id | None = None
    active: bool | None = None
    sort: Literal["id", "-id", "created_at", "-created_at"] = "-id"


@router.get("/tokens", response={200: Page[TokenOut], **ERROR_RESPONSES})
@guard("tokens.own")
def token_list(request: HttpRequest, filters: Query[TokenFilters]) -> Any:
    qs = tokens_visible(access(request))
    if filters.user_id:
        qs = qs.filter(user_id=filters.user_id)
    if filters.active is not None:
        qs = qs.filter(revoked_at__isnull=filters.active)
    return page(ordered(qs, filters.sort), filters)


@router.post("/tokens", response={201: TokenCreatedOut, **ERROR_RESPONSES})
@guard("tokens.own")
def token_create(request: HttpRequest, payload: TokenIn) -> Any:
    """The plaintext token is in the response, once."""
    user: Any = request.user
    if payload.user_id is not None and payload.user_id != user.pk:
        target = (
            users_visible(access(request)).filter(pk=payload.user_id).first()
            if access(request).can("users.manage")
            else None
        )
        if target is None:
            raise DomainValidationError.for_fields({"user_id": "No such user."})
        user = target
    expires = payload.expires_at
    if expires is not None and timezone.is_naive(expires):
        expires = timezone.make_aware(expires)
    if expires is not None and not dt.datetime(2000, 1, 1, tzinfo=dt.UTC) < expires < dt.datetime(
        2200, 1, 1, tzinfo=dt.UTC
    ):
        raise DomainValidationError.for_fields({"expires_at": "Give a date before 2200."})
    token, plaintext = api_token_create(
        user=user,
        name=payload.name,
        expires_at=expires,
        actor=actor(request),
        remote_addr=client_address(request),
    )
    body = TokenOut.from_orm(token).dict()
    return Status(201, {**body, "token": plaintext})


@router.delete("/tokens/{token_id}", response={200: TokenOut, **ERROR_RESPONSES})
@guard("tokens.own")
def token_revoke(request: HttpRequest, token_id: int) -> Any:
    """Revoke at once; revoking twice changes nothing."""
    token: ApiToken = resolved(request, "token_id")
    return api_token_revoke(token=token, actor=actor(request), remote_addr=client_address(request))
