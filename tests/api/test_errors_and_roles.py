"""The error format on every kind of failure, and the same roles and scopes as the UI."""

from __future__ import annotations

import pytest
from django.test import Client

from ispbill.customers.models import Customer
from tests.api.conftest import Billed, Seed, assert_error

pytestmark = pytest.mark.django_db


def test_unauthenticated_and_bad_tokens_are_401_json(seed: Seed) -> None:
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer ispb_nope_nope"}):
        response = Client(**headers).get("/api/v1/customers")
        assert response.status_code == 401
        body = response.json()
        assert body["code"] == "not_authenticated" and body["fields"] == {}


def test_malformed_json_and_wrong_types(seed: Seed) -> None:
    response = seed.admin.client.post(
        "/api/v1/customers", "{not json", content_type="application/json"
    )
    assert response.status_code in (400, 422)
    assert set(response.json()) == {"detail", "code", "fields"}
    body = assert_error(seed.admin.post("/customers", {"reference": 5, "name": ["x"]}), 422)
    assert {"reference", "name"} <= set(body["fields"])
    body = assert_error(seed.admin.get("/invoices", limit=0), 422)
    assert "limit" in body["fields"]
    assert_error(seed.admin.get("/invoices", limit=201), 422)
    assert_error(seed.admin.get("/invoices", sort="password"), 422)
    assert_error(seed.admin.get("/invoices", issued_from="2026-13-01"), 422)
    assert_error(seed.admin.post("/customers", {"reference": "R\x00", "name": "N"}), 422)


def test_money_is_never_a_float(billed: Billed) -> None:
    raw = billed.seed.admin.get(f"/invoices/{billed.alice_invoices[0]}").raw.decode()
    assert '"total": {"amount": "35.70", "currency": "EUR"}' in raw
    assert "35.7," not in raw and "35.7}" not in raw
    answer = billed.seed.admin.post(
        "/payments", {"customer_id": billed.seed.alice.pk, "amount": 35.7, "currency": "EUR"}
    )
    assert_error(answer, 422)


@pytest.mark.parametrize(
    ("who", "method", "path", "status"),
    [
        ("support", "POST", "/payments", 403),  # support: finance read-only
        ("support", "GET", "/invoices", 200),
        ("support", "POST", "/customers", 422),  # may write customers: reaches validation
        ("accountant", "POST", "/customers", 403),
        ("accountant", "GET", "/partners", 200),
        ("citynet_admin", "GET", "/partners", 403),
        ("citynet_admin", "POST", "/billing-runs", 403),  # percentage partners run no billing
        ("citynet_admin", "GET", "/commission-statements", 200),
        ("ownnet_admin", "GET", "/commission-statements", 403),
        ("ownnet_admin", "POST", "/tariffs", 422),  # own-invoicing partners have a catalog
        ("portal", "GET", "/customers", 403),
        ("portal", "GET", "/invoices", 403),
        ("portal", "GET", "/tokens", 403),  # customers use the portal, not the API
    ],
)
def test_roles_match_the_ui(seed: Seed, who: str, method: str, path: str, status: int) -> None:
    api = getattr(seed, who)
    answer = api.get(path) if method == "GET" else api.post(path, {})
    assert answer.status == status, (who, method, path, answer.body)
    if status >= 400:
        assert_error(answer, status)


def test_foreign_ids_answer_like_missing_ones(billed: Billed) -> None:
    city = billed.seed.citynet_admin
    for path in (
        f"/customers/{billed.seed.alice.pk}",
        f"/customers/{billed.seed.olga.pk}/balance",
        f"/invoices/{billed.olga_invoices[0]}",
        f"/invoices/{billed.olga_invoices[0]}/pdf",
        "/customers/987654321",
    ):
        assert_error(city.get(path), 404, "not_found")
    # A foreign id with an invalid body is still a 404 (checked before the body).
    own = billed.seed.ownnet_admin
    assert_error(own.post(f"/invoices/{billed.alice_invoices[0]}/send", {"to": 5}), 404)
    # Foreign ids in a body are refused like unknown ones, and nothing is created.
    before = Customer.objects.count()
    answer = city.post(
        "/services",
        {
            "customer_id": billed.seed.olga.pk,
            "tariff_id": billed.seed.fiber.pk,
            "start_date": "2026-03-01",
        },
    )
    assert_error(answer, 422)
    assert Customer.objects.count() == before


def test_a_customer_portal_token_reaches_nothing_of_others(billed: Billed) -> None:
    portal = billed.seed.portal
    assert portal.get("/me").body["customer_id"] == billed.seed.bob.pk
    assert_error(portal.get(f"/invoices/{billed.bob_invoices[0]}"), 403)
    assert_error(portal.get(f"/customers/{billed.seed.alice.pk}"), 403)
