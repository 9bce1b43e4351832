"""Document numbering of an issuer (the operator or an own-invoicing partner): the next
number of each type, and continuing a series from another system (forward only)."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from ispbill.api.context import acting_partner, actor
from ispbill.api.errors import ERROR_RESPONSES
from ispbill.api.guard import guard
from ispbill.api.schemas import Id, InSchema
from ispbill.core.errors import DomainValidationError
from ispbill.invoicing.sequences import (
    SEQUENCE_MAX,
    SequenceError,
    sequence_set_next,
    sequences_state,
)
from ispbill.partners.models import Partner, PartnerMode

router = Router(tags=["numbering"])

DocType = Literal["invoice", "credit_note", "receipt"]


class SequenceOut(Schema):
    doc_type: str
    pattern: str
    period_key: str = Field(..., description="The year for a pattern with {year}, else empty")
    next_value: int
    next_number: str = Field(..., description="The next number as printed (customer part 0)")


class SequenceQuery(Schema):
    partner_id: Id | None = Field(None, description="Operator only; default the home partner")


class SequenceNextIn(InSchema):
    partner_id: Id | None = Field(None, description="Operator only; default the home partner")
    doc_type: DocType
    next_value: int = Field(..., ge=1, le=SEQUENCE_MAX)
    year: int | None = Field(
        None, ge=2000, le=2100, description="For a pattern with {year}; default this year"
    )


def _issuer(request: HttpRequest, partner_id: int | None) -> Partner:
    issuer = acting_partner(request, partner_id)
    if not (issuer.is_home or issuer.mode == PartnerMode.OWN_INVOICING):
        raise DomainValidationError.for_fields(
            {"partner_id": f"{issuer.name} issues no documents of its own."}
        )
    return issuer


def _out(issuer: Partner) -> list[dict[str, Any]]:
    return [
        {
            "doc_type": s.doc_type,
            "pattern": s.pattern,
            "period_key": s.period_key,
            "next_value": s.next_value,
            "next_number": s.next_number,
        }
        for s in sequences_state(issuer=issuer, on=timezone.localdate())
    ]


@router.get("/sequences", response={200: list[SequenceOut], **ERROR_RESPONSES})
@guard("issuer.manage")
def sequence_list(request: HttpRequest, query: Query[SequenceQuery]) -> Any:
    """The next number of each document type of the issuer."""
    return _out(_issuer(request, query.partner_id))


@router.post("/sequences/next", response={200: list[SequenceOut], **ERROR_RESPONSES})
@guard("issuer.manage")
def sequence_next(request: HttpRequest, payload: SequenceNextIn) -> Any:
    """Continue numbering from another system: set the next number of one document type.
    Forward only; a move backward answers 422. Audited."""
    issuer = _issuer(request, payload.partner_id)
    try:
        sequence_set_next(
            issuer=issuer,
            doc_type=payload.doc_type,
            year=payload.year,
            next_value=payload.next_value,
            actor=actor(request),
        )
    except SequenceError as exc:
        raise DomainValidationError.for_fields({"next_value": str(exc)}) from exc
    return _out(issuer)
