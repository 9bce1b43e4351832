"""Dunning: the preview (the run itself, rolled back) and the run.

The operator's dunning covers every customer but those of own-invoicing partners that run
their own (``runs_own_billing``); an own-invoicing partner (or the operator naming it with
``partner_id``) previews and runs its own. Send the preview's ``fingerprint`` with the run
to have it done only if it would still do exactly what the preview listed (else 409 with
nothing done)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema

from ispbill.api.context import access, acting_partner
from ispbill.api.errors import ERROR_RESPONSES, ApiError
from ispbill.api.guard import guard
from ispbill.api.schemas import InSchema
from ispbill.core.errors import DomainValidationError
from ispbill.customers.models import Customer
from ispbill.dunning.services import DunningResult, dunning_run
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import Partner, PartnerMode

router = Router(tags=["dunning"])


class DunningIn(InSchema):
    partner_id: int | None = Field(
        None,
        description="Operator only: an own-invoicing partner's own dunning (a partner user "
        "always runs its own)",
    )
    fingerprint: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{32}$",
        description="Run only: the preview's fingerprint; if the run would now do anything "
        "else, nothing is done (409)",
    )


class DunningCustomerOut(Schema):
    customer_id: int
    reference: str
    name: str
    partner_id: int
    days_late: int | None
    reason: str


class DunningReminderOut(Schema):
    invoice_id: int
    number: str
    customer_id: int
    days_after_due: int


class DunningFailureOut(Schema):
    stage: str
    partner_id: int
    customer_id: int | None
    error: str


class DunningOut(Schema):
    date: dt.date
    dry_run: bool = Field(..., description="A preview: nothing was written or sent")
    partner_id: int | None = Field(..., description="Whose dunning: empty for the operator's")
    fingerprint: str
    deactivated: list[DunningCustomerOut]
    blocked: list[DunningCustomerOut]
    subcustomers_blocked: list[DunningCustomerOut] = Field(
        ..., description="Blocked with their aggregated partner's account"
    )
    reminders: list[DunningReminderOut]
    late_fees: int = Field(..., description="Late-payment fees charged (for the next invoice)")
    failures: list[DunningFailureOut]


def _issuer(request: HttpRequest, payload: DunningIn) -> Partner | None:
    if access(request).is_operator and payload.partner_id is None:
        return None
    partner = acting_partner(request, payload.partner_id)
    if partner.mode != PartnerMode.OWN_INVOICING:
        raise DomainValidationError.for_fields(
            {"partner_id": "Only an own-invoicing partner runs its own dunning."}
        )
    return partner


def dunning_out(result: DunningResult) -> dict[str, Any]:
    ids = [*result.deactivated, *result.blocked, *result.subcustomers_blocked]
    people = Customer.objects.filter(pk__in=ids).in_bulk()
    numbers = {
        pk: (number, customer_id)
        for pk, number, customer_id in Invoice.objects.filter(
            pk__in=[pk for pk, _d in result.reminded]
        ).values_list("pk", "number", "customer_id")
    }

    def rows(pks: list[int]) -> list[dict[str, Any]]:
        return [
            {
                "customer_id": pk,
                "reference": people[pk].reference,
                "name": people[pk].name,
                "partner_id": people[pk].partner_id,
                "days_late": result.days_late.get(pk),
                "reason": result.reasons.get(pk, ""),
            }
            for pk in pks
            if pk in people
        ]

    return {
        "date": result.today,
        "dry_run": result.dry_run,
        "partner_id": result.issuer_id,
        "fingerprint": result.fingerprint(),
        "deactivated": rows(result.deactivated),
        "blocked": rows(result.blocked),
        "subcustomers_blocked": rows(result.subcustomers_blocked),
        "reminders": [
            {
                "invoice_id": pk,
                "number": numbers[pk][0],
                "customer_id": numbers[pk][1],
                "days_after_due": days,
            }
            for pk, days in result.reminded
            if pk in numbers
        ],
        "late_fees": result.late_fees,
        "failures": [
            {
                "stage": f.stage,
                "partner_id": f.partner_id,
                "customer_id": f.customer_id,
                "error": f.error,
            }
            for f in result.failures
        ],
    }


@router.post("/dunning/preview", response={200: DunningOut, **ERROR_RESPONSES})
@guard("billing.run")
def dunning_preview(request: HttpRequest, payload: DunningIn) -> Any:
    """What a dunning run as of today would block, deactivate and remind: the run itself,
    rolled back. Writes and sends nothing."""
    issuer = _issuer(request, payload)
    return dunning_out(dunning_run(today=timezone.localdate(), dry_run=True, issuer=issuer))


@router.post("/dunning/runs", response={200: DunningOut, **ERROR_RESPONSES})
@guard("billing.run")
def dunning_run_view(request: HttpRequest, payload: DunningIn) -> Any:
    """Run dunning as of today: block, deactivate, block sub-customers with their partner's
    account, queue the reminders. With ``fingerprint``: only if it would do exactly what
    that preview listed (409 ``dunning_changed`` with nothing done otherwise)."""
    issuer = _issuer(request, payload)
    result = dunning_run(
        today=timezone.localdate(), issuer=issuer, actor=request.user, expect=payload.fingerprint
    )
    if result.changed:
        raise ApiError(
            409,
            "Something changed since the preview (a payment, an invoice): nothing was done. "
            "Preview again.",
            code="dunning_changed",
        )
    return dunning_out(result)
