"""Partner selectors and services."""

from __future__ import annotations

from ispbill.partners.models import Partner


def partner_home() -> Partner:
    """The home partner (the operator), created by the migrations."""
    return Partner.objects.get(is_home=True)
