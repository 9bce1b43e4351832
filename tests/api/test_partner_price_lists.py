"""A reseller's price list in the API: GET/PUT /partners/{id}/prices and
POST /partners/{id}/tariffs/make-all-available (docs/api.md, "Selling and prices"). The
same services as the web screen; a partner reads only its own list and never another
partner's prices."""

from __future__ import annotations

from typing import Any

import pytest

from ispbill.accounts.models import Role
from ispbill.catalog.models import PartnerPrice, Tariff
from ispbill.core.models import AuditEvent
from ispbill.partners.models import Partner, PartnerMode
from tests.api.conftest import Seed, api_for, assert_error, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def wisp(seed: Seed) -> dict[str, Any]:
    wisp = Partner.objects.create(name="WISP", mode=PartnerMode.AGGREGATED, discount_bp=1000)
    quarterly = Tariff.objects.create(
        partner=seed.home,
        name="Fiber quarterly",
        price_minor=3990,
        period_months=3,
        tax_rate=seed.vat,
    )
    seed.fiber.available_to.add(wisp)
    quarterly.available_to.add(wisp)
    PartnerPrice.objects.create(partner=wisp, tariff=quarterly, price_minor=8700)
    # CityNet's own price of the quarterly tariff: nobody else may see it.
    PartnerPrice.objects.create(partner=seed.citynet, tariff=quarterly, price_minor=1111)
    return {
        "partner": wisp,
        "quarterly": quarterly,
        "admin": api_for(make_user("wisp-admin", Role.PARTNER_ADMIN, partner=wisp)),
        "staff": api_for(make_user("wisp-staff", Role.PARTNER_STAFF, partner=wisp)),
    }


def _items(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["tariff_name"]: i for i in body["items"]}


def test_the_operator_reads_every_operator_tariff(seed: Seed, wisp: dict[str, Any]) -> None:
    r = seed.admin.get(f"/partners/{wisp['partner'].pk}/prices")
    assert r.status == 200, r.body
    assert r.body["wholesale"] is True and r.body["discount_bp"] == 1000
    items = _items(r.body)
    # Fiber 100: 30.00 less 10 % = 27.00; the quarterly tariff: its partner price 87.00.
    assert items["Fiber 100"]["price"] == {"amount": "27.00", "currency": "EUR"}
    assert items["Fiber 100"]["partner_price"] is None
    assert items["Fiber 100"]["source"] == "discount"
    assert items["Fiber quarterly"]["price"]["amount"] == "87.00"
    assert items["Fiber quarterly"]["retail"]["amount"] == "39.90"
    assert items["Fiber quarterly"]["source"] == "partner_price"
    assert set(items) == {"Fiber 100", "Fiber quarterly"}  # no own-invoicing partner's tariff
    for api in (seed.accountant, seed.support):
        assert api.get(f"/partners/{wisp['partner'].pk}/prices").status == 200


def test_a_partner_reads_its_own_prices_only(seed: Seed, wisp: dict[str, Any]) -> None:
    seed.fiber.available_to.remove(wisp["partner"])
    for api in (wisp["admin"], wisp["staff"]):
        r = api.get(f"/partners/{wisp['partner'].pk}/prices")
        assert r.status == 200, r.body
        # Only what it may sell, at its own price; never CityNet's 11.11.
        assert [(i["tariff_name"], i["price"]["amount"]) for i in r.body["items"]] == [
            ("Fiber quarterly", "87.00")
        ]
        assert b"11.11" not in r.raw
        assert api.get(f"/partners/{seed.citynet.pk}/prices").status == 404
        assert api.get(f"/partners/{seed.home.pk}/prices").status == 404
    r = seed.citynet_admin.get(f"/partners/{wisp['partner'].pk}/prices")
    assert r.status == 404 and b"87.00" not in r.raw
    assert seed.portal.get(f"/partners/{seed.citynet.pk}/prices").status in (403, 404)


