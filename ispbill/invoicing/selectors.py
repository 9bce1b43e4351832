"""Reading the e-mail log (docs/documents.md, "The e-mail log: page and API").

Every query goes through ``EmailDelivery.objects``, the partner-scoped manager: under a
request's scope a partner's users read their partner's deliveries and those of the
invoices billed to the partner's account, nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from ispbill.core.tenancy import current_partner_ids
from ispbill.invoicing.models import EmailDelivery, EmailKind, EmailStatus

__all__ = [
    "EmailFilters",
    "email_deliveries",
    "email_deliveries_retryable",
    "email_deliveries_stale",
]


@dataclass(frozen=True)
class EmailFilters:
    """The filters of the Emails page and of ``GET /emails``; empty values filter nothing."""

    status: str = ""
    kind: str = ""
    q: str = ""
    invoice_id: int | None = None
    customer_id: int | None = None
    billing_run_id: int | None = None

    @property
    def any(self) -> bool:
        return bool(
            self.status
            or self.kind
            or self.q
            or self.invoice_id
            or self.customer_id
            or self.billing_run_id
        )


def email_deliveries(filters: EmailFilters | None = None) -> QuerySet[EmailDelivery]:
    """The deliveries of the open scope matching ``filters``, newest first. ``q`` searches
    the recipient, the subject and the invoice number (contains, any case)."""
    qs = EmailDelivery.objects.all()
    f = filters or EmailFilters()
    if f.status in EmailStatus.values:
        qs = qs.filter(status=f.status)
    if f.kind in EmailKind.values:
        qs = qs.filter(kind=f.kind)
    query = f.q.strip()
    if query:
        qs = qs.filter(
            Q(to__icontains=query)
            | Q(subject__icontains=query)
            | Q(invoice__number__icontains=query)
        )
    if f.invoice_id:
        qs = qs.filter(invoice_id=f.invoice_id)
    if f.customer_id:
        qs = qs.filter(customer_id=f.customer_id)
    if f.billing_run_id:
        qs = qs.filter(invoice__billing_run_id=f.billing_run_id)
    return qs.order_by("-created_at", "-pk")


def email_deliveries_retryable(qs: QuerySet[EmailDelivery]) -> QuerySet[EmailDelivery]:
    """The failed deliveries of ``qs`` the open scope may send again: every one for the
    operator (no partner in the scope), a partner's own only for a partner. A partner reads
    but never sends again the e-mails of the invoices the operator issues to its account,
    as it reads but never changes those invoices (``get_scoped_or_404(for_write=True)``)."""
    return _writable(qs.filter(status=EmailStatus.FAILED))


def email_deliveries_stale(
    qs: QuerySet[EmailDelivery], *, older_than_seconds: int
) -> QuerySet[EmailDelivery]:
    """The deliveries of ``qs`` still queued ``older_than_seconds`` after their last attempt
    (or their recording; their sending task was lost: ``emails.queued_stale``) that the
    open scope may send: every one for the operator, a partner's own only for a partner,
    as ``email_deliveries_retryable``."""
    before = timezone.now() - timedelta(seconds=max(0, older_than_seconds))
    stale = qs.filter(status=EmailStatus.QUEUED).filter(
        Q(last_attempt_at__lt=before) | Q(last_attempt_at__isnull=True, created_at__lt=before)
    )
    return _writable(stale)


def _writable(qs: QuerySet[EmailDelivery]) -> QuerySet[EmailDelivery]:
    partners = current_partner_ids()
    if partners is not None:
        qs = qs.filter(partner_id__in=partners)
    return qs
