"""Autopay as a Celery task (beat runs it at 03:00, after the daily billing and dunning)."""

from __future__ import annotations

from datetime import date
from typing import Any

from celery import shared_task
from django.utils import timezone

from ispbill.gateways.services import autopay_run


@shared_task
def autopay_task(today: str | None = None) -> dict[str, Any]:
    result = autopay_run(on=date.fromisoformat(today) if today else timezone.localdate())
    return {"paid": len(result.paid), "failed": len(result.failed)}