def test_the_operator_sets_a_price_list(seed: Seed, wisp: dict[str, Any]) -> None:
    partner, quarterly = wisp["partner"], wisp["quarterly"]
    body = {
        "items": [
            {"tariff_id": seed.fiber.pk, "available": True, "price": "21.50"},
            {"tariff_id": quarterly.pk, "available": False, "price": None},
        ]
    }
    r = seed.admin.call("PUT", f"/partners/{partner.pk}/prices", body)
    assert r.status == 200, r.body
    items = _items(r.body)
    assert (items["Fiber 100"]["available"], items["Fiber 100"]["price"]["amount"]) == (
        True,
        "21.50",
    )
    # No partner price any more: 39.90 less 10 % = 35.91.
    assert items["Fiber quarterly"]["available"] is False
    assert items["Fiber quarterly"]["price"]["amount"] == "35.91"
    assert dict(
        PartnerPrice.objects.filter(partner=partner).values_list("tariff_id", "price_minor")
    ) == {seed.fiber.pk: 2150}
    assert list(partner.available_tariffs.values_list("pk", flat=True)) == [seed.fiber.pk]
    assert AuditEvent.objects.filter(action="partner.tariffs_available").exists()
    assert PartnerPrice.objects.get(partner=seed.citynet).price_minor == 1111


@pytest.mark.parametrize(
    "item",
    [
        {"price": "1.234"},  # too many decimals
        {"price": "-1.00"},
        {"price": "abc"},
    ],
)
def test_a_bad_price_list_changes_nothing(seed: Seed, wisp: dict[str, Any], item: dict) -> None:
    before = list(PartnerPrice.objects.order_by("pk").values())
    body = {"items": [{"tariff_id": seed.fiber.pk, "available": False, **item}]}
    r = seed.admin.call("PUT", f"/partners/{wisp['partner'].pk}/prices", body)
    assert r.status == 422, r.body
    assert list(PartnerPrice.objects.order_by("pk").values()) == before
    assert seed.fiber.available_to.filter(pk=wisp["partner"].pk).exists()


def test_foreign_tariffs_and_the_operator_are_refused(seed: Seed, wisp: dict[str, Any]) -> None:
    body = {"items": [{"tariff_id": seed.own_tariff.pk, "available": True, "price": None}]}
    r = seed.admin.call("PUT", f"/partners/{wisp['partner'].pk}/prices", body)
    assert f"tariff_{seed.own_tariff.pk}" in assert_error(r, 422)["fields"]
    r = seed.admin.call("PUT", f"/partners/{seed.home.pk}/prices", {"items": []})
    assert_error(r, 422)
    assert_error(seed.admin.get(f"/partners/{seed.home.pk}/prices"), 422)
    assert_error(seed.admin.post(f"/partners/{seed.home.pk}/tariffs/make-all-available"), 422)


def test_only_the_operator_admin_writes(seed: Seed, wisp: dict[str, Any]) -> None:
    partner = wisp["partner"]
    body = {"items": [{"tariff_id": seed.fiber.pk, "available": True, "price": "0.01"}]}
    for api in (seed.accountant, seed.support, wisp["admin"], wisp["staff"], seed.citynet_admin):
        r = api.call("PUT", f"/partners/{partner.pk}/prices", body)
        assert r.status in (403, 404), r.body
        r = api.post(f"/partners/{partner.pk}/tariffs/make-all-available")
        assert r.status in (403, 404), r.body
    assert not PartnerPrice.objects.filter(partner=partner, tariff=seed.fiber).exists()


def test_make_all_available(seed: Seed) -> None:
    fresh = Partner.objects.create(name="Fresh", mode=PartnerMode.PERCENTAGE)
    Tariff.objects.create(
        partner=seed.home, name="Retired", price_minor=100, tax_rate=seed.vat, is_active=False
    )
    r = seed.admin.post(f"/partners/{fresh.pk}/tariffs/make-all-available")
    assert r.status == 200 and r.body == {"made_available": 1}
    assert list(fresh.available_tariffs.values_list("name", flat=True)) == ["Fiber 100"]
    assert seed.admin.post(f"/partners/{fresh.pk}/tariffs/make-all-available").body == {
        "made_available": 0
    }


@pytest.mark.parametrize(
    ("mode", "extra", "expected"),
    [("aggregated", {}, ["Fiber 100"]), ("own_invoicing", {}, [])],
)
def test_a_partner_created_through_the_api_gets_the_default(
    seed: Seed, mode: str, extra: dict, expected: list[str]
) -> None:
    r = seed.admin.post("/partners", {"name": f"New {mode}", "mode": mode, **extra})
    assert r.status == 201, r.body
    partner = Partner.objects.get(pk=r.body["id"])
    assert list(partner.available_tariffs.values_list("name", flat=True)) == expected
