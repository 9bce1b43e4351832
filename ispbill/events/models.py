"""The outbox (``Event``), webhook endpoints and their deliveries.

Tenancy: an event belongs to the partner whose object it is about (NULL for the operator's
own, such as an operator billing run); an endpoint to its partner (NULL: the operator's,
which receives every partner's events); a delivery to its endpoint's partner. A partner's
endpoint is only ever given its own partner's events (``events.services``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models

from ispbill.core.crypto import token_decrypt
from ispbill.core.tenancy import PartnerScopedManager

PAYLOAD_VERSION = 1


def _event_uid() -> str:
    return f"evt_{uuid.uuid4().hex}"


class Event(models.Model):
    """Something that happened, as integrators are told it: written in the transaction of
    the change, never changed afterwards. ``uid`` is the stable id sent as ``webhook-id``."""

    # Unique and indexed by the constraints and indexes in Meta: a column's own
    # ``unique``/``db_index`` adds a second (LIKE) index on PostgreSQL, written with every
    # event and never read.
    uid = models.CharField(max_length=40, default=_event_uid, editable=False)
    type = models.CharField(max_length=60)
    # Found by the (partner, id) index below; no index of its own (each one is written
    # with every event of a billing run: docs/webhooks.md, "Scale").
    partner = models.ForeignKey(
        "partners.Partner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=40)
    payload = models.JSONField(help_text="The versioned body sent to endpoints")
    created_at = models.DateTimeField()  # lists and feeds go by id

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["uid"], name="events_event_uid_unique")]
        indexes = [
            models.Index(fields=["partner", "id"], name="events_event_partner_id"),
            models.Index(fields=["type", "id"], name="events_event_type_id"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.object_type}:{self.object_id}"


class EventBatch(models.Model):
    """Events of one type about many objects, recorded in the transaction of the change and
    made into ``Event`` rows (with their deliveries) right after it commits, by the sender
    (``events.services.event_batches_expand``). A billing run's chunk records its
    ``invoice.issued`` events here as one row instead of a thousand events and deliveries
    (docs/webhooks.md, "Scale"). The events' ids are drawn in that transaction, so they
    order with every other event as if written then; the payload is built from the
    (immutable) objects when the batch is expanded, stamped with ``created_at``."""

    type = models.CharField(max_length=60)
    first_event_id = models.BigIntegerField(
        default=0, help_text="The smallest of ``event_ids``: the feed's horizon while pending"
    )
    event_ids = models.JSONField(help_text="The drawn ids of the events, in order")
    object_ids = models.JSONField(help_text="The ids of the objects, one per event")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.type} × {len(self.event_ids)}"


class WebhookEndpoint(models.Model):
    """A URL told about events: the operator's (``partner`` NULL: every partner's events)
    or a partner's (its own events only), optionally only some event types."""

    partner = models.ForeignKey(
        "partners.Partner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="webhook_endpoints",
    )
    url = models.CharField(max_length=500, help_text="http(s) URL the events are POSTed to")
    description = models.CharField(max_length=200, blank=True)
    # Encrypted at rest (``ispbill.core.crypto``); the plain ``whsec_…`` is shown once, at
    # creation or rotation. During a rotation's grace period the previous secret signs too.
    secret = models.CharField(max_length=300, help_text="The signing secret, encrypted")
    previous_secret = models.CharField(
        max_length=300, blank=True, help_text="The secret before the last rotation, encrypted"
    )
    previous_secret_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Until then, requests are signed with both secrets"
    )
    event_types = models.JSONField(default=list, blank=True, help_text="Empty: every type")
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    consecutive_failures = models.PositiveIntegerField(
        default=0, help_text="Events given up on in a row; reset by a success"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PartnerScopedManager()

    # The plain secret on the object ``endpoint_create`` answers (never stored).
    new_secret: str = ""

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url

    def signing_secret(self) -> str:
        """The plain ``whsec_…`` secret."""
        return token_decrypt(self.secret)

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets requests are signed with now: the current one, and the previous one
        while its grace period lasts."""
        out = [self.signing_secret()]
        if (
            self.previous_secret
            and self.previous_secret_expires_at is not None
            and self.previous_secret_expires_at > now
        ):
            out.append(token_decrypt(self.previous_secret))
        return out

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Given up"


class Delivery(models.Model):
    """One event to one endpoint: attempted until the endpoint answers 2xx or the retry
    schedule is exhausted. ``object_key`` orders deliveries per object."""

    partner = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Found by the (endpoint, event) and queue indexes; no index of its own.
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    object_key = models.CharField(max_length=90)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="events_delivery_once")
        ]
        indexes = [
            models.Index(fields=["endpoint", "status", "event"], name="events_delivery_queue")
        ]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.endpoint_id}: {self.status}"
