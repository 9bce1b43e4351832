"""The plan-change operations: preview, change (today or scheduled), list, read, cancel."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine

from ispbill.billing.models import Charge, PlanChange
from ispbill.billing.run import billing_run_start
from ispbill.catalog.models import Tariff
from ispbill.invoicing.models import CreditNote
from ispbill.subscriptions.models import Service
from tests.api.conftest import Seed, assert_error


@pytest.fixture
def alice_service(seed: Seed) -> tuple[Service, Tariff]:
    """Alice on Fiber 100 (30.00) since 1 March, March invoiced; Fiber 250 at 45.00."""
    s = Service.objects.create(
        partner=seed.home, customer=seed.alice, tariff=seed.fiber, start_date=date(2026, 3, 1)
    )
    billing_run_start(run_date=date(2026, 3, 1))
    fast = Tariff.objects.create(
        partner=seed.home, name="Fiber 250", price_minor=4500, tax_rate=seed.vat
    )
    return s, fast


@time_machine.travel(date(2026, 3, 17), tick=False)
def test_preview_then_change_today(seed: Seed, alice_service) -> None:
    s, fast = alice_service
    tariffs = seed.admin.get(f"/services/{s.pk}/plan-change/tariffs")
    assert tariffs.status == 200
    assert [(t["name"], t["price"]["amount"]) for t in tariffs.body] == [("Fiber 250", "45.00")]

    charges = Charge.objects.count()
    preview = seed.admin.post(
        f"/services/{s.pk}/plan-change/preview", {"tariff_id": fast.pk, "effective": "today"}
    )
    assert preview.status == 200, preview.body
    # 30.00 x 15 / 31 = 14.52 given back (+ 2.76 VAT by credit note); 45.00 x 15 / 31 = 21.77.
    assert [
        (x["kind"], x["period_start"], x["amount"]["amount"], x["settled_by"])
        for x in preview.body["lines"]
    ] == [
        ("credit", "2026-03-17", "-14.52", "credit note"),
        ("charge", "2026-03-17", "21.77", "next invoice"),
    ]
    assert [(d["kind"], d["total"]["amount"]) for d in preview.body["documents"]] == [
        ("credit note", "17.28")
    ]
    assert (preview.body["new_price"]["amount"], preview.body["new_period_months"]) == ("45.00", 1)
    assert Charge.objects.count() == charges and not PlanChange.objects.exists()

    done = seed.admin.post(f"/services/{s.pk}/plan-changes", {"tariff_id": fast.pk})
    assert done.status == 201, done.body
    assert done.body["status"] == "applied"
    assert done.body["outcome"]["lines"] == preview.body["lines"]
    assert CreditNote.objects.get(customer=seed.alice).total_minor == 1728
    listed = seed.admin.get("/plan-changes", service_id=s.pk)
    assert [c["id"] for c in listed.body["items"]] == [done.body["id"]]
    read = seed.admin.get(f"/plan-changes/{done.body['id']}")
    assert read.body["outcome"]["credited"]["amount"] == "14.52"


@time_machine.travel(date(2026, 3, 20), tick=False)
def test_scheduled_for_the_next_billing_date_and_cancelled(seed: Seed, alice_service) -> None:
    s, fast = alice_service
    made = seed.support.post(
        f"/services/{s.pk}/plan-changes", {"tariff_id": fast.pk, "effective": "next_billing_date"}
    )
    assert made.status == 201, made.body
    assert (made.body["status"], made.body["effective_date"], made.body["outcome"]) == (
        "scheduled",
        "2026-04-01",
        None,
    )
    assert_error(
        seed.admin.post(f"/services/{s.pk}/plan-changes", {"tariff_id": fast.pk}), 422, "invalid"
    )
    scheduled = seed.admin.get("/plan-changes", status="scheduled")
    assert [c["id"] for c in scheduled.body["items"]] == [made.body["id"]]
    cancelled = seed.support.post(f"/plan-changes/{made.body['id']}/cancel")
    assert cancelled.status == 200 and cancelled.body["status"] == "cancelled"
    assert cancelled.body["cancelled_by"] == "sup"
    assert_error(seed.admin.post(f"/plan-changes/{made.body['id']}/cancel"), 422)


@time_machine.travel(date(2026, 3, 20), tick=False)
def test_bad_input_is_refused_and_nothing_is_written(seed: Seed, alice_service) -> None:
    s, fast = alice_service
    path = f"/services/{s.pk}/plan-changes"
    body = assert_error(seed.admin.post(path, {"tariff_id": seed.own_tariff.pk}), 422)
    assert "tariff_id" in body["fields"]
    body = assert_error(
        seed.admin.post(path, {"tariff_id": fast.pk, "effective": "2026-03-19"}), 422
    )
    assert "effective" in body["fields"]
    assert_error(seed.admin.post(path, {"tariff_id": fast.pk, "effective": "someday"}), 422)
    assert_error(seed.accountant.post(path, {"tariff_id": fast.pk}), 403)
    # Another partner's service is no service of its.
    assert_error(seed.citynet_admin.post(path, {"tariff_id": fast.pk}), 404)
    assert_error(
        seed.citynet_admin.post(f"/services/{s.pk}/plan-change/preview", {"tariff_id": fast.pk}),
        404,
    )
    assert not PlanChange.objects.exists()


@time_machine.travel(date(2026, 3, 20), tick=False)
def test_a_partner_changes_its_customers_plan_among_the_tariffs_it_sells(seed: Seed) -> None:
    s = Service.objects.create(
        partner=seed.citynet, customer=seed.bob, tariff=seed.fiber, start_date=date(2026, 3, 1)
    )
    not_sold = Tariff.objects.create(
        partner=seed.home, name="Fiber 500", price_minor=6000, tax_rate=seed.vat
    )
    sold = Tariff.objects.create(
        partner=seed.home, name="Fiber 250", price_minor=4500, tax_rate=seed.vat
    )
    sold.available_to.add(seed.citynet)
    offered = seed.citynet_admin.get(f"/services/{s.pk}/plan-change/tariffs")
    assert [t["name"] for t in offered.body] == ["Fiber 250"]
    path = f"/services/{s.pk}/plan-changes"
    assert_error(seed.citynet_admin.post(path, {"tariff_id": not_sold.pk}), 422)
    made = seed.citynet_admin.post(path, {"tariff_id": sold.pk, "effective": "2026-04-10"})
    assert made.status == 201 and made.body["status"] == "scheduled"
    # The operator sees it; the partner of another customer does not.
    assert seed.admin.get(f"/plan-changes/{made.body['id']}").status == 200
    assert_error(seed.ownnet_admin.get(f"/plan-changes/{made.body['id']}"), 404)
    assert seed.ownnet_admin.get("/plan-changes").body["items"] == []


def test_issuer_fees_and_rules_through_the_partner_api(seed: Seed) -> None:
    path = f"/partners/{seed.home.pk}"
    refused = assert_error(seed.admin.patch(path, {"fee_upgrade": "9.90"}), 422)
    assert "fee_tax_rate" in refused["fields"]
    answer = seed.admin.patch(
        path,
        {
            "fee_upgrade": "9.90",
            "fee_late_payment": "5.00",
            "fee_tax_rate_id": seed.vat.pk,
            "late_fee_days": 10,
            "plan_change_invoicing": "at_once",
            "portal_plan_change": True,
        },
    )
    assert answer.status == 200, answer.body
    assert (answer.body["fee_upgrade"], answer.body["fee_late_payment"]["amount"]) == (
        {"amount": "9.90", "currency": "EUR"},
        "5.00",
    )
    assert (answer.body["plan_change_invoicing"], answer.body["portal_plan_change"]) == (
        "at_once",
        True,
    )
    other_rate = assert_error(
        seed.admin.patch(f"/partners/{seed.ownnet.pk}", {"fee_tax_rate_id": seed.vat.pk}), 422
    )
    assert "fee_tax_rate" in other_rate["fields"] or "fee_tax_rate_id" in other_rate["fields"]
    tariff = seed.admin.patch(f"/tariffs/{seed.fiber.pk}", {"customer_selectable": True})
    assert tariff.status == 200 and tariff.body["customer_selectable"] is True
