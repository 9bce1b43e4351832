"""Webhook endpoints, their deliveries and the events (docs/webhooks.md). The operator's
endpoints receive every partner's events; a partner's endpoints only its own; the event
list is scoped the same way."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from pydantic import HttpUrl, UrlConstraints

from ispbill.api.context import actor
from ispbill.api.errors import ERROR_RESPONSES
from ispbill.api.guard import guard, resolved
from ispbill.api.schemas import Id, InSchema, ListParams, Page, Str60, Str200, ordered, page
from ispbill.core.errors import DomainValidationError
from ispbill.core.tenancy import current_partner_ids
from ispbill.events.catalog import EVENT_TYPES
from ispbill.events.models import Delivery, DeliveryStatus, Event, WebhookEndpoint
from ispbill.events.services import (
    delivery_replay,
    endpoint_create,
    endpoint_delete,
    endpoint_secret_rotate,
    endpoint_update,
    events_horizon,
)
from ispbill.partners.models import Partner

router = Router(tags=["webhooks"])

EventType = Literal[tuple(EVENT_TYPES)]  # type: ignore[valid-type]


# The model keeps 500 characters (the service refuses longer, after normalising).
EndpointUrl = Annotated[HttpUrl, UrlConstraints(max_length=500)]


class EndpointIn(InSchema):
    url: EndpointUrl
    description: Str200 = ""
    event_types: list[EventType] = Field(  # type: ignore[valid-type]
        default_factory=list, description="Empty: every type", max_length=len(EVENT_TYPES)
    )
    partner_id: Id | None = Field(
        None,
        description="Operator only: the partner whose endpoint this is (its events only); "
        "empty: the operator's (every partner's events). A partner: always its own.",
    )


class EndpointChange(InSchema):
    url: EndpointUrl
    description: Str200 = ""
    event_types: list[EventType] = Field(  # type: ignore[valid-type]
        default_factory=list, max_length=len(EVENT_TYPES)
    )
    enabled: bool = True


class EndpointOut(Schema):
    id: int
    partner_id: int | None
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str
    consecutive_failures: int
    previous_secret_expires_at: dt.datetime | None = Field(
        ..., description="After a rotation: until then requests carry both signatures"
    )
    created_at: dt.datetime


class EndpointCreated(EndpointOut):
    secret: str = Field(..., description="whsec_…: the signing secret, returned only here")


class RotateIn(InSchema):
    grace_hours: int = Field(
        24,
        ge=0,
        le=168,
        description="Hours the previous secret still signs (0: it ends at once)",
    )


class DeliveryOut(Schema):
    id: int
    endpoint_id: int
    event_id: str = Field(..., description="The event's id (sent as webhook-id)")
    event_type: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str
    delivered_at: dt.datetime | None


class Amount(Schema):
    amount: str = Field(..., description='Decimal text, e.g. "35.70"')
    currency: str


class InvoiceIssuedData(Schema):
    """``invoice.issued``"""

    invoice_id: int
    number: str
    kind: str
    customer_id: int
    issuer_id: int
    billing_run_id: int | None
    issue_date: str
    due_date: str
    net: Amount
    tax: Amount
    total: Amount


class CreditNoteIssuedData(Schema):
    """``credit_note.issued``"""

    credit_note_id: int
    number: str
    invoice_id: int
    invoice_number: str
    customer_id: int
    issuer_id: int
    issue_date: str
    reason: str
    net: Amount
    tax: Amount
    total: Amount


class PaymentReceivedData(Schema):
    """``payment.received``"""

    payment_id: int
    customer_id: int
    issuer_id: int
    date: str
    method: str
    reference: str
    receipt_number: str
    amount: Amount
    allocated: Amount


class PaymentReturnedData(Schema):
    """``payment.returned``"""

    payment_id: int
    refund_id: int
    customer_id: int
    issuer_id: int
    date: str = Field(..., description="When the money went back")
    method: str
    reference: str
    kind: Literal["refund", "reversal"] = Field(
        ...,
        description="refund: unallocated credit paid back; reversal: the whole payment "
        "taken back (SEPA return, chargeback, card refund), its invoices open again",
    )
    reason: str
    amount: Amount = Field(..., description="What went back now")
    payment_amount: Amount
    refunded: Amount = Field(..., description="Refunded of the payment so far, this included")


class CustomerStatusData(Schema):
    """``customer.activated``, ``customer.unblocked``, ``customer.blocked``,
    ``customer.deactivated``"""

    customer_id: int
    reference: str
    name: str
    status: str
    previous_status: str | None = Field(None, description="The status before the change")


class ServiceData(Schema):
    """``service.created``, ``service.changed``, ``service.stopped``"""

    service_id: int
    customer_id: int
    tariff_id: int
    status: str
    start_date: str
    end_date: str | None


class BillingRunFinishedData(Schema):
    """``billing_run.finished``"""

    billing_run_id: int
    run_date: str
    status: str
    customers_billed: int
    invoices_issued: int
    failures: int
    totals: dict[str, str]


class CommissionStatementData(Schema):
    """``commission_statement.approved``, ``commission_statement.paid``"""

    statement_id: int
    number: str
    period_start: str
    period_end: str
    status: str
    total: Amount
    tax: Amount
    gross: Amount
    payout_reference: str


class MandateData(Schema):
    """``mandate.created``, ``mandate.revoked``"""

    mandate_id: int
    customer_id: int
    reference: str
    status: str
    signature_date: str
    iban_masked: str
    ended_on: str | None


class EventPayload(Schema):
    """The body POSTed to webhook endpoints (docs/webhooks.md), payload version 1."""

    id: str
    type: str
    version: int = Field(..., description="Payload version: 1")
    timestamp: str
    partner_id: int | None
    # The typed variants document each type's data; the last keeps the data as written.
    data: (
        InvoiceIssuedData
        | CreditNoteIssuedData
        | PaymentReceivedData
        | PaymentReturnedData
        | CustomerStatusData
        | ServiceData
        | BillingRunFinishedData
        | CommissionStatementData
        | MandateData
        | dict[str, Any]
    )


class EventOut(Schema):
    id: str = Field(..., description="Stable id, sent as webhook-id")
    seq: int = Field(..., description="Increasing number: poll with after=<last seq seen>")
    type: str
    partner_id: int | None
    object_type: str
    object_id: str
    created_at: dt.datetime
    payload: EventPayload = Field(..., description="The body sent to endpoints")


def _endpoint_out(e: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": e.pk,
        "partner_id": e.partner_id,
        "url": e.url,
        "description": e.description,
        "event_types": e.event_types,
        "enabled": e.enabled,
        "disabled_reason": e.disabled_reason,
        "consecutive_failures": e.consecutive_failures,
        "previous_secret_expires_at": e.previous_secret_expires_at
        if e.previous_secret and e.previous_secret_expires_at
        else None,
        "created_at": e.created_at,
    }


def _delivery_out(d: Delivery) -> dict[str, Any]:
    return {
        "id": d.pk,
        "endpoint_id": d.endpoint_id,
        "event_id": d.event.uid,
        "event_type": d.event.type,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at if d.status == DeliveryStatus.PENDING else None,
        "last_attempt_at": d.last_attempt_at,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "delivered_at": d.delivered_at,
    }


def _event_out(e: Event) -> dict[str, Any]:
    return {
        "id": e.uid,
        "seq": e.pk,
        "type": e.type,
        "partner_id": e.partner_id,
        "object_type": e.object_type,
        "object_id": e.object_id,
        "created_at": e.created_at,
        "payload": e.payload,
    }


def _owner(partner_id: int | None) -> int | None:
    partners = current_partner_ids()
    if partners is None:
        if partner_id is not None and not Partner.objects.filter(pk=partner_id).exists():
            raise DomainValidationError.for_fields({"partner_id": "No such partner."})
        return partner_id
    if partner_id is not None and partner_id not in partners:
        raise DomainValidationError.for_fields({"partner_id": "No such partner."})
    return partners[0]


class EndpointFilters(ListParams):
    sort: Literal["id", "-id"] = "id"


@router.get("/webhook-endpoints", response={200: Page[EndpointOut], **ERROR_RESPONSES})
@guard("webhooks.manage")
def webhook_endpoint_list(request: HttpRequest, filters: Query[EndpointFilters]) -> Any:
    """The endpoints of the scope (the operator sees every partner's too)."""
    return page(ordered(WebhookEndpoint.objects.all(), filters.sort), filters, _endpoint_out)


@router.post("/webhook-endpoints", response={201: EndpointCreated, **ERROR_RESPONSES})
@guard("webhooks.manage")
def webhook_endpoint_create(request: HttpRequest, payload: EndpointIn) -> Any:
    """A new endpoint; its signing secret is in this answer and never again."""
    endpoint = endpoint_create(
        partner_id=_owner(payload.partner_id),
        url=str(payload.url),
        description=payload.description,
        event_types=payload.event_types,
        actor=actor(request),
    )
    return 201, {**_endpoint_out(endpoint), "secret": endpoint.new_secret}


@router.get("/webhook-endpoints/{endpoint_id}", response={200: EndpointOut, **ERROR_RESPONSES})
@guard("webhooks.manage")
def webhook_endpoint_read(request: HttpRequest, endpoint_id: int) -> Any:
    return _endpoint_out(resolved(request, "endpoint_id"))


@router.put("/webhook-endpoints/{endpoint_id}", response={200: EndpointOut, **ERROR_RESPONSES})
@guard("webhooks.manage")
def webhook_endpoint_change(request: HttpRequest, endpoint_id: int, payload: EndpointChange) -> Any:
    """Change the URL, description, event types; enabling a disabled endpoint resets its
    failure count (its missed events can be replayed)."""
    endpoint = endpoint_update(
        resolved(request, "endpoint_id"),
        url=str(payload.url),
        description=payload.description,
        event_types=payload.event_types,
        enabled=payload.enabled,
        actor=actor(request),
    )
    return _endpoint_out(endpoint)


@router.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    response={200: EndpointCreated, **ERROR_RESPONSES},
)
@guard("webhooks.manage")
def webhook_endpoint_rotate_secret(
    request: HttpRequest, endpoint_id: int, payload: RotateIn
) -> Any:
    """A new signing secret, in this answer only. For ``grace_hours`` (default 24) requests
    are signed with the new and the previous secret (two space-separated signatures in
    ``webhook-signature``), so the receiver can switch without missing an event."""
    endpoint = resolved(request, "endpoint_id")
    plain = endpoint_secret_rotate(endpoint, grace_hours=payload.grace_hours, actor=actor(request))
    return {**_endpoint_out(endpoint), "secret": plain}


