"""What handlers need to know about the request: the actor and the partner to act for."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from ispbill.accounts.permissions import Access, access_for_request
from ispbill.core.errors import DomainValidationError
from ispbill.partners.models import Partner

__all__ = ["access", "acting_partner", "actor"]


def access(request: HttpRequest) -> Access:
    return access_for_request(request)


def actor(request: HttpRequest) -> Any:
    return request.user


def acting_partner(
    request: HttpRequest, partner_id: int | None, *, field: str = "partner_id"
) -> Partner:
    """The partner a create acts for: a partner user's own partner (another id is refused as
    unknown), or for operator staff the partner named (default: the home partner)."""
    acc = access(request)
    if not acc.is_operator:
        if acc.partner_id is None or (partner_id is not None and partner_id != acc.partner_id):
            raise DomainValidationError.for_fields({field: "No such partner."})
        return Partner.objects.get(pk=acc.partner_id)
    if partner_id is None:
        return Partner.objects.get(is_home=True)
    partner = Partner.objects.filter(pk=partner_id).first()
    if partner is None:
        raise DomainValidationError.for_fields({field: "No such partner."})
    return partner
