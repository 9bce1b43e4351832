"""The outbox and the webhook deliveries (docs/webhooks.md).

Events are written by the receivers of the apps' signals (``events.receivers``), inside the
transaction of the change, set-based: one ``bulk_create`` of events and one of deliveries per
batch, whatever its size. Deliveries are sent by ``deliveries_send_due`` (the Celery task
``webhooks_deliver_task``, or ``ispbill webhooks-deliver``), signed per the Standard Webhooks
specification, retried on a schedule of more than 24 hours, in order per object and endpoint.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import secrets
import socket
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Min, Q
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from ispbill.core.audit import audit_record
from ispbill.core.bulk import ids_draw, pg_array, tuples_insert
from ispbill.core.crypto import token_encrypt, token_rotate
from ispbill.core.errors import DomainValidationError
from ispbill.events.catalog import EVENT_TYPES
from ispbill.events.models import (
    PAYLOAD_VERSION,
    Delivery,
    DeliveryStatus,
    Event,
    EventBatch,
    WebhookEndpoint,
    _event_uid,
)

logger = logging.getLogger(__name__)

# Seconds to wait after the n-th failed attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
# (27.6 hours in all); after the last, the delivery is given up.
RETRY_SCHEDULE: tuple[int, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
# An endpoint is disabled when this many events in a row were given up on.
DISABLE_AFTER_FAILED_EVENTS = 3
TIMEOUT_SECONDS = 10
BATCH = 200


# --- writing events -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewEvent:
    type: str
    partner_id: int | None
    object_type: str
    object_id: int | str
    data: dict[str, Any] = field(default_factory=dict)


EVENT_FIELDS = ["uid", "type", "partner_id", "object_type", "object_id", "payload", "created_at"]
DELIVERY_FIELDS = ["partner_id", "endpoint_id", "event_id", "object_key", "next_attempt_at"]


def events_write(new: Iterable[NewEvent]) -> list[str]:
    """Write events and their deliveries to the matching enabled endpoints: one COPY of
    events and one of deliveries on PostgreSQL (one prepared INSERT each on SQLite) and one
    endpoint query, however many events; no model instance is saved one by one. Runs in the
    caller's transaction; after it commits, the deliveries due are sent (in-process without
    a broker). Returns the events' ids (``uid``, the ``webhook-id`` sent), in order; no model
    instances are built (a billing run writes tens of thousands)."""
    rows = list(new)
    if not rows:
        return []
    now = timezone.now()
    stamp = now.isoformat()
    event_rows = []
    for row in rows:
        assert row.type in EVENT_TYPES, row.type
        uid = _event_uid()
        payload = {
            "id": uid,
            "type": row.type,
            "version": PAYLOAD_VERSION,
            "timestamp": stamp,
            "partner_id": row.partner_id,
            "data": row.data,
        }
        event_rows.append(
            (uid, row.type, row.partner_id, row.object_type, str(row.object_id), payload, now)
        )
    with transaction.atomic():
        # Written from any scope (a partner's request also tells the operator's endpoints).
        ids = tuples_insert(Event, EVENT_FIELDS, event_rows, with_ids=True)
        endpoints = _endpoints_enabled()
        deliveries = [
            (ep.partner_id, ep.pk, event_id, f"{r.object_type}:{r.object_id}", now)
            for r, event_id in zip(rows, ids, strict=True)
            for ep in endpoints
            if (ep.partner_id is None or ep.partner_id == r.partner_id) and ep.wants(r.type)
        ]
        if deliveries:
            tuples_insert(Delivery, DELIVERY_FIELDS, deliveries)
            transaction.on_commit(_send_soon)
    return [row[0] for row in event_rows]


def _endpoints_enabled() -> list[WebhookEndpoint]:
    """Every enabled endpoint, with what choosing its events needs (any scope: a partner's
    change also tells the operator's endpoints)."""
    return list(
        WebhookEndpoint._base_manager.filter(enabled=True).only("id", "partner_id", "event_types")
    )


def _endpoints_for(event_type: str) -> list[tuple[int, int | None]]:
    """The enabled endpoints that want ``event_type``: (id, partner id or None)."""
    return [(ep.pk, ep.partner_id) for ep in _endpoints_enabled() if ep.wants(event_type)]


# ``invoice.issued`` for a batch of invoices, in one statement: the events (with the ids the
# batch drew) and their deliveries built by PostgreSQL from the invoice rows: no payload is
# built, encoded or sent by Python. The payload is the one ``invoice_issued_event`` builds
# (tested side by side); amounts are the minor units over 10^exponent, rounded to the
# exponent: the decimal text ``Money`` prints.
_INVOICE_EVENTS_SQL = """
WITH src AS (
    SELECT x.event_id, 'evt_' || replace(gen_random_uuid()::text, '-', '') AS uid, i.id,
           i.number, i.kind, i.partner_id, i.customer_id, i.issuer_id, i.billing_run_id,
           i.issue_date, i.due_date, i.net_minor, i.tax_minor, i.total_minor, i.currency,
           power(10::numeric, c.exponent) AS unit, c.exponent
    FROM unnest(%(event_ids)s::bigint[], %(object_ids)s::bigint[]) AS x(event_id, invoice_id)
    JOIN invoicing_invoice i ON i.id = x.invoice_id
    JOIN unnest(%(currencies)s::text[], %(exponents)s::int[]) AS c(currency, exponent)
      ON c.currency = i.currency
), ev AS (
    INSERT INTO events_event
        (id, uid, type, partner_id, object_type, object_id, payload, created_at)
    SELECT event_id, uid, 'invoice.issued', partner_id, 'invoice', id::text,
           jsonb_build_object(
               'id', uid, 'type', 'invoice.issued', 'version', %(version)s::int,
               'timestamp', %(stamp)s::text, 'partner_id', partner_id,
               'data', jsonb_build_object(
                   'invoice_id', id, 'number', number, 'kind', kind,
                   'customer_id', customer_id, 'issuer_id', issuer_id,
                   'billing_run_id', billing_run_id,
                   'issue_date', to_char(issue_date, 'YYYY-MM-DD'),
                   'due_date', to_char(due_date, 'YYYY-MM-DD'),
                   'net', jsonb_build_object(
                       'amount', round(net_minor / unit, exponent)::text, 'currency', currency),
                   'tax', jsonb_build_object(
                       'amount', round(tax_minor / unit, exponent)::text, 'currency', currency),
                   'total', jsonb_build_object(
                       'amount', round(total_minor / unit, exponent)::text, 'currency', currency)
               )
           ),
           %(created_at)s
    FROM src ORDER BY src.event_id
    RETURNING id, partner_id, object_id
)
INSERT INTO events_delivery (partner_id, endpoint_id, event_id, object_key, next_attempt_at,
                             status, attempts, last_error)
SELECT ep.partner_id, ep.id, ev.id, 'invoice:' || ev.object_id, %(now)s, %(pending)s, 0, ''
FROM ev
JOIN unnest(%(endpoints)s::bigint[], %(endpoint_partners)s::bigint[]) AS ep(id, partner_id)
  ON ep.partner_id IS NULL OR ep.partner_id = ev.partner_id
ORDER BY ev.id, ep.id
"""

# Taken while batches are expanded: one expansion at a time, in the batches' order.
_EXPAND_LOCK = 0x15B111E7
EXPAND_BATCHES_PER_TRANSACTION = 20


def invoice_issued_event(inv: Any) -> NewEvent:
    """The ``invoice.issued`` event of an issued invoice (an ``IssuedInvoice`` or ``Invoice``
    with its real number)."""
    return NewEvent(
        type="invoice.issued",
        partner_id=inv.partner_id,
        object_type="invoice",
        object_id=inv.pk,
        data={
            "invoice_id": inv.pk,
            "number": inv.number,
            "kind": str(inv.kind),
            "customer_id": inv.customer_id,
            "issuer_id": inv.issuer_id,
            "billing_run_id": inv.billing_run_id,
            "issue_date": inv.issue_date.isoformat(),
            "due_date": inv.due_date.isoformat(),
            "net": money_payload(inv.net_minor, inv.currency),
            "tax": money_payload(inv.tax_minor, inv.currency),
            "total": money_payload(inv.total_minor, inv.currency),
        },
    )


def money_payload(minor: int, currency: str) -> dict[str, str]:
    """An amount as the API shows it: a decimal string (never a float) and its currency."""
    from ispbill.core.money import Money

    return {"amount": str(Money.from_minor(minor, currency).amount), "currency": currency}


def invoice_issued_events_write(invoices: list[Any], *, send: bool = True) -> None:
    """``invoice.issued`` for numbered, written invoices. On PostgreSQL: one ``EventBatch``
    row with the events' ids drawn now, made into events and deliveries right after the
    commit (``event_batches_expand``, which the sender runs first): a billing run's chunk
    writes one row, not a thousand events and deliveries. Elsewhere through
    ``events_write``. Runs in the caller's transaction. ``send``: have the sender run
    after the commit (a billing run has it run once, at its end)."""
    if not invoices:
        return
    if connection.vendor != "postgresql":
        events_write(invoice_issued_event(inv) for inv in invoices)
        return
    invoices = sorted(invoices, key=lambda inv: inv.pk)
    event_ids = ids_draw(Event, len(invoices))
    EventBatch.objects.create(
        type="invoice.issued",
        first_event_id=min(event_ids),
        event_ids=event_ids,
        object_ids=[inv.pk for inv in invoices],
        created_at=timezone.now(),
    )
    if send:
        transaction.on_commit(_send_soon)


def events_horizon() -> int | None:
    """The smallest event id a recorded batch holds for events not written yet (None: no
    batch pending). A feed read by id (``GET /events?after=``) stops below it, so a client
    that remembers the last id it saw never skips a run's events written later with
    smaller ids."""
    return EventBatch.objects.aggregate(horizon=Min("first_event_id"))["horizon"]


def event_batches_expand(*, max_batches: int | None = None) -> int:
    """Make the recorded ``EventBatch`` rows into events and deliveries, oldest first, one
    transaction per ``EXPAND_BATCHES_PER_TRANSACTION`` batches, under a lock that keeps
    expansions one at a time (a second caller waits, then finds the batches gone). Returns
    the number of events written. The sender calls it before choosing what to send, so an
    object's earlier event is never overtaken by a later one written directly."""
    if connection.vendor != "postgresql":
        return 0
    from ispbill.core.money import currency_exponent
    from ispbill.partners.models import Partner

    written = 0
    done = 0
    while max_batches is None or done < max_batches:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_EXPAND_LOCK])
            take = EXPAND_BATCHES_PER_TRANSACTION
            if max_batches is not None:
                take = min(take, max_batches - done)
            batches = list(
                EventBatch.objects.order_by("id").values_list(
                    "id", "type", "event_ids", "object_ids", "created_at"
                )[:take]
            )
            if not batches:
                break
            currencies = sorted(set(Partner._base_manager.values_list("currency", flat=True)))
            endpoints = _endpoints_for("invoice.issued")
            now = timezone.now()
            with connection.cursor() as cursor:
                for _pk, type_, event_ids, object_ids, created_at in batches:
                    if type_ != "invoice.issued":  # the only type recorded in batches
                        raise ValueError(f"no batch builder for {type_}")
                    cursor.execute(
                        _INVOICE_EVENTS_SQL,
                        {
                            "event_ids": pg_array(event_ids),
                            "object_ids": pg_array(object_ids),
                            "currencies": currencies,
                            "exponents": [currency_exponent(c) for c in currencies],
                            "version": PAYLOAD_VERSION,
                            "stamp": created_at.isoformat(),
                            "created_at": created_at,
                            "now": now,
                            "endpoints": [pk for pk, _ in endpoints],
                            "endpoint_partners": [partner for _, partner in endpoints],
                            "pending": DeliveryStatus.PENDING.value,
                        },
                    )
                    written += len(event_ids)
            EventBatch.objects.filter(pk__in=[b[0] for b in batches]).delete()
            done += len(batches)
    return written