@router.delete("/webhook-endpoints/{endpoint_id}", response={200: EndpointOut, **ERROR_RESPONSES})
@guard("webhooks.manage")
def webhook_endpoint_remove(request: HttpRequest, endpoint_id: int) -> Any:
    """Delete the endpoint and its delivery log (pending deliveries are not sent); answers
    the endpoint as it was."""
    endpoint = resolved(request, "endpoint_id")
    out = _endpoint_out(endpoint)
    endpoint_delete(endpoint, actor=actor(request))
    return out


class DeliveryFilters(ListParams):
    status: Literal["pending", "succeeded", "failed"] | None = None


@router.get(
    "/webhook-endpoints/{endpoint_id}/deliveries",
    response={200: Page[DeliveryOut], **ERROR_RESPONSES},
)
@guard("webhooks.manage")
def webhook_delivery_list(
    request: HttpRequest, endpoint_id: int, filters: Query[DeliveryFilters]
) -> Any:
    """The endpoint's delivery log, newest first."""
    qs = Delivery.objects.filter(endpoint=resolved(request, "endpoint_id")).select_related("event")
    if filters.status:
        qs = qs.filter(status=filters.status)
    return page(qs.order_by("-id"), filters, _delivery_out)


@router.post(
    "/webhook-deliveries/{delivery_id}/replay", response={200: DeliveryOut, **ERROR_RESPONSES}
)
@guard("webhooks.manage")
def webhook_delivery_replay(request: HttpRequest, delivery_id: int) -> Any:
    """Send the event to the endpoint again, with a fresh retry schedule."""
    delivery = delivery_replay(resolved(request, "delivery_id"), actor=actor(request))
    return _delivery_out(delivery)


