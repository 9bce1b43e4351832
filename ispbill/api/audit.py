"""The audit log (read only): operator administrators see all, partner admins their own."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from ispbill.api.errors import ERROR_RESPONSES
from ispbill.api.guard import guard, resolved
from ispbill.api.schemas import Day, Id, ListParams, Page, Str40, Str60, Str150, ordered, page
from ispbill.core.models import AuditEvent

router = Router(tags=["audit"])


class AuditEventOut(Schema):
    id: int
    created_at: dt.datetime
    actor_id: int | None
    actor_label: str
    action: str
    object_type: str
    object_id: str
    partner_id: int | None
    changes: dict[str, Any]
    remote_addr: str | None


class AuditFilters(ListParams):
    action: Str60 | None = Field(None, description='Exact action, e.g. "payment.recorded"')
    object_type: Str60 | None = Field(None, description='e.g. "customers.customer"')
    object_id: Str40 | None = None
    actor: Str150 | None = Field(None, description="User name (actor label)")
    partner_id: Id | None = None
    since: Day | None = None
    until: Day | None = None
    sort: Literal["id", "-id"] = "-id"


@router.get("/audit-events", response={200: Page[AuditEventOut], **ERROR_RESPONSES})
@guard("audit.read")
def audit_event_list(request: HttpRequest, filters: Query[AuditFilters]) -> Any:
    qs = AuditEvent.objects.all()
    for name, lookup in (
        ("action", "action"),
        ("object_type", "object_type"),
        ("object_id", "object_id"),
        ("actor", "actor_label"),
        ("partner_id", "partner_id"),
    ):
        value = getattr(filters, name)
        if value:
            qs = qs.filter(**{lookup: value})
    if filters.since:
        qs = qs.filter(created_at__date__gte=filters.since)
    if filters.until:
        qs = qs.filter(created_at__date__lte=filters.until)
    return page(ordered(qs, filters.sort), filters)


@router.get("/audit-events/{event_id}", response={200: AuditEventOut, **ERROR_RESPONSES})
@guard("audit.read")
def audit_event_read(request: HttpRequest, event_id: int) -> Any:
    return resolved(request, "event_id")