def send_after_commit() -> None:
    """Have the sender run once the caller's transaction commits: it makes the recorded
    batches into events (``event_batches_expand``) and sends what is due."""
    transaction.on_commit(_send_soon)


def _send_soon() -> None:
    from ispbill.events.tasks import webhooks_deliver_task

    try:
        webhooks_deliver_task.delay()
    except Exception:  # the periodic task and the CLI send it later
        logger.exception("webhooks.schedule_failed")


# --- endpoints ------------------------------------------------------------------------------


def secret_generate() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _private_host(host: str) -> bool:
    if host in {"localhost", ""} or host.endswith(".localhost"):
        return True
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False  # unresolvable now: refused at delivery if it resolves privately
    for address in addresses:
        ip = ipaddress.ip_address(str(address).split("%")[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved:
            return True
    return False


def _url_clean(url: str, *, partner_id: int | None) -> str:
    url = url.strip()
    limit = WebhookEndpoint._meta.get_field("url").max_length or 500
    if len(url) > limit:
        raise DomainValidationError.for_fields(
            {"url": f"Ensure this URL has at most {limit} characters (it has {len(url)})."}
        )
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise DomainValidationError.for_fields({"url": "Enter an http:// or https:// URL."})
    if (
        partner_id is not None
        and not settings.WEBHOOKS_ALLOW_PRIVATE_URLS
        and _private_host(parts.hostname)
    ):
        raise DomainValidationError.for_fields(
            {"url": "This address is in a private network; use a public one."}
        )
    return url


def _types_clean(types: Iterable[str]) -> list[str]:
    chosen = sorted(set(types))
    unknown = [t for t in chosen if t not in EVENT_TYPES]
    if unknown:
        raise DomainValidationError.for_fields(
            {"event_types": f"Unknown event type(s): {', '.join(unknown)}."}
        )
    return chosen


def endpoint_create(
    *,
    partner_id: int | None,
    url: str,
    description: str = "",
    event_types: Iterable[str] = (),
    actor: Any = None,
) -> WebhookEndpoint:
    """A new endpoint with a fresh signing secret, stored encrypted; the plain secret is
    ``endpoint.new_secret`` on the answer (shown to its creator once)."""
    plain = secret_generate()
    endpoint = WebhookEndpoint.objects.create(
        partner_id=partner_id,
        url=_url_clean(url, partner_id=partner_id),
        description=description.strip(),
        event_types=_types_clean(event_types),
        secret=token_encrypt(plain),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    endpoint.new_secret = plain
    audit_record(
        action="webhook_endpoint.created",
        obj=endpoint,
        actor=actor,
        partner_id=partner_id,
        changes={"url": endpoint.url, "event_types": endpoint.event_types},
    )
    return endpoint


def endpoint_update(
    endpoint: WebhookEndpoint,
    *,
    url: str,
    description: str,
    event_types: Iterable[str],
    enabled: bool,
    actor: Any = None,
) -> WebhookEndpoint:
    endpoint.url = _url_clean(url, partner_id=endpoint.partner_id)
    endpoint.description = description.strip()
    endpoint.event_types = _types_clean(event_types)
    if enabled and not endpoint.enabled:
        endpoint.consecutive_failures = 0
        endpoint.disabled_reason = ""
    endpoint.enabled = enabled
    endpoint.save()
    audit_record(
        action="webhook_endpoint.changed",
        obj=endpoint,
        actor=actor,
        partner_id=endpoint.partner_id,
        changes={"url": endpoint.url, "event_types": endpoint.event_types, "enabled": enabled},
    )
    return endpoint


ROTATION_GRACE_HOURS = 24
MAX_GRACE_HOURS = 168


@transaction.atomic
def endpoint_secret_rotate(
    endpoint: WebhookEndpoint, *, grace_hours: int = ROTATION_GRACE_HOURS, actor: Any = None
) -> str:
    """A new signing secret for the endpoint (answered in plain text, once). For
    ``grace_hours`` the requests carry a signature with the previous secret as well (Standard
    Webhooks: several space-separated signatures), so the receiver can switch without losing
    an event; 0 ends the old secret at once. A second rotation within the grace period drops
    the oldest secret."""
    if not 0 <= grace_hours <= MAX_GRACE_HOURS:
        raise DomainValidationError.for_fields(
            {"grace_hours": f"Choose 0 to {MAX_GRACE_HOURS} hours."}
        )
    locked = WebhookEndpoint._base_manager.select_for_update().get(pk=endpoint.pk)
    plain = secret_generate()
    now = timezone.now()
    if grace_hours:
        locked.previous_secret = locked.secret
        locked.previous_secret_expires_at = now + timedelta(hours=grace_hours)
    else:
        locked.previous_secret = ""
        locked.previous_secret_expires_at = None
    locked.secret = token_encrypt(plain)
    locked.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    audit_record(
        action="webhook_endpoint.secret_rotated",
        obj=locked,
        actor=actor,
        partner_id=locked.partner_id,
        changes={
            "grace_until": locked.previous_secret_expires_at.isoformat()
            if locked.previous_secret_expires_at
            else None
        },
    )
    endpoint.secret = locked.secret
    endpoint.previous_secret = locked.previous_secret
    endpoint.previous_secret_expires_at = locked.previous_secret_expires_at
    return plain


def endpoint_secrets_rekey() -> int:
    """Encrypt every stored signing secret again under the newest key
    (``GATEWAY_ENCRYPTION_KEYS``' first; ``ispbill gateway-rekey``); the count of endpoints."""
    with transaction.atomic():
        rows = list(WebhookEndpoint._base_manager.select_for_update().order_by("pk"))
        for row in rows:
            row.secret = token_rotate(row.secret)
            if row.previous_secret:
                row.previous_secret = token_rotate(row.previous_secret)
        WebhookEndpoint._base_manager.bulk_update(rows, ["secret", "previous_secret"])
    return len(rows)


def endpoint_delete(endpoint: WebhookEndpoint, *, actor: Any = None) -> None:
    audit_record(
        action="webhook_endpoint.deleted",
        obj=endpoint,
        actor=actor,
        partner_id=endpoint.partner_id,
        changes={"url": endpoint.url},
    )
    endpoint.delete()


def delivery_replay(delivery: Delivery, *, actor: Any = None) -> Delivery:
    """Send the event again, as soon as possible, with a fresh retry schedule (same
    ``webhook-id``: a receiver that kept it can tell)."""
    delivery.status = DeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "attempts", "next_attempt_at"])
    audit_record(
        action="webhook_delivery.replayed",
        obj=delivery,
        actor=actor,
        partner_id=delivery.partner_id,
    )
    transaction.on_commit(_send_soon)
    return delivery


# --- sending --------------------------------------------------------------------------------


@dataclass
class SendStats:
    attempted: int = 0
    succeeded: int = 0
    failed: int = 0
    given_up: int = 0
    disabled: list[int] = field(default_factory=list)


def _heads(endpoint: WebhookEndpoint, now: datetime, limit: int) -> list[int]:
    """The due deliveries of ``endpoint`` that are first of their object: an object's later
    event waits while an earlier one is pending (ordered per object)."""
    rows = (
        Delivery._base_manager.filter(endpoint=endpoint, status=DeliveryStatus.PENDING)
        .order_by("event_id")
        .values_list("pk", "object_key", "next_attempt_at")[: limit * 5]
    )
    seen: set[str] = set()
    due: list[int] = []
    for pk, key, next_at in rows:
        if key in seen:
            continue
        seen.add(key)
        if next_at <= now:
            due.append(pk)
            if len(due) >= limit:
                break
    return due


def deliveries_send_due(*, limit: int = BATCH, now: datetime | None = None) -> SendStats:
    """Send what is due, endpoint by endpoint, at most ``limit`` per endpoint. The first
    failure of an endpoint ends its turn (a receiver that is down would otherwise hold the
    caller ten seconds per event): its other due events go on the next call."""
    event_batches_expand()
    now = now or timezone.now()
    stats = SendStats()
    endpoint_ids = (
        Delivery._base_manager.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=now, endpoint__enabled=True
        )
        .values_list("endpoint_id", flat=True)
        .distinct()
    )
    for endpoint in WebhookEndpoint._base_manager.filter(pk__in=list(endpoint_ids)):
        tried: set[int] = set()
        # Rounds: an object's next event becomes due when its previous one succeeded; a
        # delivery is attempted at most once per call.
        while endpoint.enabled and len(tried) < limit:
            heads = [pk for pk in _heads(endpoint, now, limit) if pk not in tried]
            if not heads:
                break
            succeeded, unsuccessful = stats.succeeded, stats.failed + stats.given_up
            for pk in heads[: limit - len(tried)]:
                tried.add(pk)
                _attempt(pk, endpoint, stats)
                if stats.failed + stats.given_up > unsuccessful:
                    break  # the endpoint is failing: its other events wait for their turn
            if stats.succeeded == succeeded or stats.failed + stats.given_up > unsuccessful:
                break
    return stats


