"""The daily work: the plan changes due, billing up to today, then dunning and reminders."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from django.utils import timezone

from ispbill.billing.plan_changes import DueResult, plan_changes_apply_due
from ispbill.billing.run import billing_run_start
from ispbill.dunning.services import dunning_run

log = logging.getLogger(__name__)


def daily_work(*, today: date | None = None) -> dict[str, Any]:
    day = today or timezone.localdate()
    invoices: int | str
    # First the plan changes of the day, so that its run charges the new tariffs at once
    # (instead of charging the old ones to give them back).
    try:
        changes = plan_changes_apply_due(on=day)
    except Exception:
        log.exception("daily_work.plan_changes_failed")
        changes = DueResult()
    try:
        summary = billing_run_start(run_date=day, started_by="scheduler")
        invoices, failed = summary.stats.invoices_issued, len(summary.stats.failures)
    except Exception as exc:
        # The run is marked failed with its error; dunning still runs for everyone.
        log.exception("daily_work.billing_failed")
        invoices, failed = f"billing failed: {type(exc).__name__}: {exc}", 0
    dunning = dunning_run(today=day)
    result = {
        "date": day.isoformat(),
        "plan_changes": len(changes.applied),
        "plan_changes_cancelled": len(changes.cancelled),
        "plan_change_failures": len(changes.failures),
        "invoices": invoices,
        "billing_failures": failed,
        "blocked": len(dunning.blocked),
        "deactivated": len(dunning.deactivated),
        "reminders": dunning.reminders,
        "dunning_failures": len(dunning.failures),
    }
    log.info("daily_work.done", extra=result)
    return result
