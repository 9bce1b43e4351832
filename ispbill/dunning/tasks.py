"""The daily work as a Celery task (beat runs it at 02:00 when a broker is set)."""

from __future__ import annotations

from datetime import date
from typing import Any

from celery import shared_task

from ispbill.core.tenancy import system_scope
from ispbill.dunning.daily import daily_work


@shared_task
def daily_work_task(today: str | None = None) -> dict[str, Any]:
    with system_scope():
        return daily_work(today=date.fromisoformat(today) if today else None)
