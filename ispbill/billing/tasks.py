"""Celery tasks: thin wrappers that open the background scope and call one service.

With a broker, a run is one task per chunk of customers (on as many workers as there are),
then the aggregation phase, then the summary: a Celery chord.

A run that is started supersedes the unfinished runs of the same scope up to its date
(``billing_runs_supersede``): a worker killed in a chunk leaves its run ``running`` (with
Redis the lost message comes back only after the visibility timeout, an hour), and running
``ispbill bill`` again is how it is resumed. Every chunk is idempotent, so the new run does
whatever the old one left; the old run is marked failed ("superseded by run N"). Its chunks
still queued, or delivered again later, still run (they find their customers billed and do
nothing more), but its aggregation phase and summary do not: the newer run's do. A chunk or
an aggregation phase that raises marks its run failed; running the run again resumes it."""

from __future__ import annotations

from datetime import date
from typing import Any

from celery import chord, shared_task
from django.db import transaction
from django.utils import timezone

from ispbill.billing.models import BillingRun, BillingRunStatus
from ispbill.core.tenancy import system_scope
from ispbill.partners.models import Partner


@shared_task(acks_late=True)
def billing_chunk_task(run_id: int, customer_ids: list[int], run_date: str) -> dict[str, Any]:
    from ispbill.billing.run import billing_chunk_process

    with system_scope():
        try:
            stats = billing_chunk_process(
                customer_ids=customer_ids, run_date=date.fromisoformat(run_date), run_id=run_id
            )
        except Exception as exc:
            _run_fail(run_id, f"{type(exc).__name__}: {exc}")
            raise
    return {"customers": stats.customers_billed, "charges": stats.charges_created}


@shared_task(acks_late=True)
def billing_aggregate_task(
    results: list[Any], run_id: int, run_date: str, aggregate: bool = True
) -> dict[str, Any]:
    """The chunks' chord callback: the aggregation phase (not for a run of one partner's
    customers, as in-process) as one task per partner, side by side, then the run's figures
    (``billing_finish_task``). Partners are independent: each has its own account, held
    charges, services and pointer, and their invoices' numbers queue on the sequence row."""
    from ispbill.billing.run import aggregation_partner_ids

    with system_scope():
        if not _run_is_running(run_id):
            return {"run_id": run_id, "skipped": True}
        customers = sum(r.get("customers", 0) for r in results if isinstance(r, dict))
        charges = sum(r.get("charges", 0) for r in results if isinstance(r, dict))
        partner_ids = (
            aggregation_partner_ids(run_date=date.fromisoformat(run_date)) if aggregate else []
        )
    finish = billing_finish_task.s(run_id, customers, charges, aggregate)
    if not partner_ids:
        finish.apply_async(([],))
    else:
        chord([billing_aggregate_partner_task.s(run_id, run_date, pk) for pk in partner_ids])(
            finish
        )
    return {"run_id": run_id, "partners": len(partner_ids)}


@shared_task(acks_late=True)
def billing_aggregate_partner_task(run_id: int, run_date: str, partner_id: int) -> dict[str, Any]:
    from ispbill.billing.run import billing_aggregate_partner

    with system_scope():
        if not _run_is_running(run_id):
            return {"charges": 0, "skipped": True}
        try:
            stats = billing_aggregate_partner(
                run_date=date.fromisoformat(run_date), run_id=run_id, partner_id=partner_id
            )
        except Exception as exc:
            _run_fail(run_id, f"{type(exc).__name__}: {exc}")
            raise
    return {"charges": stats.charges_created}


@shared_task(acks_late=True)
def billing_finish_task(
    results: list[Any], run_id: int, customers: int, charges: int, aggregate: bool = True
) -> dict[str, Any]:
    """The run's figures, once every chunk and every partner's aggregation is done."""
    from ispbill.billing.run import billing_progress, billing_run_finish

    with system_scope():
        if not _run_is_running(run_id):
            return {"run_id": run_id, "skipped": True}
        if aggregate:
            billing_progress(run_id)  # the aggregation phase: one step of the run
        charges += sum(r.get("charges", 0) for r in results if isinstance(r, dict))
        BillingRun.objects.filter(pk=run_id).update(
            customers_billed=customers, charges_created=charges
        )
        billing_run_finish(run_id=run_id)
    return {"run_id": run_id}


@shared_task
def daily_work_task(today: str | None = None) -> dict[str, Any]:
    from ispbill.billing.scheduler import daily_work

    with system_scope():
        return daily_work(today=date.fromisoformat(today) if today else None)


def _run_is_running(run_id: int) -> bool:
    return BillingRun.objects.filter(pk=run_id, status=BillingRunStatus.RUNNING).exists()


def _run_fail(run_id: int, error: str) -> None:
    BillingRun.objects.filter(pk=run_id, status=BillingRunStatus.RUNNING).update(
        status=BillingRunStatus.FAILED, error=error[:2000], finished_at=timezone.now()
    )


def billing_runs_supersede(*, run: BillingRun) -> int:
    """Mark the unfinished runs that ``run`` covers as failed (superseded by it): those
    started before it, for a date up to its date, of its scope (a run of every customer
    covers the runs of one partner too). Returns how many were marked."""
    covered = BillingRun.objects.filter(
        pk__lt=run.pk, status=BillingRunStatus.RUNNING, dry_run=False, run_date__lte=run.run_date
    )
    if run.scope_partner_id is not None:
        covered = covered.filter(scope_partner_id=run.scope_partner_id)
    return covered.update(
        status=BillingRunStatus.FAILED,
        error=f"Superseded by billing run {run.pk}, which did what this one had left.",
        finished_at=timezone.now(),
    )


def billing_run_dispatch(
    *, run_date: date, issuer: Partner | None, started_by: str, chunk_size: int
) -> Any:
    from ispbill.billing.run import ChunkStats, RunSummary, chunked, customers_due_ids

    run = BillingRun.objects.create(run_date=run_date, scope_partner=issuer, started_by=started_by)
    billing_runs_supersede(run=run)
    ids = customers_due_ids(run_date=run_date, issuer=issuer)
    chunks = list(chunked(ids, chunk_size))
    aggregate = issuer is None
    BillingRun.objects.filter(pk=run.pk).update(chunks_total=len(chunks) + int(aggregate))
    header = [billing_chunk_task.s(run.pk, chunk, run_date.isoformat()) for chunk in chunks]
    callback = billing_aggregate_task.s(run.pk, run_date.isoformat(), aggregate)
    transaction.on_commit(lambda: chord(header)(callback))
    return RunSummary(run.pk, run_date, False, ChunkStats(), 0.0, status="running")