def _post(endpoint: WebhookEndpoint, event: Event) -> tuple[int | None, str]:
    """POST the signed event; (status code, error text)."""
    body = json.dumps(event.payload, separators=(",", ":"), sort_keys=True)
    sent_at = timezone.now()
    # During a rotation's grace period, one signature per secret, space-separated.
    signature = " ".join(
        Webhook(secret).sign(event.uid, sent_at, body)
        for secret in endpoint.signing_secrets(sent_at)
    )
    parts = urlsplit(endpoint.url)
    if (
        endpoint.partner_id is not None
        and not settings.WEBHOOKS_ALLOW_PRIVATE_URLS
        and _private_host(parts.hostname or "")
    ):
        return None, "refused: the address is in a private network"
    if parts.scheme not in {"http", "https"}:
        return None, "refused: not an http(s) URL"
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        endpoint.url,
        data=body.encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "ispbill-webhooks/1",
            "webhook-id": event.uid,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": signature,
        },
    )
    try:
        # The scheme is http(s), checked when the endpoint was saved.
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return int(response.status), ""
    except urllib.error.HTTPError as exc:
        return int(exc.code), f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:300]


def _attempt(pk: int, endpoint: WebhookEndpoint, stats: SendStats) -> None:
    # The row stays locked while it is sent: a second worker skips it, and a worker killed
    # mid-delivery rolls back to pending, so the event is sent again (at least once).
    with transaction.atomic():
        delivery = (
            Delivery._base_manager.select_for_update(skip_locked=True)
            .select_related("event")
            .filter(pk=pk, status=DeliveryStatus.PENDING)
            .first()
        )
        if delivery is None:
            return
        code, error = _post(endpoint, delivery.event)
        now = timezone.now()
        stats.attempted += 1
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.last_status_code = code
        delivery.last_error = error
        if code is not None and 200 <= code < 300:
            stats.succeeded += 1
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.delivered_at = now
            if endpoint.consecutive_failures:
                endpoint.consecutive_failures = 0
                endpoint.save(update_fields=["consecutive_failures"])
        elif delivery.attempts >= MAX_ATTEMPTS:
            stats.given_up += 1
            delivery.status = DeliveryStatus.FAILED
            endpoint.consecutive_failures += 1
            if endpoint.consecutive_failures >= DISABLE_AFTER_FAILED_EVENTS:
                _endpoint_disable(endpoint)
                stats.disabled.append(endpoint.pk)
            else:
                endpoint.save(update_fields=["consecutive_failures"])
        else:
            stats.failed += 1
            delivery.next_attempt_at = now + timedelta(
                seconds=RETRY_SCHEDULE[delivery.attempts - 1]
            )
        delivery.save()


