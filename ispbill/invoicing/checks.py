"""Checks of ``ispbill check`` that notice invoicing work left undone: issued documents
without their stored PDF, emails that failed after their retries (docs/operations.md,
"Checks")."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from ispbill.core.invariants import Breach, invariant
from ispbill.invoicing.models import CreditNote, EmailDelivery, EmailStatus, Invoice

_MAX_IDS = 20


@invariant("documents.pdf_missing")
def check_pdf_missing() -> list[Breach]:
    """With rendering at issue on, every invoice and credit note older than
    ``PDF_MISSING_GRACE`` has its stored PDF."""
    if not settings.RENDER_PDFS_ON_ISSUE:
        return []
    before = timezone.now() - timedelta(seconds=settings.PDF_MISSING_GRACE)
    out = []
    for model, name in ((Invoice, "invoice"), (CreditNote, "credit_note")):
        missing = model.objects.filter(pdf="", created_at__lt=before)
        n = missing.count()
        if n:
            ids = missing.order_by("pk").values_list("pk", flat=True)[:_MAX_IDS]
            out.append(
                Breach(
                    "documents.pdf_missing",
                    f"{n} {name}(s) issued more than {settings.PDF_MISSING_GRACE // 60} minutes "
                    "ago without their stored PDF; 'ispbill render-pdfs' renders them (and "
                    "names the ones that fail)",
                    tuple(f"{name}:{pk}" for pk in ids),
                )
            )
    return out


@invariant("emails.failed")
def check_failed_emails() -> list[Breach]:
    failed = EmailDelivery.objects.filter(status=EmailStatus.FAILED)
    n = failed.count()
    if not n:
        return []
    ids = failed.order_by("pk").values_list("pk", flat=True)[:_MAX_IDS]
    return [
        Breach(
            "emails.failed",
            f"{n} email(s) failed after their retries (each says why on the E-mails page); "
            "fix the cause, then 'ispbill emails --retry-failed'",
            tuple(f"email:{pk}" for pk in ids),
        )
    ]


@invariant("emails.queued_stale")
def check_queued_emails() -> list[Breach]:
    """No e-mail stays queued past ``EMAIL_QUEUED_GRACE`` after its last attempt (or its
    recording): its sending task was lost (a broker restarted without its queue)."""
    before = timezone.now() - timedelta(seconds=settings.EMAIL_QUEUED_GRACE)
    stale = EmailDelivery.objects.filter(status=EmailStatus.QUEUED).filter(
        Q(last_attempt_at__lt=before) | Q(last_attempt_at__isnull=True, created_at__lt=before)
    )
    n = stale.count()
    if not n:
        return []
    ids = stale.order_by("pk").values_list("pk", flat=True)[:_MAX_IDS]
    return [
        Breach(
            "emails.queued_stale",
            f"{n} email(s) queued for more than {settings.EMAIL_QUEUED_GRACE // 60} minutes "
            "without being sent; 'ispbill emails --send-queued' sends them",
            tuple(f"email:{pk}" for pk in ids),
        )
    ]
