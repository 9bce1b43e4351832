"""The daily work: billing up to today, then dunning and reminders."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from django.utils import timezone

from ispbill.billing.run import billing_run_start
from ispbill.customers.dunning import dunning_run

log = logging.getLogger(__name__)


def daily_work(*, today: date | None = None) -> dict[str, Any]:
    day = today or timezone.localdate()
    summary = billing_run_start(run_date=day, started_by="scheduler")
    dunning = dunning_run(today=day)
    result = {
        "date": day.isoformat(),
        "invoices": summary.stats.invoices_issued,
        "blocked": len(dunning.blocked),
        "deactivated": len(dunning.deactivated),
        "reminders": dunning.reminders,
    }
    log.info("daily_work.done", extra=result)
    return result
