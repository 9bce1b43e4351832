"""Endpoint secrets at rest and their rotation: stored encrypted (the data migration
encrypts the rows written before), and after a rotation requests carry two signatures (new
and previous secret, space-separated, as Standard Webhooks allows) until the grace period
ends; rotation from the web (operator and partner admins) and the API."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.test import Client
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from ispbill.accounts.models import User
from ispbill.core.crypto import token_decrypt
from ispbill.events.models import WebhookEndpoint
from ispbill.events.services import (
    NewEvent,
    deliveries_send_due,
    endpoint_create,
    endpoint_secret_rotate,
    events_write,
)
from tests.api.conftest import Seed, assert_error
from tests.events.conftest import Receiver

pytestmark = pytest.mark.django_db

migration = importlib.import_module("ispbill.events.migrations.0002_endpoint_secrets_encrypted")


def _send(seed: Seed, receiver: Receiver) -> dict[str, str]:
    events_write([NewEvent("customer.blocked", seed.home.pk, "customer", seed.alice.pk)])
    before = len(receiver.requests)
    deliveries_send_due()
    assert len(receiver.requests) == before + 1
    return receiver.requests[-1].headers


def test_rotation_signs_with_both_secrets_during_the_grace_period(seed: Seed, receiver: Receiver):
    endpoint = endpoint_create(partner_id=None, url=receiver.url())
    old = endpoint.new_secret
    new = endpoint_secret_rotate(endpoint, grace_hours=24)
    assert new.startswith("whsec_") and new != old
    endpoint.refresh_from_db()
    assert old not in endpoint.previous_secret and token_decrypt(endpoint.previous_secret) == old
    headers = _send(seed, receiver)
    signatures = headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    body = receiver.requests[-1].body
    # A receiver still on the old secret and one already on the new both verify.
    Webhook(new).verify(body, headers)
    Webhook(old).verify(body, headers)

    # The grace period over: only the new secret signs.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    headers = _send(seed, receiver)
    assert len(headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(receiver.requests[-1].body, headers)
    with pytest.raises(Exception):  # noqa: B017 (WebhookVerificationError)
        Webhook(old).verify(receiver.requests[-1].body, headers)


def test_rotation_without_grace_and_bad_grace(seed: Seed, receiver: Receiver):
    endpoint = endpoint_create(partner_id=None, url=receiver.url())
    new = endpoint_secret_rotate(endpoint, grace_hours=0)
    headers = _send(seed, receiver)
    assert len(headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(receiver.requests[-1].body, headers)
    with pytest.raises(Exception, match="grace_hours"):
        endpoint_secret_rotate(endpoint, grace_hours=169)
    endpoint.refresh_from_db()
    assert endpoint.signing_secret() == new  # nothing changed by the refusal


def test_data_migration_encrypts_plain_secrets(seed: Seed):
    endpoint = endpoint_create(partner_id=None, url="https://example.org/hook")
    plain = endpoint.new_secret
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=plain)  # as before 0002
    migration._encrypt(django_apps, None)
    stored = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert stored.secret != plain and stored.signing_secret() == plain
    migration._encrypt(django_apps, None)  # twice: an encrypted row is left alone
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).signing_secret() == plain
    migration._decrypt(django_apps, None)
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == plain


def test_api_rotation(seed: Seed, receiver: Receiver):
    created = seed.citynet_admin.post("/webhook-endpoints", {"url": receiver.url()}).body
    r = seed.citynet_admin.post(
        f"/webhook-endpoints/{created['id']}/rotate-secret", {"grace_hours": 48}
    )
    assert r.status == 200, r.body
    assert r.body["secret"].startswith("whsec_") and r.body["secret"] != created["secret"]
    until = r.body["previous_secret_expires_at"]
    assert until is not None
    read = seed.citynet_admin.get(f"/webhook-endpoints/{created['id']}").body
    assert "secret" not in read and read["previous_secret_expires_at"] == until
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    assert endpoint.signing_secrets(timezone.now()) == [r.body["secret"], created["secret"]]
    bad = seed.citynet_admin.post(
        f"/webhook-endpoints/{created['id']}/rotate-secret", {"grace_hours": -1}
    )
    assert bad.status == 422
    # Another partner's endpoint: not found; a role without webhooks: refused.
    assert_error(
        seed.ownnet_admin.post(f"/webhook-endpoints/{created['id']}/rotate-secret", {}), 404
    )
    assert seed.support.post(f"/webhook-endpoints/{created['id']}/rotate-secret", {}).status == 403
    assert WebhookEndpoint.objects.get(pk=created["id"]).signing_secret() == r.body["secret"]


@pytest.mark.parametrize(("username", "partner"), [("root", None), ("own", "ownnet")])
def test_web_rotation(seed: Seed, username: str, partner: str | None, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    owner = getattr(seed, partner).pk if partner else None
    endpoint = endpoint_create(partner_id=owner, url="https://example.org/hook")
    old = endpoint.new_secret
    c = Client()
    c.force_login(User.objects.get(username=username))
    url = f"/settings/webhooks/{endpoint.pk}/rotate/"
    r = c.post(url, {"grace_hours": "500"})
    assert r.status_code == 200 and "less than or equal to 168" in r.content.decode()
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).signing_secret() == old
    r = c.post(url, {"grace_hours": "24"})
    assert r.status_code == 200
    new = WebhookEndpoint.objects.get(pk=endpoint.pk).signing_secret()
    text = r.content.decode()
    assert new != old and new in text and "two signatures" in text
    assert new not in c.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()
    # Someone else's endpoint: a partner admin cannot rotate the operator's.
    other = endpoint_create(partner_id=None if partner else seed.ownnet.pk, url="https://x.org/h")
    r = c.post(f"/settings/webhooks/{other.pk}/rotate/", {"grace_hours": "24"})
    if partner:
        assert r.status_code == 404
        assert WebhookEndpoint.objects.get(pk=other.pk).signing_secret() == other.new_secret
