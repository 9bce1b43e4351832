"""Billing runs: start (idempotent), dry-run preview, progress and result."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from ispbill.api.context import access, acting_partner
from ispbill.api.errors import ERROR_RESPONSES, ApiError
from ispbill.api.guard import guard, resolved
from ispbill.api.idempotency import idempotency_openapi, idempotent
from ispbill.api.schemas import (
    Day,
    Id,
    InSchema,
    ListParams,
    MoneyOut,
    Page,
    money_out,
    ordered,
    page,
)
from ispbill.billing.models import BillingFailure, BillingRun
from ispbill.billing.run import (
    BillingRunDateError,
    BillingRunError,
    ChunkStats,
    RunSummary,
    billing_run_abandon,
    billing_run_date_check,
    billing_run_figures,
    billing_run_is_stuck,
    billing_run_launch,
    billing_run_resume,
    billing_run_start,
)
from ispbill.billing.selectors import billing_runs_visible
from ispbill.core.errors import DomainValidationError
from ispbill.invoicing.sending import billing_run_documents
from ispbill.partners.models import Partner, PartnerMode

router = Router(tags=["billing"])


class BillingRunIn(InSchema):
    run_date: Day = Field(..., description="Bills every billing date up to this day (catch-up)")
    partner_id: Id | None = Field(
        None, description="Operator only: bill only this own-invoicing partner's customers"
    )
    confirm_catch_up: bool = Field(
        False,
        description="Start: bill more than one billing date for some customers (a catch-up). "
        "Without it, a run that would catch up is refused with its per-date breakdown "
        "(the check is a preview, computed as the run is); ignored by the preview.",
    )


class PartnerFigures(Schema):
    partner: str
    invoices: int
    total: MoneyOut


class GroupFigures(Schema):
    issuer: str = Field(..., description="The partner issuing the invoices")
    recipient: str = Field(
        ...,
        description="Who they go to: 'Own customers', 'Customers of <partner>', or "
        "'<partner> (aggregated invoice)' / '(wholesale invoice)' for a partner's account",
    )
    invoices: int
    total: MoneyOut


class DateFigures(Schema):
    billing_date: dt.date
    invoices: int
    totals: list[MoneyOut]


class FailureOut(Schema):
    stage: str = Field(..., description="customer (its billing) or aggregation (a partner's)")
    partner_id: int
    customer_id: int | None
    customer_reference: str
    error: str
    created_at: dt.datetime
    resolved_at: dt.datetime | None = Field(
        ..., description="When a later run retried it (billed, or failed again)"
    )
    resolved_by_run_id: int | None


class RunDocumentsOut(Schema):
    pdfs_stored: int
    pdfs_pending: int = Field(..., description="Still to render")
    pdfs_failed: int = Field(..., description="No PDF, with pdf_error on the invoice")
    emails_sent: int
    emails_queued: int
    emails_failed: int = Field(..., description="After their retries; sent again from the web")
    emails_no_address: int = Field(
        ...,
        description="Not e-mailed: the issuer e-mails invoices when issued, the customer "
        "had no valid address",
    )
    emails_setting_off: int = Field(
        ...,
        description="Not e-mailed: the issuer's email_invoices_on_issue is off (as it is "
        "now; or EMAIL_INVOICES_ON_ISSUE off)",
    )


class BillingRunOut(Schema):
    id: int | None
    run_date: dt.date
    dry_run: bool
    status: str = Field(
        ...,
        description="running, done, partial (finished with failures: see failures), failed",
    )
    failures_count: int = 0
    failures: list[FailureOut] = Field(
        default_factory=list,
        description="What failed and was skipped (on a single run; the next run retries it)",
    )
    stuck: bool = Field(False, description="Still running past BILLING_RUN_TIMEOUT")
    scope_partner_id: int | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    chunks_total: int
    chunks_done: int
    progress: int = Field(..., description="Percent of chunks done, 0-100")
    customers_billed: int
    invoices_issued: int
    charges_created: int
    totals: list[MoneyOut]
    per_partner: list[PartnerFigures] = Field(
        ..., description="Per recipient partner (a partner's account's invoices under it)"
    )
    groups: list[GroupFigures] = Field(
        default_factory=list, description="Per issuer and recipient (a single run, a preview)"
    )
    billing_dates: list[DateFigures] = Field(
        default_factory=list,
        description="Per billing date: more than one is a catch-up (a single run, a preview)",
    )
    caught_up: int = Field(
        0,
        description="Preview: customers (and partners' aggregations) billed for more than one "
        "billing date in this run (a catch-up)",
    )
    error: str
    started_by: str
    documents: RunDocumentsOut | None = Field(
        None,
        description="A single run: its invoices' PDFs, and their e-mails where the issuer "
        "e-mails invoices on issue (docs/documents.md)",
    )


def _totals(totals: dict[str, Any]) -> list[dict[str, Any]]:
    return [money_out(int(v), cur) for cur, v in sorted(totals.items())]  # type: ignore[misc]


def run_out(run: BillingRun) -> dict[str, Any]:
    progress = 100 if run.status != "running" else 0
    if run.status == "running" and run.chunks_total:
        progress = min(99, run.chunks_done * 100 // run.chunks_total)
    return {
        "id": run.pk,
        "run_date": run.run_date,
        "dry_run": run.dry_run,
        "status": run.status,
        "scope_partner_id": run.scope_partner_id,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "chunks_total": run.chunks_total,
        "chunks_done": run.chunks_done,
        "progress": progress,
        "customers_billed": run.customers_billed,
        "invoices_issued": run.invoices_issued,
        "charges_created": run.charges_created,
        "totals": _totals(run.totals or {}),
        "per_partner": [],
        "error": run.error,
        "started_by": run.started_by,
        "failures_count": run.failures_count,
        "stuck": billing_run_is_stuck(run),
    }


def failures_out(run: BillingRun) -> list[dict[str, Any]]:
    """The run's failures the caller may see (a partner sees its own customers')."""
    return [
        {
            "stage": f.stage,
            "partner_id": f.partner_id,
            "customer_id": f.customer_id,
            "customer_reference": f.customer.reference if f.customer else "",
            "error": f.error,
            "created_at": f.created_at,
            "resolved_at": f.resolved_at,
            "resolved_by_run_id": f.resolved_by_run_id,
        }
        for f in BillingFailure.objects.filter(run=run).select_related("customer")
    ]


def figures_out(stats: ChunkStats) -> dict[str, Any]:
    """Per issuer and recipient, and per billing date."""
    return {
        "groups": [
            {
                "issuer": issuer,
                "recipient": recipient,
                "invoices": f["invoices"],
                "total": money_out(f["total_minor"], f["currency"] or "EUR"),
            }
            for (issuer, recipient), f in sorted(stats.groups.items())
        ],
        "billing_dates": [
            {"billing_date": day, "invoices": f["invoices"], "totals": _totals(f["totals"])}
            for day, f in sorted(stats.per_date.items())
        ],
    }


def run_detail_out(run: BillingRun) -> dict[str, Any]:
    """A single run: its figures per issuer and recipient and per date, and failures."""
    return {
        **run_out(run),
        **figures_out(billing_run_figures(run.pk)),
        "failures": failures_out(run),
        "documents": billing_run_documents(run.pk),
    }


def summary_out(summary: RunSummary, issuer: Partner | None) -> dict[str, Any]:
    s = summary.stats
    return {
        "id": summary.run_id,
        "run_date": summary.run_date,
        "dry_run": summary.dry_run,
        "status": summary.status,
        "scope_partner_id": issuer.pk if issuer is not None else None,
        "started_at": None,
        "finished_at": None,
        "chunks_total": 0,
        "chunks_done": 0,
        "progress": 100,
        "customers_billed": s.customers_billed,
        "invoices_issued": s.invoices_issued,
        "charges_created": s.charges_created,
        "totals": _totals(dict(s.totals)),
        "per_partner": [
            {
                "partner": name,
                "invoices": f["invoices"],
                "total": money_out(f["total_minor"], f["currency"] or "EUR"),
            }
            for name, f in sorted(s.per_partner.items())
        ],
        "error": summary.error,
        "started_by": "",
        "failures_count": len(s.failures),
        "caught_up": s.caught_up,
        **figures_out(s),
    }


def _issuer(request: HttpRequest, payload: BillingRunIn) -> Partner | None:
    try:
        billing_run_date_check(payload.run_date)
    except BillingRunDateError as exc:
        raise DomainValidationError.for_fields({"run_date": str(exc)}) from exc
    if access(request).is_operator and payload.partner_id is None:
        return None
    partner = acting_partner(request, payload.partner_id)
    if partner.mode != PartnerMode.OWN_INVOICING:
        raise DomainValidationError.for_fields(
            {"partner_id": "Only an own-invoicing partner runs its own billing."}
        )
    return partner


def _start(request: HttpRequest, payload: BillingRunIn, *, dry_run: bool) -> RunSummary:
    issuer = _issuer(request, payload)
    try:
        return billing_run_start(
            run_date=payload.run_date,
            dry_run=dry_run,
            issuer=issuer,
            started_by=str(getattr(request.user, "username", "")),
        )
    except BillingRunError as exc:
        raise ApiError(409, str(exc), code="billing_run_conflict") from exc


@router.post(
    "/billing-runs",
    response={201: BillingRunOut, **ERROR_RESPONSES},
    openapi_extra=idempotency_openapi(),
)
@guard("billing.run")
@idempotent(atomic=False)
def billing_run_start_view(request: HttpRequest, payload: BillingRunIn) -> Any:
    """Start billing up to ``run_date`` in the background and answer at once with the run:
    ``running`` (poll ``GET /billing-runs/{id}`` for its progress) or already ``done``.
    A catch-up (more than one billing date for some customer) needs ``confirm_catch_up``.
    Send an ``Idempotency-Key``: a retry returns this run and bills nothing again (billing
    is exactly-once anyway); a second start while one runs for the scope and date is 409."""
    issuer = _issuer(request, payload)
    if not payload.confirm_catch_up:
        preview = _start(request, payload, dry_run=True)
        if preview.stats.caught_up:
            dates = ", ".join(
                f"{day}: {f['invoices']} invoices"
                for day, f in sorted(preview.stats.per_date.items())
            )
            raise DomainValidationError.for_fields(
                {
                    "confirm_catch_up": f"{preview.stats.caught_up} customer(s) or partners' "
                    f"aggregations would be billed for more than one billing date ({dates}). "
                    "Check the dates, then send confirm_catch_up: true."
                }
            )
    try:
        run = billing_run_launch(
            run_date=payload.run_date,
            issuer=issuer,
            started_by=str(getattr(request.user, "username", "")),
        )
    except BillingRunError as exc:
        raise ApiError(409, str(exc), code="billing_run_conflict") from exc
    run.refresh_from_db()
    body = run_detail_out(run)
    body["per_partner"] = summary_out(
        RunSummary(run.pk, run.run_date, False, billing_run_figures(run.pk), 0.0), issuer
    )["per_partner"]
    return 201, BillingRunOut(**body).model_dump(mode="json")


@router.post("/billing-runs/preview", response={200: BillingRunOut, **ERROR_RESPONSES})
@guard("billing.run")
def billing_run_preview(request: HttpRequest, payload: BillingRunIn) -> Any:
    """A dry run: what a run on ``run_date`` would issue, per issuer and recipient and per
    billing date (``caught_up`` > 0: a catch-up of more than one billing date). Writes
    nothing. Dates after today are refused."""
    issuer = _issuer(request, payload)
    return summary_out(_start(request, payload, dry_run=True), issuer)


class BillingRunFilters(ListParams):
    status: Literal["running", "done", "partial", "failed"] | None = None
    sort: Literal["id", "-id", "run_date", "-run_date"] = "-id"


@router.get("/billing-runs", response={200: Page[BillingRunOut], **ERROR_RESPONSES})
@guard("billing.run")
def billing_run_list(request: HttpRequest, filters: Query[BillingRunFilters]) -> Any:
    qs = billing_runs_visible()
    if filters.status:
        qs = qs.filter(status=filters.status)
    return page(ordered(qs, filters.sort), filters, run_out)


@router.get("/billing-runs/{run_id}", response={200: BillingRunOut, **ERROR_RESPONSES})
@guard("billing.run")
def billing_run_read(request: HttpRequest, run_id: int) -> Any:
    """Progress (``chunks_done``/``chunks_total``) while running, figures when done, and
    the customers that failed and were skipped (status ``partial``)."""
    run = resolved(request, "run_id")
    return run_detail_out(run)


class BillingRunResumeIn(InSchema):
    force: bool = Field(
        False, description="Also a run not past BILLING_RUN_TIMEOUT (its process is known gone)"
    )
    start_again: bool = Field(True, description="Start the run again for its date and scope")


@router.post(
    "/billing-runs/{run_id}/resume",
    response={200: BillingRunOut, **ERROR_RESPONSES},
)
@guard("billing.run")
def billing_run_resume_view(request: HttpRequest, run_id: int, payload: BillingRunResumeIn) -> Any:
    """A run left ``running`` (its process killed): mark it failed and, unless
    ``start_again`` is false, start the run again, which does exactly what it left. Answers
    the new run (or the one marked failed). 409 if the run is not running, or not stuck yet
    without ``force``."""
    run = resolved(request, "run_id")
    try:
        if not payload.start_again:
            failed = billing_run_abandon(run_id=run.pk, actor=request.user, force=payload.force)
            return run_out(failed)
        summary = billing_run_resume(run_id=run.pk, actor=request.user, force=payload.force)
    except BillingRunError as exc:
        raise ApiError(409, str(exc), code="billing_run_conflict") from exc
    new = BillingRun.objects.filter(pk=summary.run_id or 0).first()
    if new is None:
        return summary_out(summary, run.scope_partner)
    return run_detail_out(new)