class EventFilters(ListParams):
    type: Str60 | None = Field(None, description='Exact type, e.g. "invoice.issued"')
    after: int | None = Field(
        None, ge=0, description="Only events with seq greater than this (oldest first)"
    )
    object_type: Str60 | None = None
    object_id: Str60 | None = None


class EventTypeOut(Schema):
    type: str
    description: str


@router.get("/event-types", response={200: list[EventTypeOut], **ERROR_RESPONSES})
@guard("webhooks.manage")
def event_type_list(request: HttpRequest) -> Any:
    """The event types ispbill emits (what an endpoint's ``event_types`` may name)."""
    return [{"type": t, "description": d} for t, d in EVENT_TYPES.items()]


@router.get("/events", response={200: Page[EventOut], **ERROR_RESPONSES})
@guard("webhooks.manage")
def event_list(request: HttpRequest, filters: Query[EventFilters]) -> Any:
    """The events of the scope: newest first, or oldest first after a ``seq`` (a feed to
    poll, or to catch up on what an endpoint missed)."""
    qs = Event.objects.all()
    for name in ("type", "object_type", "object_id"):
        value = getattr(filters, name)
        if value:
            qs = qs.filter(**{name: value})
    if filters.after is not None:
        qs = qs.filter(pk__gt=filters.after)
        horizon = events_horizon()
        if horizon is not None:  # a run's events not written yet come before what follows
            qs = qs.filter(pk__lt=horizon)
        return page(qs.order_by("id"), filters, _event_out)
    return page(qs.order_by("-id"), filters, _event_out)
