"""The e-mail log: every e-mail sent (invoices, reminders), its status, and sending the
failed ones again (docs/documents.md, "The e-mail log: page and API")."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from ispbill.api.context import actor
from ispbill.api.errors import ERROR_RESPONSES
from ispbill.api.guard import guard, resolved
from ispbill.api.schemas import Id, InSchema, ListParams, Page, Str200, page
from ispbill.core.errors import DomainValidationError
from ispbill.invoicing.models import EmailDelivery, EmailStatus
from ispbill.invoicing.selectors import (
    EmailFilters,
    email_deliveries,
    email_deliveries_retryable,
)
from ispbill.invoicing.sending import email_deliveries_send_queued, email_delivery_retry

router = Router(tags=["emails"])

StatusName = Literal["queued", "sent", "failed"]
KindName = Literal["invoice", "reminder", "other"]
# Ids one retry may name: a page of the list is at most 200, five pages at a time.
RETRY_IDS_MAX = 1000
# all_queued's older_than: at most 30 days, in minutes.
QUEUED_MINUTES_MAX = 30 * 24 * 60


class EmailOut(Schema):
    id: int
    kind: str = Field(..., description="invoice, reminder or other")
    status: str = Field(..., description="queued, sent or failed")
    partner_id: int = Field(..., description="Tenant: the customer's partner")
    issuer_id: int
    customer_id: int | None
    invoice_id: int | None
    invoice_number: str | None
    to: str
    from_email: str
    reply_to: str
    subject: str
    message_id: str
    attempts: int
    last_error: str
    created_at: dt.datetime
    last_attempt_at: dt.datetime | None
    sent_at: dt.datetime | None


class EmailDetailOut(EmailOut):
    body: str = Field(..., description="The text as rendered and sent")


def email_out(d: EmailDelivery, *, body: bool = False) -> dict[str, Any]:
    out = {
        "id": d.pk,
        "kind": d.kind,
        "status": d.status,
        "partner_id": d.partner_id,
        "issuer_id": d.issuer_id,
        "customer_id": d.customer_id,
        "invoice_id": d.invoice_id,
        "invoice_number": d.invoice.number if d.invoice_id and d.invoice else None,
        "to": d.to,
        "from_email": d.from_email,
        "reply_to": d.reply_to,
        "subject": d.subject,
        "message_id": d.message_id,
        "attempts": d.attempts,
        "last_error": d.last_error,
        "created_at": d.created_at,
        "last_attempt_at": d.last_attempt_at,
        "sent_at": d.sent_at,
    }
    if body:
        out["body"] = d.body
    return out


class EmailListParams(ListParams):
    status: StatusName | None = None
    kind: KindName | None = None
    invoice_id: Id | None = None
    customer_id: Id | None = None
    billing_run_id: Id | None = Field(None, description="E-mails of the run's invoices")
    q: Str200 | None = Field(None, description="Recipient, subject or invoice number contains")


def _filters(params: EmailListParams | RetryIn) -> EmailFilters:
    return EmailFilters(
        status=getattr(params, "status", None) or "",
        kind=params.kind or "",
        q=params.q or "",
        invoice_id=params.invoice_id,
        customer_id=params.customer_id,
        billing_run_id=params.billing_run_id,
    )


@router.get("/emails", response={200: Page[EmailOut], **ERROR_RESPONSES})
@guard("finance.read")
def email_list(request: HttpRequest, filters: Query[EmailListParams]) -> Any:
    """The e-mail log of your scope, newest first."""
    qs = email_deliveries(_filters(filters)).select_related("invoice")
    return page(qs, filters, email_out)


class RetryIn(InSchema):
    ids: list[Id] | None = Field(
        None,
        min_length=1,
        max_length=RETRY_IDS_MAX,
        description="The failed e-mails to send again (all must be failed and yours)",
    )
    all_failed: bool = Field(
        False, description="Every failed e-mail you may send again, narrowed by the filters"
    )
    all_queued: bool = Field(
        False,
        description="Every e-mail you may send that is stuck in the queue (queued for "
        "older_than minutes: its sending task was lost), narrowed by the filters; as "
        "`ispbill emails --send-queued`",
    )
    older_than: int | None = Field(
        None,
        ge=0,
        le=QUEUED_MINUTES_MAX,
        description="With all_queued: minutes queued (default EMAIL_QUEUED_GRACE, 60)",
    )
    kind: KindName | None = Field(None, description="With all_failed or all_queued")
    invoice_id: Id | None = Field(None, description="With all_failed or all_queued")
    customer_id: Id | None = Field(None, description="With all_failed or all_queued")
    billing_run_id: Id | None = Field(
        None, description="With all_failed or all_queued: the run's invoices"
    )
    q: Str200 | None = Field(None, description="With all_failed or all_queued")


class RetriedOut(Schema):
    queued: int = Field(
        ...,
        description="How many e-mails were handed to sending: failed ones queued again, "
        "or (all_queued) stuck ones",
    )


def _check_ids(ids: list[int]) -> None:
    """Every id must name a failed e-mail the caller may send again. One that is not
    visible, or that the caller may only read (an operator's invoice to a partner's
    account), is "not found", as a missing one: no existence oracle."""
    wanted = list(dict.fromkeys(ids))
    visible = dict(email_deliveries().filter(pk__in=wanted).values_list("pk", "status"))
    allowed = set(
        email_deliveries_retryable(email_deliveries().filter(pk__in=wanted)).values_list(
            "pk", flat=True
        )
    )
    problems = []
    for pk in wanted:
        if pk in allowed:
            continue
        status = visible.get(pk)
        if status is None or status == EmailStatus.FAILED:
            problems.append(f"{pk}: not found")
        else:
            problems.append(f"{pk}: {status}, not failed")
    if problems:
        raise DomainValidationError.for_fields(
            {"ids": "Only failed e-mails can be sent again; " + "; ".join(problems) + "."},
            code="not_retryable",
        )


@router.post("/emails/retry", response={202: RetriedOut, **ERROR_RESPONSES})
@guard("finance.write")
def email_retry(request: HttpRequest, payload: RetryIn) -> Any:
    """Send failed e-mails again: ``ids`` (all of them must be failed and yours, else 422
    and nothing is queued), or ``all_failed: true`` with optional filters. Each gets a
    fresh round of retries; sent after the request commits. Or ``all_queued: true`` (with
    the same filters and ``older_than`` minutes): the e-mails stuck in the queue, their
    sending task lost, handed to sending again (never sent twice). A partner sends its own
    again, never the operator's e-mails of the invoices to its account."""
    narrowing = [
        name
        for name in ("kind", "invoice_id", "customer_id", "billing_run_id", "q")
        if getattr(payload, name) is not None
    ]
    chosen = [payload.ids is not None, payload.all_failed, payload.all_queued]
    if sum(chosen) != 1:
        raise DomainValidationError.for_fields(
            {"ids": "Give one of ids, all_failed: true or all_queued: true."}, code="invalid"
        )
    if payload.older_than is not None and not payload.all_queued:
        raise DomainValidationError.for_fields(
            {"older_than": "Only with all_queued: true."}, code="invalid"
        )
    if payload.all_queued:
        older_than = (
            payload.older_than * 60
            if payload.older_than is not None
            else int(settings.EMAIL_QUEUED_GRACE)
        )
        # The filters' e-mails; send_queued keeps those stuck and the scope may send.
        handed = email_deliveries_send_queued(
            older_than_seconds=older_than,
            delivery_ids=email_deliveries(_filters(payload)),
            actor=actor(request),
        )
        return Status(202, {"queued": handed})
    if payload.ids is not None:
        if narrowing:
            raise DomainValidationError.for_fields(
                {name: "Only with all_failed or all_queued: true." for name in narrowing},
                code="invalid",
            )
        _check_ids(payload.ids)
        retryable = email_deliveries_retryable(email_deliveries().filter(pk__in=payload.ids))
    else:
        retryable = email_deliveries_retryable(email_deliveries(_filters(payload)))
    queued = email_delivery_retry(delivery_ids=retryable, actor=actor(request))
    return Status(202, {"queued": queued})


# After /emails/retry: the path converter would take "retry" for an id.
@router.get("/emails/{email_id}", response={200: EmailDetailOut, **ERROR_RESPONSES})
@guard("finance.read")
def email_read(request: HttpRequest, email_id: int) -> Any:
    return email_out(resolved(request, "email_id"), body=True)
