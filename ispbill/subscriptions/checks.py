"""Subscription invariants verified by ``ispbill check``."""

from __future__ import annotations

from django.db.models import F

from ispbill.core.invariants import Breach, invariant
from ispbill.subscriptions.models import OneTimeCharge, Service


@invariant("services.partner")
def check_service_partner() -> list[Breach]:
    """partner_id is denormalised on tenant rows: it must agree with the customer's."""
    out = []
    bad = Service.objects.exclude(partner_id=F("customer__partner_id")).values_list("pk", flat=True)
    if bad:
        out.append(
            Breach(
                "services.partner",
                "service partner differs from its customer's",
                tuple(f"service:{pk}" for pk in bad[:20]),
            )
        )
    bad_otc = OneTimeCharge.objects.exclude(partner_id=F("customer__partner_id")).values_list(
        "pk", flat=True
    )
    if bad_otc:
        out.append(
            Breach(
                "services.partner",
                "one-time charge partner differs from its customer's",
                tuple(f"one_time_charge:{pk}" for pk in bad_otc[:20]),
            )
        )
    return out
