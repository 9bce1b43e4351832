"""Events and their signed deliveries to a real HTTP receiver on 127.0.0.1: the signature
verifies with the Standard Webhooks library, retries deliver exactly once, a partner's
endpoint sees only its own events, an object's events arrive in order, an endpoint that
keeps failing is disabled with an e-mail, and a billing run writes its events set-based."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from ispbill.billing.run import billing_run_start
from ispbill.core.errors import DomainValidationError
from ispbill.core.money import Money, currency_exponent
from ispbill.customers.models import Customer
from ispbill.customers.services import customer_status_set
from ispbill.events import services
from ispbill.events.models import Delivery, DeliveryStatus, Event, WebhookEndpoint
from ispbill.events.services import (
    MAX_ATTEMPTS,
    NewEvent,
    deliveries_send_due,
    delivery_replay,
    endpoint_create,
    event_batches_expand,
    events_write,
    invoice_issued_event,
    money_payload,
)
from ispbill.invoicing.models import Invoice
from ispbill.payments.services import payment_record
from ispbill.subscriptions.models import Service
from ispbill.subscriptions.services import service_record, service_update
from tests.api.conftest import Seed
from tests.events.conftest import Receiver

pytestmark = pytest.mark.django_db


def _bill(seed: Seed) -> None:
    for c, t in ((seed.alice, seed.fiber), (seed.bob, seed.fiber), (seed.olga, seed.own_tariff)):
        Service.objects.create(partner=c.partner, customer=c, tariff=t, start_date=date(2026, 3, 1))
    billing_run_start(run_date=date(2026, 3, 1))
    # On PostgreSQL the run records its invoice events as a batch per chunk, made into
    # events and deliveries by the sender right after the commit (which tests never reach).
    event_batches_expand()


def _later(minutes: float) -> Any:
    return timezone.now() + timedelta(minutes=minutes)


def test_billing_run_events_are_signed_and_verify(seed: Seed, receiver: Receiver):
    endpoint = endpoint_create(partner_id=None, url=receiver.url())
    assert endpoint.new_secret.startswith("whsec_")
    # At rest the secret is encrypted: the column never holds the plain text.
    stored = WebhookEndpoint.objects.values_list("secret", flat=True).get(pk=endpoint.pk)
    assert "whsec_" not in stored and endpoint.new_secret not in stored
    assert endpoint.signing_secret() == endpoint.new_secret
    _bill(seed)
    issued = Event.objects.filter(type="invoice.issued")
    assert issued.count() == 3
    assert Event.objects.filter(type="billing_run.finished").count() == 1
    stats = deliveries_send_due()
    assert stats.succeeded == 4 and stats.failed == 0
    hook = Webhook(endpoint.new_secret)
    types = Counter()
    for r in receiver.requests:
        payload = hook.verify(r.body, r.headers)  # raises on a bad signature
        assert payload["id"] == r.headers["webhook-id"] and payload["version"] == 1
        types[payload["type"]] += 1
    assert types == {"invoice.issued": 3, "billing_run.finished": 1}
    invoice = next(r.json for r in receiver.requests if r.json["type"] == "invoice.issued")
    data = invoice["data"]
    assert set(data) >= {"invoice_id", "number", "customer_id", "total", "due_date"}
    assert isinstance(data["total"]["amount"], str)  # decimal text, never a float
    # Tampered body or another secret: the library refuses it.
    r = receiver.requests[0]
    with pytest.raises(Exception):  # noqa: B017 (WebhookVerificationError)
        hook.verify(r.body.replace(b'"version":1', b'"version":2'), r.headers)
    with pytest.raises(Exception):  # noqa: B017
        Webhook(services.secret_generate()).verify(r.body, r.headers)
    assert Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 4


def test_failing_twice_then_succeeding_delivers_exactly_once(seed: Seed, receiver: Receiver):
    endpoint = endpoint_create(
        partner_id=None, url=receiver.url(), event_types=["payment.received"]
    )
    receiver.fail_with = [500, 503]
    payment_record(customer=seed.alice, amount=Money(Decimal("10.00"), "EUR"), on=date(2026, 3, 2))
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert deliveries_send_due().failed == 1
    # Not due again before its back-off (5 s, then 5 min).
    assert deliveries_send_due().attempted == 0
    assert deliveries_send_due(now=_later(1)).failed == 1
    assert deliveries_send_due(now=_later(2)).attempted == 0
    assert deliveries_send_due(now=_later(10)).succeeded == 1
    assert deliveries_send_due(now=_later(60 * 30)).attempted == 0  # done: never sent again
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 3, 200)
    accepted = receiver.accepted()
    assert len(receiver.requests) == 3 and len(accepted) == 1
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert ids == {delivery.event.uid}  # the same id each attempt: receivers dedupe on it
    assert accepted[0].json["data"]["amount"] == {"amount": "10.00", "currency": "EUR"}


def test_partner_endpoint_never_sees_another_partners_events(seed: Seed, receiver: Receiver):
    city = endpoint_create(partner_id=seed.citynet.pk, url=receiver.url("/city"))
    own = endpoint_create(partner_id=seed.ownnet.pk, url=receiver.url("/own"))
    operator = endpoint_create(partner_id=None, url=receiver.url("/op"))
    _bill(seed)
    customer_status_set(customer=seed.bob, status="blocked")
    deliveries_send_due()
    by_path: dict[str, set[int | None]] = {"/city": set(), "/own": set(), "/op": set()}
    for r in receiver.requests:
        by_path[r.path].add(r.json["partner_id"])
    assert by_path["/city"] == {seed.citynet.pk}
    assert by_path["/own"] == {seed.ownnet.pk}
    assert {seed.citynet.pk, seed.ownnet.pk, seed.home.pk} <= by_path["/op"]
    city_types = {r.json["type"] for r in receiver.requests if r.path == "/city"}
    assert city_types == {"invoice.issued", "customer.blocked"}
    assert not Delivery.objects.filter(endpoint=city).exclude(partner=seed.citynet).exists()
    assert Delivery.objects.filter(endpoint=own).count() == 1
    assert Delivery.objects.filter(endpoint=operator).count() == Event.objects.count()


def test_an_objects_events_arrive_in_order(seed: Seed, receiver: Receiver):
    endpoint_create(partner_id=None, url=receiver.url())
    first, second, other = events_write(
        [
            NewEvent("customer.blocked", seed.home.pk, "customer", seed.alice.pk),
            NewEvent("customer.activated", seed.home.pk, "customer", seed.alice.pk),
            NewEvent("customer.blocked", seed.citynet.pk, "customer", seed.bob.pk),
        ]
    )
    receiver.fail_with = [500]
    deliveries_send_due()
    # The first failed: the endpoint's turn ends (it may be down).
    assert [r.headers["webhook-id"] for r in receiver.requests] == [first]
    deliveries_send_due(now=_later(1))
    # Then the first, the other object's, and the object's second once its first succeeded.
    sent = [r.headers["webhook-id"] for r in receiver.accepted()]
    assert sent == [first, other, second]
    # The object's second is never sent before its first: fail the first for good.
    Delivery.objects.update(
        status="pending", attempts=MAX_ATTEMPTS - 1, next_attempt_at=timezone.now()
    )
    receiver.requests.clear()
    receiver.fail_with = [500]
    deliveries_send_due()
    assert [r.headers["webhook-id"] for r in receiver.requests] == [first]
    assert Delivery.objects.get(event__uid=first).status == "failed"
    deliveries_send_due()  # given up: the next ones go
    assert [r.headers["webhook-id"] for r in receiver.accepted()] == [second, other]


def test_endpoint_disabled_after_persistent_failure_and_owner_emailed(
    seed: Seed, receiver: Receiver
):
    endpoint = endpoint_create(partner_id=seed.citynet.pk, url=receiver.url())
    receiver.fail_with = [500] * 100
    events_write(NewEvent("customer.blocked", seed.citynet.pk, "customer", n) for n in range(1, 5))
    now = timezone.now()
    for step in range(3 * MAX_ATTEMPTS + 2):  # one attempt per call: the endpoint fails
        deliveries_send_due(now=now + timedelta(hours=12 * step))
    endpoint.refresh_from_db()
    # Every retry over more than 24 h, then given up; three given up in a row: disabled.
    assert not endpoint.enabled and "3 events in a row" in endpoint.disabled_reason
    failed = Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.FAILED)
    assert failed.count() == 3 and all(d.attempts == MAX_ATTEMPTS for d in failed)
    assert sum(services.RETRY_SCHEDULE) > 24 * 3600
    assert Delivery.objects.filter(endpoint=endpoint, status="pending").count() == 1
    # In a test transaction on_commit does not run: the e-mail is queued with the commit.
    # Sending it by hand as the hook would:
    assert services._owner_emails(endpoint) == ["city@example.com"]
    # Enabling again resets the count; a replayed delivery is sent with a fresh schedule.
    receiver.fail_with = []
    endpoint.enabled = True
    endpoint.save()
    delivery_replay(failed.first())
    assert deliveries_send_due().succeeded >= 1


def test_disabling_sends_the_email(
    seed: Seed, receiver: Receiver, django_capture_on_commit_callbacks
):
    endpoint = endpoint_create(partner_id=None, url=receiver.url())
    endpoint.consecutive_failures = services.DISABLE_AFTER_FAILED_EVENTS - 1
    endpoint.save()
    events_write([NewEvent("customer.blocked", seed.home.pk, "customer", 1)])
    Delivery.objects.filter(endpoint=endpoint).update(attempts=MAX_ATTEMPTS - 1)
    receiver.fail_with = [500]
    with django_capture_on_commit_callbacks(execute=True):
        services._attempt(
            Delivery.objects.get(endpoint=endpoint).pk, endpoint, services.SendStats()
        )
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert len(mail.outbox) == 1 and "root@example.com" in mail.outbox[0].to
    assert endpoint.url in mail.outbox[0].subject


def test_killed_mid_delivery_loses_nothing(seed: Seed, receiver: Receiver, monkeypatch):
    endpoint_create(partner_id=None, url=receiver.url())
    events_write([NewEvent("customer.blocked", seed.home.pk, "customer", seed.alice.pk)])

    def killed(*args: Any) -> Any:
        raise SystemExit("worker killed")

    monkeypatch.setattr(services, "_post", killed)
    with pytest.raises(SystemExit):
        deliveries_send_due()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    monkeypatch.undo()
    assert deliveries_send_due().succeeded == 1 and len(receiver.accepted()) == 1


def test_billing_run_writes_invoice_events_set_based(seed: Seed, receiver: Receiver):
    """The queries a run makes on the outbox do not grow with its invoices."""
    endpoint_create(partner_id=None, url=receiver.url())
    endpoint_create(partner_id=seed.citynet.pk, url=receiver.url("/city"))

    def outbox_queries(customers: int, day: date) -> tuple[int, int]:
        for n in range(customers):
            c = Customer.objects.create(partner=seed.citynet, reference=f"Q{day}{n}", name="Q")
            Service.objects.create(partner=c.partner, customer=c, tariff=seed.fiber, start_date=day)
        before = Event.objects.filter(type="invoice.issued").count()
        with CaptureQueriesContext(connection) as ctx:
            billing_run_start(run_date=day)
        event_batches_expand()
        issued = Event.objects.filter(type="invoice.issued").count() - before
        return issued, sum(1 for q in ctx.captured_queries if "events_" in q["sql"])

    small, small_queries = outbox_queries(3, date(2026, 3, 1))
    large, large_queries = outbox_queries(12, date(2026, 4, 1))  # the 3 again, and 12 more
    assert (small, large) == (3, 15)
    assert large_queries == small_queries
    assert Delivery.objects.filter(event__type="invoice.issued").count() == 2 * 18


def test_invoice_events_carry_the_real_number_and_the_documented_payload(
    seed: Seed, receiver: Receiver
):
    """A billing run numbers its invoices last in the chunk: the event is written after
    that, with the number the customer sees (it once carried the placeholder). On
    PostgreSQL the run's events are built by SQL; they equal what the Python builder makes
    of the same invoice, amounts as decimal text."""
    endpoint_create(partner_id=None, url=receiver.url())
    _bill(seed)
    events = list(Event.objects.filter(type="invoice.issued").order_by("id"))
    assert len(events) == 3
    for event in events:
        invoice = Invoice.objects.get(pk=event.payload["data"]["invoice_id"])
        assert not invoice.number.startswith("~")
        assert event.payload["data"] == invoice_issued_event(invoice).data
        assert event.payload["id"] == event.uid and event.uid.startswith("evt_")
        assert event.object_id == str(invoice.pk) and event.partner_id == invoice.partner_id
        assert event.payload["partner_id"] == invoice.partner_id
    data = events[0].payload["data"]
    assert data["total"]["amount"] == str(Money.from_minor(invoice_total(events[0]), "EUR").amount)
    assert Delivery.objects.filter(event__type="invoice.issued").count() == 3


def invoice_total(event: Event) -> int:
    return Invoice.objects.get(pk=event.payload["data"]["invoice_id"]).total_minor


def test_invoice_event_amounts_in_sql_match_money_for_every_exponent(seed: Seed):
    """The SQL builder's amounts are the decimal text ``Money`` prints, for two-, zero- and
    three-decimal currencies and negative amounts."""
    if connection.vendor != "postgresql":
        pytest.skip("the SQL builder runs on PostgreSQL")
    cases = [(1250, "EUR"), (-5, "EUR"), (0, "EUR"), (1250, "JPY"), (1, "KWD"), (-1001, "KWD")]
    with connection.cursor() as cursor:
        for minor, currency in cases:
            exponent = currency_exponent(currency)
            cursor.execute(
                "SELECT round(%s / power(10::numeric, %s), %s)::text", [minor, exponent, exponent]
            )
            assert cursor.fetchone()[0] == money_payload(minor, currency)["amount"], currency


def test_partner_endpoint_on_a_private_address_is_refused(seed: Seed, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    with pytest.raises(DomainValidationError):
        endpoint_create(partner_id=seed.citynet.pk, url="http://127.0.0.1:9/hook")
    with pytest.raises(DomainValidationError):
        endpoint_create(partner_id=None, url="ftp://example.org/")
    with pytest.raises(DomainValidationError):
        endpoint_create(partner_id=None, url="https://example.org/", event_types=["nope"])
    # The operator's own endpoints may point inside its network.
    assert endpoint_create(partner_id=None, url="http://127.0.0.1:9/hook").pk
    assert WebhookEndpoint.objects.count() == 1


def test_status_and_service_events(seed: Seed):
    service = service_record(customer=seed.bob, tariff=seed.fiber, start_date=date(2026, 3, 1))
    customer_status_set(customer=seed.bob, status="blocked")
    customer_status_set(customer=seed.bob, status="active")
    service_update(service=service, status="stopped", end_date=date(2026, 3, 20))
    types = list(Event.objects.order_by("id").values_list("type", flat=True))
    assert types == [
        "service.created",
        "customer.blocked",
        "customer.unblocked",
        "service.changed",
        "service.stopped",
    ]
    stopped = Event.objects.get(type="service.stopped")
    assert (
        stopped.partner_id == seed.citynet.pk
        and stopped.payload["data"]["service_id"] == service.pk
    )


def test_cli_sends_what_is_due(seed: Seed, receiver: Receiver, capsys: Any):
    from ispbill.cli import main

    endpoint_create(partner_id=None, url=receiver.url())
    events_write([NewEvent("customer.blocked", seed.home.pk, "customer", seed.alice.pk)])
    assert main(["webhooks-deliver"]) == 0
    assert "1 delivery attempt(s): 1 delivered" in capsys.readouterr().out
    assert len(receiver.accepted()) == 1
    assert main(["webhooks-deliver"]) == 0
    assert "0 delivery attempt(s)" in capsys.readouterr().out


def test_commission_and_mandate_events(billed: Any):
    from ispbill.commission.statements import commission_statement_approve, commission_statement_pay
    from ispbill.partners.models import CommissionStatement
    from ispbill.sepa.mandates import mandate_revoke
    from tests.sepa.helpers import creditor, mandate

    seed = billed.seed
    st = CommissionStatement.objects.get(pk=billed.statement_id)
    st = commission_statement_approve(statement=st, on=date(2026, 3, 2))
    commission_statement_pay(statement=st, on=date(2026, 3, 5), reference="P-1")
    approved = Event.objects.get(type="commission_statement.approved")
    paid = Event.objects.get(type="commission_statement.paid")
    assert approved.partner_id == paid.partner_id == seed.citynet.pk
    assert paid.payload["data"]["payout_reference"] == "P-1"
    creditor(seed.home)
    m = mandate(seed.alice)
    mandate_revoke(mandate=m, on=date(2026, 3, 10), reason="customer")
    created = Event.objects.get(type="mandate.created")
    revoked = Event.objects.get(type="mandate.revoked")
    assert created.object_id == revoked.object_id == str(m.pk)
    assert "iban" not in created.payload["data"] and revoked.payload["data"]["ended_on"]


def test_a_run_records_one_batch_per_chunk_on_postgresql_and_the_check_notices_a_stale_one(
    seed: Seed, receiver: Receiver
):
    """On PostgreSQL a run's invoice events are one ``EventBatch`` row per chunk, with the
    events' ids drawn then; the sender makes them into events and deliveries, in those ids'
    order, once only. ``ispbill check`` names a batch nobody expanded."""
    from ispbill.core.invariants import invariants_check
    from ispbill.events.models import EventBatch

    if connection.vendor != "postgresql":
        pytest.skip("elsewhere the events are written in the run's transaction")
    endpoint_create(partner_id=None, url=receiver.url())
    for c, t in ((seed.alice, seed.fiber), (seed.bob, seed.fiber)):
        Service.objects.create(partner=c.partner, customer=c, tariff=t, start_date=date(2026, 3, 1))
    billing_run_start(run_date=date(2026, 3, 1))
    batch = EventBatch.objects.get()
    assert len(batch.event_ids) == len(batch.object_ids) == 2
    assert not Event.objects.filter(type="invoice.issued").exists()
    # A direct event written meanwhile (a payment) gets a later id than the batch's events.
    payment_record(customer=seed.alice, amount=Money(Decimal("1.00"), "EUR"), on=date(2026, 3, 2))
    # Not yet stale: the check passes; an hour later it names the batch.
    assert not [b for b in invariants_check()[1] if b.check == "events.batches_pending"]
    EventBatch.objects.update(created_at=timezone.now() - timedelta(hours=1))
    batch.refresh_from_db()
    stale = [b for b in invariants_check()[1] if b.check == "events.batches_pending"]
    assert stale and stale[0].ids == (f"event_batch:{batch.pk}",)
    stats = deliveries_send_due()  # expands first, then sends in event order
    assert not EventBatch.objects.exists()
    issued = list(Event.objects.filter(type="invoice.issued").order_by("id"))
    assert [e.pk for e in issued] == batch.event_ids
    assert [int(e.object_id) for e in issued] == batch.object_ids
    assert issued[0].payload["timestamp"] == batch.created_at.isoformat()
    assert stats.succeeded == Delivery.objects.count() == 4  # 2 invoices, payment, run
    ids = [r.json["id"] for r in receiver.requests]
    order = list(Event.objects.order_by("id").values_list("uid", flat=True))
    assert ids == order
    assert event_batches_expand() == 0  # once only


def test_a_run_has_the_sender_run_once_at_its_end_not_after_every_chunk(
    seed: Seed, settings, django_capture_on_commit_callbacks
):
    """Making a run's events competes with its chunks for the workers: the run asks for
    the sender once, when it is over, however many chunks it has."""
    settings.BILLING_CHUNK_SIZE = 1
    for n in range(4):
        c = Customer.objects.create(partner=seed.citynet, reference=f"S{n}", name="S")
        Service.objects.create(
            partner=c.partner, customer=c, tariff=seed.fiber, start_date=date(2026, 3, 1)
        )
    with django_capture_on_commit_callbacks() as callbacks:
        summary = billing_run_start(run_date=date(2026, 3, 1))
    assert summary.stats.invoices_issued == 4
    assert [cb for cb in callbacks if cb is services._send_soon] == [services._send_soon]
