"""Celery tasks: thin wrappers that open the background scope and call one service.

With a broker, a run is one task per chunk of customers (on as many workers as there are),
then the aggregation phase, then the summary: a Celery chord."""

from __future__ import annotations

from datetime import date
from typing import Any

from celery import chord, shared_task
from django.db import transaction

from ispbill.billing.models import BillingRun
from ispbill.core.tenancy import system_scope
from ispbill.partners.models import Partner


@shared_task(bind=True, max_retries=5, acks_late=True)
def billing_chunk_task(
    self: Any, run_id: int, customer_ids: list[int], run_date: str
) -> dict[str, Any]:
    from ispbill.billing.run import billing_chunk_process

    with system_scope():
        stats = billing_chunk_process(
            customer_ids=customer_ids, run_date=date.fromisoformat(run_date), run_id=run_id
        )
    return {"customers": stats.customers_billed, "charges": stats.charges_created}


@shared_task(acks_late=True)
def billing_aggregate_task(results: list[Any], run_id: int, run_date: str) -> dict[str, Any]:
    from ispbill.billing.run import billing_aggregate_process, billing_run_finish

    with system_scope():
        stats = billing_aggregate_process(run_date=date.fromisoformat(run_date), run_id=run_id)
        customers = sum(r.get("customers", 0) for r in results if isinstance(r, dict))
        charges = (
            sum(r.get("charges", 0) for r in results if isinstance(r, dict)) + stats.charges_created
        )
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


def billing_run_dispatch(
    *, run_date: date, issuer: Partner | None, started_by: str, chunk_size: int
) -> Any:
    from ispbill.billing.run import ChunkStats, RunSummary, chunked, customers_due_ids

    run = BillingRun.objects.create(run_date=run_date, scope_partner=issuer, started_by=started_by)
    ids = customers_due_ids(run_date=run_date, issuer=issuer)
    chunks = list(chunked(ids, chunk_size))
    BillingRun.objects.filter(pk=run.pk).update(chunks_total=len(chunks) + 1)
    header = [billing_chunk_task.s(run.pk, chunk, run_date.isoformat()) for chunk in chunks]
    callback = billing_aggregate_task.s(run.pk, run_date.isoformat())
    transaction.on_commit(lambda: chord(header)(callback))
    return RunSummary(run.pk, run_date, False, ChunkStats(), 0.0, status="running")