def _endpoint_disable(endpoint: WebhookEndpoint) -> None:
    endpoint.enabled = False
    endpoint.disabled_reason = (
        f"Disabled at {timezone.now():%Y-%m-%d %H:%M} UTC: {endpoint.consecutive_failures} "
        "events in a row could not be delivered after every retry."
    )
    endpoint.save(update_fields=["enabled", "disabled_reason", "consecutive_failures"])
    audit_record(
        action="webhook_endpoint.disabled",
        obj=endpoint,
        actor="system",
        partner_id=endpoint.partner_id,
        changes={"reason": endpoint.disabled_reason},
    )
    recipients = _owner_emails(endpoint)
    if recipients:
        transaction.on_commit(
            lambda: send_mail(
                subject=f"Webhook endpoint disabled: {endpoint.url}",
                message=(
                    f"{endpoint.disabled_reason}\n\nEndpoint: {endpoint.url}\n"
                    "Fix the receiver, then enable the endpoint again on the Webhooks page; "
                    "the events it missed can be replayed from its delivery log.\n"
                ),
                from_email=None,
                recipient_list=recipients,
                fail_silently=True,
            )
        )


def _owner_emails(endpoint: WebhookEndpoint) -> list[str]:
    """Who is told: the endpoint's creator and its partner's administrators (the
    operator's administrators for an operator endpoint)."""
    from django.contrib.auth import get_user_model

    from ispbill.accounts.models import Role

    users = get_user_model()._default_manager.filter(is_active=True)
    if endpoint.partner_id is None:
        admins = users.filter(role=Role.ADMIN)
    else:
        admins = users.filter(partner_id=endpoint.partner_id, role=Role.PARTNER_ADMIN)
    q = Q(pk__in=admins.values("pk"))
    if endpoint.created_by_id:
        q |= Q(pk=endpoint.created_by_id)
    return sorted({u.email for u in users.filter(q) if u.email})
