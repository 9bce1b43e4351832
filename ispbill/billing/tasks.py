"""Celery tasks: thin wrappers that open the background scope and call one service.

With a broker, a run is one task per chunk of customers (on as many workers as there are),
one task per partner billed in the aggregation phase, then the summary: a Celery chord. The
chunks of the partners' customers are sent first, each partner's in a chord of its own whose
callback is that partner's aggregation; it goes to the ``ispbill.first`` queue, which workers
take from before the run's remaining chunks, so it overlaps them instead of trailing them.

A run that is started supersedes the unfinished runs of the same scope up to its date
(``billing_runs_supersede``): a worker killed in a chunk leaves its run ``running`` (with
Redis the lost message comes back only after the visibility timeout, an hour), and running
``ispbill bill`` again is how it is resumed. Every chunk is idempotent, so the new run does
whatever the old one left; the old run is marked failed ("superseded by run N"). Its chunks
still queued, or delivered again later, still run (they find their customers billed and do
nothing more), but its partners' aggregations and summary do not: the newer run's do.

A chunk that raises is retried in parts inside its task and the customers that fail alone are
recorded as the run's failures (``billing.run``, fault isolation), as is a partner's
aggregation that raises; the run finishes "with N failures". Only an error of the database
connection fails a task, and marks its run failed; running the run again resumes it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from celery import chord, shared_task
from django.conf import settings
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
def billing_aggregate_partner_task(
    chunk_results: list[Any], run_id: int, run_date: str, partner_id: int
) -> dict[str, Any]:
    """One partner's aggregation, the callback of its customers' chunks: passes their
    figures on to the run's summary with its own."""
    from ispbill.billing.run import billing_aggregate_partner_isolated

    figures = _figures(chunk_results)
    with system_scope():
        if not _run_is_running(run_id):
            return {**figures, "skipped": True}
        try:
            # A partner whose aggregation raises is recorded as the run's failure, and the
            # run goes on; only an error of the database connection fails the run.
            stats = billing_aggregate_partner_isolated(
                run_date=date.fromisoformat(run_date), run_id=run_id, partner_id=partner_id
            )
        except Exception as exc:
            _run_fail(run_id, f"{type(exc).__name__}: {exc}")
            raise
    return {**figures, "charges": figures["charges"] + stats.charges_created}


@shared_task(acks_late=True)
def billing_finish_task(results: list[Any], run_id: int, aggregate: bool = True) -> dict[str, Any]:
    """The run's figures, once every chunk and every partner's aggregation is done (the
    chord's results: one per chunk not of those partners' customers, one per partner with
    its chunks' figures)."""
    from ispbill.billing.run import billing_progress, billing_run_finish

    with system_scope():
        if not _run_is_running(run_id):
            return {"run_id": run_id, "skipped": True}
        if aggregate:
            billing_progress(run_id)  # the aggregation phase: one step of the run
        figures = _figures(results)
        BillingRun.objects.filter(pk=run_id).update(
            customers_billed=figures["customers"], charges_created=figures["charges"]
        )
        billing_run_finish(run_id=run_id)
    return {"run_id": run_id}


def _figures(results: list[Any]) -> dict[str, int]:
    """Customers billed and charges created, summed over the tasks' results."""
    done = [r for r in results if isinstance(r, dict)]
    return {
        "customers": sum(r.get("customers", 0) for r in done),
        "charges": sum(r.get("charges", 0) for r in done),
    }


def _run_is_running(run_id: int) -> bool:
    return BillingRun.objects.filter(pk=run_id, status=BillingRunStatus.RUNNING).exists()


def _run_fail(run_id: int, error: str) -> None:
    BillingRun.objects.filter(pk=run_id, status=BillingRunStatus.RUNNING).update(
        status=BillingRunStatus.FAILED, error=error[:2000], finished_at=timezone.now()
    )


def billing_runs_supersede(*, run: BillingRun, stuck_only: bool = False) -> int:
    """Mark the unfinished runs that ``run`` covers as failed (superseded by it): those
    started before it, for a date up to its date, of its scope (a run of every customer
    covers the runs of one partner too). ``stuck_only`` (a run in one process, which may
    overlap another one still going): only those running past ``BILLING_RUN_TIMEOUT``.
    Returns how many were marked."""
    covered = BillingRun.objects.filter(
        pk__lt=run.pk, status=BillingRunStatus.RUNNING, dry_run=False, run_date__lte=run.run_date
    )
    if stuck_only:
        covered = covered.filter(started_at__lt=billing_run_stuck_before())
    if run.scope_partner_id is not None:
        covered = covered.filter(scope_partner_id=run.scope_partner_id)
    return covered.update(
        status=BillingRunStatus.FAILED,
        error=f"Superseded by billing run {run.pk}, which did what this one had left.",
        finished_at=timezone.now(),
    )


def billing_run_stuck_before() -> Any:
    """Runs started before this moment and still ``running`` are stuck."""
    return timezone.now() - timedelta(seconds=settings.BILLING_RUN_TIMEOUT)


def billing_run_dispatch(
    *, run_date: date, issuer: Partner | None, started_by: str, chunk_size: int
) -> Any:
    from ispbill.billing.run import ChunkStats, RunSummary, chunk_plan

    run = BillingRun.objects.create(run_date=run_date, scope_partner=issuer, started_by=started_by)
    billing_runs_supersede(run=run)
    plan = chunk_plan(run_date=run_date, issuer=issuer, chunk_size=chunk_size)
    aggregate = issuer is None
    BillingRun.objects.filter(pk=run.pk).update(chunks_total=len(plan.chunks) + int(aggregate))
    day = run_date.isoformat()
    header: list[Any] = []
    for partner_id, chunks in plan.first.items():
        # The partner's aggregation as soon as its customers' chunks are done: its queue
        # comes before the chunks still waiting (``ispbill.celery``).
        aggregation = billing_aggregate_partner_task.s(run.pk, day, partner_id)
        header.append(
            chord([billing_chunk_task.s(run.pk, c, day) for c in chunks], aggregation)
            if chunks
            else aggregation.clone(([],))
        )
    header += [billing_chunk_task.s(run.pk, c, day) for c in plan.rest]
    finish = billing_finish_task.s(run.pk, aggregate)
    if header:
        transaction.on_commit(lambda: chord(header)(finish))
    else:
        transaction.on_commit(lambda: finish.apply_async(([],)))
    return RunSummary(run.pk, run_date, False, ChunkStats(), 0.0, status="running")
