"""Tenant isolation over every route, present and future (docs/security.md).

Routes come from the URL resolver (API operations included), so a route added later is
tested without editing this file; a route whose keyword arguments are unknown fails until
it is registered in tests/security/world.py."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from ispbill.accounts.permissions import capabilities_for
from ispbill.partners.models import PartnerMode
from tests.security.routes import PUBLIC_ROUTES, Route, all_routes, protected_routes
from tests.security.world import (
    LEAK_A2,
    LEAK_B,
    World,
    build_world,
    database_fingerprint,
    object_for_kwarg,
)

pytestmark = pytest.mark.django_db

ROUTES = protected_routes()
OBJECT_ROUTES = [r for r in ROUTES if r.kwargs]
CAPABILITY_ROUTES = [r for r in ROUTES if r.capabilities]
MISSING_ID = 987654321


@pytest.fixture
def world() -> World:
    return build_world()


def _url(world: World, route: Route, owner: str, *, missing: bool = False) -> str:
    kwargs = {}
    for name in route.kwargs:
        value = object_for_kwarg(world, route.name, name, owner)
        kwargs[name] = MISSING_ID if missing and isinstance(value, int) else value
    return reverse(route.name, kwargs=kwargs)


def _call(client: Client, method: str, url: str, *, api: bool):
    if method == "GET":
        return client.get(url)
    payload = {} if not api else "{}"
    kw = {"content_type": "application/json"} if api else {}
    return getattr(client, method.lower())(url, payload, **kw)


def _signed_in(world: World, role: str) -> Client:
    client = Client()
    client.force_login(world.users[role])
    return client


def test_routes_are_found():
    names = {r.name for r in all_routes()}
    assert {"web:home", "web:audit_log", "api:me", "login"} <= names
    assert names >= PUBLIC_ROUTES, "a public route was renamed: update PUBLIC_ROUTES"


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_anonymous_is_refused(world, route):
    """Anything but the public routes: a redirect to sign-in, or 401 from the API."""
    url = _url(world, route, "B")
    before = database_fingerprint()
    answers = {}
    for method in route.methods:
        response = _call(Client(), method, url, api=route.is_api)
        answers[method] = response.status_code
        assert LEAK_B.encode() not in response.content
        if response.status_code == 302:
            assert response["Location"].startswith(reverse(settings.LOGIN_URL)), (method, url)
        else:
            assert response.status_code in (401, 405), (method, url, response.status_code)
    assert set(answers.values()) != {405}, f"{url} answered nothing but 405"
    assert database_fingerprint() == before


def _assert_no_oracle(world: World, client: Client, route: Route, target: str, leak: str):
    foreign = _url(world, route, target)
    missing = _url(world, route, target, missing=True)
    before = database_fingerprint()
    for method in route.methods:
        response = _call(client, method, foreign, api=route.is_api)
        assert response.status_code in (403, 404, 405), (method, foreign, response.status_code)
        assert leak.encode() not in response.content, (method, foreign)
        # A foreign id answers exactly as an id that does not exist: no existence oracle.
        absent = _call(client, method, missing, api=route.is_api)
        assert response.status_code == absent.status_code, (method, foreign)
        if response.status_code == 403:
            # Refused for the role, whatever the id: allowed only for a declared capability.
            assert route.capabilities, f"{method} {foreign}: 403 without a capability"
    assert database_fingerprint() == before, f"{route.name} changed the database"


@pytest.mark.parametrize("role", ["A_admin", "A_staff"])
@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=str)
def test_partner_user_gets_404_for_other_partners_objects(world, route, role):
    _assert_no_oracle(world, _signed_in(world, role), route, "B", LEAK_B)


@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=str)
def test_customer_gets_404_for_other_customers_objects(world, route):
    client = _signed_in(world, "A1_customer")
    _assert_no_oracle(world, client, route, "A2", LEAK_A2)
    _assert_no_oracle(world, client, route, "B", LEAK_B)


@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=str)
def test_other_partner_with_an_api_token_gets_404(world, route):
    if not route.is_api:
        pytest.skip("web route")
    from ispbill.accounts.services import api_token_create

    _token, plaintext = api_token_create(user=world.users["A_admin"], name="iso")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    # The token's first use records last_used_at; use it once before fingerprinting.
    assert client.get(reverse("api:me")).status_code == 200
    _assert_no_oracle(world, client, route, "B", LEAK_B)


ROLES = [
    ("admin", None),
    ("accountant", None),
    ("support", None),
    ("A_admin", PartnerMode.OWN_INVOICING),
    ("A_staff", PartnerMode.OWN_INVOICING),
    ("A1_customer", PartnerMode.OWN_INVOICING),
]


@pytest.mark.parametrize(("role", "mode"), ROLES)
@pytest.mark.parametrize("route", CAPABILITY_ROUTES, ids=str)
def test_role_without_the_capability_is_refused(world, route, role, mode):
    """With its own objects, a role lacking the route's capability gets 403; nothing changes."""
    user = world.users[role]
    caps = capabilities_for(user.role, mode)
    if all(cap in caps for cap in route.capabilities):
        pytest.skip("role has the capability")
    url = _url(world, route, "A")
    client = _signed_in(world, role)
    before = database_fingerprint()
    for method in route.methods:
        response = _call(client, method, url, api=route.is_api)
        assert response.status_code in (403, 405), (method, url, response.status_code)
    assert database_fingerprint() == before
