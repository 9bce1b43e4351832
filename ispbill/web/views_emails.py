"""The e-mail log: every e-mail sent (invoices, reminders), its status, and sending the
failed ones again (docs/documents.md, "The e-mail log: page and API")."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from ispbill.accounts.permissions import require_capability
from ispbill.core.tenancy import current_partner_ids, get_scoped_or_404
from ispbill.invoicing.models import EmailDelivery, EmailKind, EmailStatus
from ispbill.invoicing.selectors import (
    EmailFilters,
    email_deliveries,
    email_deliveries_retryable,
    email_deliveries_stale,
)
from ispbill.invoicing.sending import email_deliveries_send_queued, email_delivery_retry
from ispbill.web.panel import access_of, actor, page, paginate

# The query keys of the page, as the filters and the retry forms carry them.
FILTER_KEYS = ("status", "kind", "q", "run", "invoice")


def _id(text: str) -> int | None:
    text = text.strip()
    if not text.isdigit() or len(text) > 15:
        return None
    value = int(text)
    return value if value > 0 else None


def _filters(data: Any) -> EmailFilters:
    """The page's filters from a query (or a retry form's copy of it); unknown values
    filter nothing, as on the other lists."""
    status = data.get("status", "")
    kind = data.get("kind", "")
    return EmailFilters(
        status=status if status in EmailStatus.values else "",
        kind=kind if kind in EmailKind.values else "",
        q=data.get("q", "").strip()[:200],
        billing_run_id=_id(data.get("run", "")),
        invoice_id=_id(data.get("invoice", "")),
    )


def _query(filters: EmailFilters) -> dict[str, str]:
    values = {
        "status": filters.status,
        "kind": filters.kind,
        "q": filters.q,
        "run": str(filters.billing_run_id or ""),
        "invoice": str(filters.invoice_id or ""),
    }
    return {k: v for k, v in values.items() if v}


def _back(filters: EmailFilters) -> HttpResponse:
    query = _query(filters)
    url = reverse("web:emails") + (f"?{urlencode(query)}" if query else "")
    return redirect(url)


def _counted(n: int) -> str:
    return f"{n} e-mail{'s' if n != 1 else ''}"


@require_capability("finance.read")
def emails(request: HttpRequest) -> HttpResponse:
    """Newest first, filtered by status, kind, a search (recipient, subject, invoice
    number), a billing run (``run``: its invoices' e-mails) or an invoice."""
    filters = _filters(request.GET)
    qs = email_deliveries(filters).select_related("invoice", "customer")
    listed = paginate(request, qs)
    can_retry = access_of(request).can("finance.write")
    partners = current_partner_ids()
    retryable_ids = {
        d.pk
        for d in listed
        if can_retry
        and d.status == EmailStatus.FAILED
        and (partners is None or d.partner_id in partners)
    }
    failed = email_deliveries_retryable(email_deliveries(filters)).count() if can_retry else 0
    stale = (
        email_deliveries_stale(email_deliveries(filters), older_than_seconds=_grace()).count()
        if can_retry
        else 0
    )
    context = {
        "page": listed,
        "filters": filters,
        "query": filters.q,
        "status": filters.status,
        "kind": filters.kind,
        "run": filters.billing_run_id or "",
        "invoice": filters.invoice_id or "",
        "statuses": EmailStatus.choices,
        "kinds": EmailKind.choices,
        "can_retry": can_retry,
        "retryable_ids": retryable_ids,
        "failed": failed,
        "stale": stale,
        "stale_minutes": _grace() // 60,
        # Without a broker each send is one attempt in the request (docs/documents.md).
        "eager": bool(settings.CELERY_TASK_ALWAYS_EAGER),
    }
    template = "web/emails/rows.html" if request.headers.get("HX-Request") else None
    return page(request, template or "web/emails/list.html", context, "emails")


@require_capability("finance.write")
@require_POST
def emails_retry(request: HttpRequest) -> HttpResponse:
    """Send every failed e-mail of the filter again (those the user may send: a partner its
    own, never those of the invoices the operator issues to its account)."""
    filters = _filters(request.POST)
    retryable = email_deliveries_retryable(email_deliveries(filters))
    queued = email_delivery_retry(delivery_ids=retryable, **actor(request))
    if queued:
        messages.success(request, f"{_counted(queued)} queued to be sent again.")
    else:
        messages.info(request, "No failed e-mail to send again.")
    return _back(filters)


def _grace() -> int:
    """Seconds an e-mail stays queued before it counts as stuck: ``ispbill check``'s
    ``emails.queued_stale`` (EMAIL_QUEUED_GRACE)."""
    return int(settings.EMAIL_QUEUED_GRACE)


@require_capability("finance.write")
@require_POST
def emails_send_queued(request: HttpRequest) -> HttpResponse:
    """Send the e-mails of the filter stuck in the queue (their task was lost), as
    ``ispbill emails --send-queued`` does: those the user may send (a partner its own)."""
    filters = _filters(request.POST)
    # The filters' e-mails; send_queued keeps those stuck and the scope may send.
    handed = email_deliveries_send_queued(
        older_than_seconds=_grace(), delivery_ids=email_deliveries(filters), **actor(request)
    )
    if handed:
        messages.success(request, f"{_counted(handed)} stuck in the queue handed to sending.")
    else:
        messages.info(request, "No e-mail is stuck in the queue.")
    return _back(filters)


@require_capability("finance.write")
@require_POST
def email_retry(request: HttpRequest, email_id: int) -> HttpResponse:
    """Send one failed e-mail again; another tenant's, or one of the operator's invoices to
    a partner's account, answers 404 like a missing one."""
    delivery = get_scoped_or_404(EmailDelivery, pk=email_id, for_write=True)
    filters = _filters(request.POST)
    queued = email_delivery_retry(delivery_ids=[delivery.pk], **actor(request))
    if queued:
        messages.success(request, f"The e-mail to {delivery.to} is queued to be sent again.")
    else:
        messages.info(
            request,
            f"The e-mail to {delivery.to} is {delivery.get_status_display().lower()}, "
            "not failed: nothing to send again.",
        )
    return _back(filters)
