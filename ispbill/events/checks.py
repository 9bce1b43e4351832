"""Checks of ``ispbill check`` for the outbox (docs/operations.md, "Checks")."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from ispbill.core.invariants import Breach, invariant
from ispbill.events.models import EventBatch

# A batch is made into events right after its transaction commits (by the webhook sender
# task, or its periodic run); one older than this was not.
BATCH_GRACE = timedelta(minutes=15)


@invariant("events.batches_pending")
def check_batches_pending() -> list[Breach]:
    """Every recorded batch of events older than ``BATCH_GRACE`` is made into events."""
    stale = EventBatch.objects.filter(created_at__lt=timezone.now() - BATCH_GRACE)
    n = stale.count()
    if not n:
        return []
    ids = stale.order_by("pk").values_list("pk", flat=True)[:20]
    return [
        Breach(
            "events.batches_pending",
            f"{n} batch(es) of events recorded more than 15 minutes ago are not yet events "
            "(is a Celery worker running?); 'ispbill webhooks-deliver' makes them and sends",
            tuple(f"event_batch:{pk}" for pk in ids),
        )
    ]
