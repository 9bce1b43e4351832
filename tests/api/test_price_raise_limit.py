"""A price raise that would put an existing service's line over the limit is refused
(docs/security.md, "Input limits"): a line is unit price × quantity, at most 10^12 minor
units (10,000,000,000.00 EUR). With a service of quantity 1,000 on a tariff, the largest
price is 10^12 / 1,000 = 10^9 minor units, 10,000,000.00 EUR; one cent more is refused
with a 422 naming ``price``, nothing written (no price change, no audit event)."""

from __future__ import annotations

from datetime import date

import pytest

from ispbill.catalog.models import PartnerPrice, Tariff
from ispbill.catalog.services import partner_price_set, tariff_update
from ispbill.core.errors import DomainValidationError
from ispbill.core.models import AuditEvent
from ispbill.customers.models import Customer
from ispbill.partners.models import Partner, PartnerMode
from ispbill.subscriptions.models import Service

from .conftest import Seed, assert_error

pytestmark = pytest.mark.django_db

AT_LIMIT = "10000000.00"  # 1,000,000,000 minor units x 1,000 = 10^12: the largest line
OVER = "10000000.01"  # 1,000,000,001 x 1,000 = 10^12 + 1,000: over


def _service(customer: Customer, tariff: Tariff, quantity: int) -> Service:
    return Service.objects.create(
        partner=customer.partner,
        customer=customer,
        tariff=tariff,
        quantity=quantity,
        start_date=date(2026, 1, 1),
    )


def _state() -> tuple[list[object], list[object], int]:
    return (
        list(Tariff.objects.order_by("pk").values_list("pk", "price_minor")),
        list(PartnerPrice.objects.order_by("pk").values_list("pk", "price_minor")),
        AuditEvent.objects.count(),
    )


def test_tariff_raise_past_the_largest_quantity_is_refused(seed: Seed):
    _service(seed.alice, seed.fiber, 1)
    _service(seed.bob, seed.fiber, 1000)  # the largest quantity on Fiber 100
    before = _state()
    body = assert_error(seed.admin.patch(f"/tariffs/{seed.fiber.pk}", {"price": OVER}), 422)
    assert list(body["fields"]) == ["price"]
    assert "quantity 1,000" in body["fields"]["price"]
    assert "10,000,000,000.00 EUR" in body["fields"]["price"]
    assert _state() == before
    ok = seed.admin.patch(f"/tariffs/{seed.fiber.pk}", {"price": AT_LIMIT})
    assert ok.status == 200 and ok.body["price"]["amount"] == "10000000.00"
    # Lowering is always allowed.
    assert seed.admin.patch(f"/tariffs/{seed.fiber.pk}", {"price": "30.00"}).status == 200


def test_a_service_with_its_own_price_still_counts(seed: Seed):
    """Wholesale lines price a sub-customer's service from the tariff whatever its
    override, so every service on the tariff counts."""
    s = _service(seed.alice, seed.fiber, 1000)
    Service.objects.filter(pk=s.pk).update(price_override_minor=100)
    assert_error(seed.admin.patch(f"/tariffs/{seed.fiber.pk}", {"price": OVER}), 422)


def test_a_tariff_without_services_takes_any_price_up_to_the_amount_limit(seed: Seed):
    ok = seed.admin.patch(f"/tariffs/{seed.fiber.pk}", {"price": "10000000000.00"})
    assert ok.status == 200


def test_the_service_refuses_it_too(seed: Seed):
    _service(seed.alice, seed.fiber, 1000)
    with pytest.raises(DomainValidationError) as exc:
        tariff_update(tariff=seed.fiber, price_minor=1_000_000_001)
    assert exc.value.code == "line_limit" and list(exc.value.fields) == ["price"]
    seed.fiber.refresh_from_db()
    assert seed.fiber.price_minor == 3000


def test_partner_price_raise_past_the_partners_largest_quantity_is_refused(seed: Seed):
    wisp = Partner.objects.create(name="WISP", mode=PartnerMode.AGGREGATED)
    sub = Customer.objects.create(partner=wisp, reference="W-1", name="Sub")
    _service(sub, seed.fiber, 1000)
    _service(seed.alice, seed.fiber, 5000)  # another partner's service: not priced by it
    before = _state()
    payload = {"partner_id": wisp.pk, "tariff_id": seed.fiber.pk, "price": OVER}
    body = assert_error(seed.admin.post("/partner-prices", payload), 422)
    assert list(body["fields"]) == ["price"] and "quantity 1,000" in body["fields"]["price"]
    assert _state() == before
    created = seed.admin.post("/partner-prices", {**payload, "price": "20.00"})
    assert created.status == 201
    price_id = created.body["id"]
    before = _state()
    assert_error(seed.admin.patch(f"/partner-prices/{price_id}", {"price": OVER}), 422)
    assert _state() == before
    ok = seed.admin.patch(f"/partner-prices/{price_id}", {"price": AT_LIMIT})
    assert ok.status == 200
    assert PartnerPrice.objects.get(pk=price_id).price_minor == 1_000_000_000
    with pytest.raises(DomainValidationError):
        partner_price_set(partner=wisp, tariff=seed.fiber, price_minor=1_000_000_001)
