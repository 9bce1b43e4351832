"""The webhook API: endpoints (CRUD, the secret only in the creation's answer), their
deliveries and replay, and the events, each scoped to the caller's partner."""

from __future__ import annotations

import pytest

from ispbill.events.models import Delivery, WebhookEndpoint
from ispbill.events.services import NewEvent, events_write
from tests.api.conftest import Seed, assert_error
from tests.events.conftest import Receiver

pytestmark = pytest.mark.django_db


def test_endpoint_crud_deliveries_replay_and_events(seed: Seed, receiver: Receiver):
    r = seed.citynet_admin.post(
        "/webhook-endpoints", {"url": receiver.url(), "event_types": ["customer.blocked"]}
    )
    assert r.status == 201, r.body
    created = r.body
    assert created["secret"].startswith("whsec_") and created["partner_id"] == seed.citynet.pk
    eid = created["id"]
    read = seed.citynet_admin.get(f"/webhook-endpoints/{eid}")
    assert read.status == 200 and "secret" not in read.body
    assert_error(
        seed.citynet_admin.post(
            "/webhook-endpoints", {"url": receiver.url(), "event_types": ["x"]}
        ),
        422,
    )
    # A URL longer than the 500 characters kept: 422, nothing written.
    long_url = "https://hooks.example.com/" + "x" * 480
    assert_error(seed.admin.post("/webhook-endpoints", {"url": long_url}), 422)
    # The operator may create a partner's endpoint; a partner may not name another.
    op = seed.admin.post("/webhook-endpoints", {"url": receiver.url("/op")})
    assert op.status == 201 and op.body["partner_id"] is None
    assert_error(
        seed.citynet_admin.post(
            "/webhook-endpoints", {"url": receiver.url(), "partner_id": seed.ownnet.pk}
        ),
        422,
    )
    events_write(
        [
            NewEvent("customer.blocked", seed.citynet.pk, "customer", seed.bob.pk),
            NewEvent("customer.blocked", seed.ownnet.pk, "customer", seed.olga.pk),
        ]
    )
    # Events: a partner sees its own; the operator all.
    mine = seed.citynet_admin.get("/events").body
    assert [e["partner_id"] for e in mine["items"]] == [seed.citynet.pk]
    assert mine["items"][0]["payload"]["version"] == 1
    assert seed.admin.get("/events").body["count"] == 2
    first = seed.admin.get("/events", after=0).body["items"][0]["seq"]
    assert seed.admin.get("/events", after=first).body["count"] == 1
    # Deliveries and replay.
    deliveries = seed.citynet_admin.get(f"/webhook-endpoints/{eid}/deliveries").body["items"]
    assert len(deliveries) == 1 and deliveries[0]["status"] == "pending"
    replay = seed.citynet_admin.post(f"/webhook-deliveries/{deliveries[0]['id']}/replay")
    assert replay.status == 200 and replay.body["attempts"] == 0
    # Another partner's endpoint and delivery: 404.
    own = seed.ownnet_admin
    assert own.get(f"/webhook-endpoints/{eid}").status == 404
    assert own.post(f"/webhook-deliveries/{deliveries[0]['id']}/replay").status == 404
    assert own.get("/webhook-endpoints").body["count"] == 0
    # Change and delete.
    changed = seed.citynet_admin.call(
        "PUT", f"/webhook-endpoints/{eid}", {"url": receiver.url("/v2"), "enabled": False}
    )
    assert changed.status == 200 and changed.body["enabled"] is False
    assert changed.body["event_types"] == []
    assert seed.citynet_admin.delete(f"/webhook-endpoints/{eid}").status == 200
    assert not WebhookEndpoint.objects.filter(pk=eid).exists()
    assert not Delivery.objects.filter(endpoint_id=eid).exists()


def test_roles_without_webhooks(seed: Seed):
    for api in (seed.accountant, seed.support, seed.portal):
        assert api.get("/webhook-endpoints").status == 403
        assert api.get("/events").status == 403


def test_event_payloads_are_openapi_components(seed: Seed):
    schema = seed.admin.client.get("/api/v1/openapi.json").json()
    components = schema["components"]["schemas"]
    for name in ("EventPayload", "InvoiceIssuedData", "PaymentReceivedData", "ServiceData"):
        assert name in components, name
    types = seed.citynet_admin.get("/event-types").body
    assert {"type": "invoice.issued", "description": types[0]["description"]} == types[0]


def test_event_payload_is_answered_as_written(seed: Seed):
    from ispbill.customers.services import customer_status_set
    from ispbill.events.models import Event

    customer_status_set(customer=seed.bob, status="blocked")
    (item,) = seed.citynet_admin.get("/events", type="customer.blocked").body["items"]
    assert item["payload"] == Event.objects.get(type="customer.blocked").payload
    assert item["payload"]["data"]["reference"] == "B-1"


def test_the_feed_never_skips_a_runs_events_written_after_it(seed: Seed):
    """On PostgreSQL a run's invoice events are written after the run with ids drawn during
    it. A client polling ``GET /events?after=<last seq>`` is held below the first pending id
    until they exist, so a payment's event written meanwhile (a larger id) cannot carry the
    client past them."""
    from datetime import date
    from decimal import Decimal

    from django.db import connection

    from ispbill.billing.run import billing_run_start
    from ispbill.core.money import Money
    from ispbill.events.services import event_batches_expand
    from ispbill.payments.services import payment_record
    from ispbill.subscriptions.models import Service

    if connection.vendor != "postgresql":
        pytest.skip("elsewhere the run writes its events in its own transaction")
    Service.objects.create(
        partner=seed.alice.partner,
        customer=seed.alice,
        tariff=seed.fiber,
        start_date=date(2026, 3, 1),
    )
    billing_run_start(run_date=date(2026, 3, 1))
    payment_record(customer=seed.alice, amount=Money(Decimal("1.00"), "EUR"), on=date(2026, 3, 2))
    seen = [e["type"] for e in seed.admin.get("/events", after=0).body["items"]]
    assert "payment.received" not in seen and "invoice.issued" not in seen
    assert seed.admin.get("/events").body["items"][0]["type"] == "payment.received"
    event_batches_expand()
    seen = [e["type"] for e in seed.admin.get("/events", after=0).body["items"]]
    assert seen.index("invoice.issued") < seen.index("payment.received")
