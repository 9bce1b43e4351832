"""The Webhooks page, each form posted by every role that sees it: the operator's admin
(its endpoints receive every partner's events) and partners' admins (their own); the other
roles do not see it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from ispbill.accounts.models import User
from ispbill.events.models import Delivery, Event, WebhookEndpoint
from ispbill.events.services import NewEvent, events_write
from tests.api.conftest import Seed
from tests.events.conftest import Receiver

pytestmark = pytest.mark.django_db

URL = "/settings/webhooks/"


def _login(username: str) -> Client:
    c = Client()
    c.force_login(User.objects.get(username=username))
    return c


def _endpoint_flow(c: Client, receiver: Receiver, partner_id: int | None) -> WebhookEndpoint:
    page = c.get(URL)
    assert page.status_code == 200 and "Add an endpoint" in page.content.decode()
    # A bad URL or event type is a form error; nothing is created.
    r = c.post(URL, {"url": "ftp://example.org/x", "event_types": ["invoice.issued"]})
    assert r.status_code == 200 and not WebhookEndpoint.objects.filter(partner_id=partner_id)
    r = c.post(URL, {"url": receiver.url(), "description": "CRM", "event_types": []})
    assert r.status_code == 200
    endpoint = WebhookEndpoint.objects.get(partner_id=partner_id)
    text = r.content.decode()
    assert endpoint.signing_secret() in text  # shown once, on the answer to the creation
    assert endpoint.signing_secret() not in c.get(URL).content.decode()
    detail = f"{URL}{endpoint.pk}/"
    assert endpoint.signing_secret() not in c.get(detail).content.decode()
    r = c.post(
        detail,
        {"url": receiver.url("/v2"), "description": "CRM 2", "event_types": ["customer.blocked"]},
    )
    assert r.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.url.endswith("/v2") and endpoint.event_types == ["customer.blocked"]
    assert not endpoint.enabled  # "enabled" unticked
    return endpoint


def test_operator_admin_manages_endpoints_and_replays(seed: Seed, receiver: Receiver):
    root = _login("root")
    endpoint = _endpoint_flow(root, receiver, None)
    root.post(
        f"{URL}{endpoint.pk}/",
        {"url": endpoint.url, "enabled": "on", "event_types": ["customer.blocked"]},
    )
    events_write([NewEvent("customer.blocked", seed.citynet.pk, "customer", seed.bob.pk)])
    delivery = Delivery.objects.get(endpoint=endpoint)
    page = root.get(f"{URL}{endpoint.pk}/").content.decode()
    assert "Replay" in page and delivery.event.uid in page
    r = root.post(f"{URL}deliveries/{delivery.pk}/replay/")
    assert r.status_code == 302
    assert Event.objects.count() == 1
    assert root.post(f"{URL}{endpoint.pk}/delete/").status_code == 302
    assert not WebhookEndpoint.objects.exists() and not Delivery.objects.exists()


@pytest.mark.parametrize(("username", "partner"), [("city", "citynet"), ("own", "ownnet")])
def test_partner_admin_manages_its_own_endpoints(
    seed: Seed, receiver: Receiver, username: str, partner: str
):
    mine = getattr(seed, partner)
    other = WebhookEndpoint.objects.create(
        partner=seed.ownnet if partner == "citynet" else seed.citynet,
        url="https://other.example/hook",
        secret="whsec_x",
    )
    c = _login(username)
    endpoint = _endpoint_flow(c, receiver, mine.pk)
    # The other partner's endpoint: neither listed nor reachable.
    assert other.url not in c.get(URL).content.decode()
    assert c.get(f"{URL}{other.pk}/").status_code == 404
    assert c.post(f"{URL}{other.pk}/delete/").status_code == 404
    c.post(f"{URL}{endpoint.pk}/", {"url": endpoint.url, "enabled": "on"})
    events_write([NewEvent("customer.blocked", mine.pk, "customer", 1)])
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.event.uid in c.get(f"{URL}{endpoint.pk}/").content.decode()
    assert c.post(f"{URL}deliveries/{delivery.pk}/replay/").status_code == 302
    assert c.post(f"{URL}{endpoint.pk}/delete/").status_code == 302
    assert WebhookEndpoint.objects.filter(pk=other.pk).exists()
    assert not Delivery.objects.filter(endpoint=other).exists()  # another partner's event


@pytest.mark.parametrize("username", ["acc", "sup", "bobby"])
def test_other_roles_do_not_see_webhooks(seed: Seed, username: str, settings: Any):
    c = _login(username)
    assert c.get(URL).status_code in (302, 403)
    assert c.post(URL, {"url": "https://example.org/"}).status_code in (302, 403)
    assert not WebhookEndpoint.objects.exists()
