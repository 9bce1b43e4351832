"""Template context: the request's access and the partner being viewed as."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from ispbill.accounts.permissions import access_for_request
from ispbill.partners.models import Partner


def access(request: HttpRequest) -> dict[str, Any]:
    current = access_for_request(request)
    viewed_partner = None
    if current.is_impersonating and current.partner_id is not None:
        viewed_partner = Partner.objects.filter(pk=current.partner_id).first()
    return {"access": current, "view_as_partner": viewed_partner}
