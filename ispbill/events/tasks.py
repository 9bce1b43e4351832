"""Celery tasks of the outbox: send the webhook deliveries that are due."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from ispbill.core.tenancy import system_scope


@shared_task(acks_late=True)
def webhooks_deliver_task() -> dict[str, Any]:
    from ispbill.events.services import deliveries_send_due

    with system_scope():
        stats = deliveries_send_due()
    return {
        "attempted": stats.attempted,
        "succeeded": stats.succeeded,
        "failed": stats.failed,
        "given_up": stats.given_up,
        "disabled": stats.disabled,
    }
