"""Checks of ``ispbill check`` that notice work left undone: a billing run stuck in
``running``, customers whose billing failed and was not retried, issued documents without
their stored PDF, emails that failed after their retries (docs/operations.md, "Checks")."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from ispbill.billing.models import BillingFailure, BillingRun, BillingRunStatus
from ispbill.core.invariants import Breach, invariant

_MAX_IDS = 20


@invariant("billing.stuck_runs")
def check_stuck_runs() -> list[Breach]:
    from ispbill.billing.tasks import billing_run_stuck_before

    stuck = list(
        BillingRun.objects.filter(
            status=BillingRunStatus.RUNNING, started_at__lt=billing_run_stuck_before()
        ).values_list("pk", flat=True)
    )
    if not stuck:
        return []
    return [
        Breach(
            "billing.stuck_runs",
            f"{len(stuck)} billing run(s) still running {settings.BILLING_RUN_TIMEOUT // 60} "
            "minutes after their start (the process was most likely killed); resume each "
            f"with 'ispbill billing-run {stuck[0]} --resume' or on its page",
            tuple(f"billing_run:{pk}" for pk in stuck[:_MAX_IDS]),
        )
    ]


@invariant("billing.open_failures")
def check_open_failures() -> list[Breach]:
    out = []
    for stage, n in (
        BillingFailure.objects.filter(resolved_at__isnull=True)
        .values_list("stage")
        .annotate(n=Count("pk"))
        .order_by("stage")
    ):
        ids = BillingFailure.objects.filter(resolved_at__isnull=True, stage=stage).values_list(
            "run_id", "customer_id", "partner_id"
        )[:_MAX_IDS]
        out.append(
            Breach(
                "billing.open_failures",
                f"{n} {stage} failure(s) not retried yet: fix the cause (the run's page or "
                "'ispbill billing-run N' shows each error), then run again ('ispbill bill' "
                "or 'ispbill dunning')",
                tuple(
                    (f"billing_run:{run}/" if run else "")
                    + (f"customer:{customer}" if customer else f"partner:{partner}")
                    for run, customer, partner in ids
                ),
            )
        )
    return out


@invariant("documents.pdf_missing")
def check_pdf_missing() -> list[Breach]:
    """With rendering at issue on, every invoice and credit note older than
    ``PDF_MISSING_GRACE`` has its stored PDF."""
    if not settings.RENDER_PDFS_ON_ISSUE:
        return []
    from ispbill.invoicing.models import CreditNote, Invoice

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
    from ispbill.invoicing.models import EmailDelivery, EmailStatus

    failed = EmailDelivery.objects.filter(status=EmailStatus.FAILED)
    n = failed.count()
    if not n:
        return []
    ids = failed.order_by("pk").values_list("pk", flat=True)[:_MAX_IDS]
    return [
        Breach(
            "emails.failed",
            f"{n} email(s) failed after their retries (each says why on the Emails page); "
            "fix the cause, then 'ispbill emails --retry-failed'",
            tuple(f"email:{pk}" for pk in ids),
        )
    ]
