"""Celery task: a thin wrapper around ``radius_sessions_update`` (runs in-process when eager)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from ispbill.radius.coa import SessionChange, radius_sessions_update


@shared_task(acks_late=True)
def radius_sessions_update_task(changes: list[dict[str, Any]]) -> int:
    return len(
        radius_sessions_update(
            changes=[
                SessionChange(
                    username=c["username"],
                    access=c["access"],
                    attributes=tuple((a, v) for a, v in c["attributes"]),
                )
                for c in changes
            ]
        )
    )


@shared_task
def usage_collect_task() -> dict[str, int]:
    from ispbill.core.tenancy import system_scope
    from ispbill.radius.usage import usage_collect

    with system_scope():
        return dict(usage_collect().__dict__)
