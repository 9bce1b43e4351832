"""Own runs and dunning through the API (issue 19).

Seed: Alice (operator, Fiber 30.00 -> 35.70) and Olga (OwnNet, own invoicing, Own 50 at
20.00 -> 23.80), both from 1 January 2026, due 15 January (14 days). OwnNet is set to run
its own billing here (the seed lets the operator's runs bill it)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import time_machine

from ispbill.billing.models import BillingRun
from ispbill.customers.models import Customer
from ispbill.partners.models import Partner
from ispbill.subscriptions.models import Service

from .conftest import Seed, assert_error

pytestmark = pytest.mark.django_db
JAN = date(2026, 1, 1)


@pytest.fixture
def own(seed: Seed) -> Seed:
    Partner.objects.filter(pk=seed.ownnet.pk).update(runs_own_billing=True)
    for c, t in ((seed.alice, seed.fiber), (seed.olga, seed.own_tariff)):
        Service.objects.create(partner=c.partner, customer=c, tariff=t, start_date=JAN)
    return seed


def _groups(body) -> list[tuple[str, str, int, str]]:
    return [
        (g["issuer"], g["recipient"], g["invoices"], g["total"]["amount"]) for g in body["groups"]
    ]


def test_the_partner_previews_and_runs_its_own_billing(own: Seed):
    operator = own.admin.post("/billing-runs/preview", {"run_date": "2026-01-01"})
    assert operator.status == 200, operator.body
    assert _groups(operator.body) == [("Main", "Own customers", 1, "35.70")]
    assert operator.body["billing_dates"] == [
        {
            "billing_date": "2026-01-01",
            "invoices": 1,
            "totals": [{"amount": "35.70", "currency": "EUR"}],
        }
    ]
    assert operator.body["caught_up"] == 0
    preview = own.ownnet_admin.post("/billing-runs/preview", {"run_date": "2026-01-01"})
    assert _groups(preview.body) == [("OwnNet", "Own customers", 1, "23.80")]
    run = own.ownnet_admin.post("/billing-runs", {"run_date": "2026-01-01"})
    assert run.status == 201, run.body
    assert (run.body["scope_partner_id"], run.body["invoices_issued"]) == (own.ownnet.pk, 1)
    assert _groups(run.body) == [("OwnNet", "Own customers", 1, "23.80")]
    # Its history is its own: the operator's runs are not listed, nor readable.
    op_run = own.admin.post("/billing-runs", {"run_date": "2026-01-01"}).body["id"]
    listed = own.ownnet_admin.get("/billing-runs").body["items"]
    assert [r["id"] for r in listed] == [run.body["id"]]
    assert_error(own.ownnet_admin.get(f"/billing-runs/{op_run}"), 404)
    # A catch-up preview: three billing dates for each, 1 January to 1 March.
    later = own.ownnet_admin.post("/billing-runs/preview", {"run_date": "2026-03-01"})
    assert [d["billing_date"] for d in later.body["billing_dates"]] == [
        "2026-02-01",
        "2026-03-01",
    ]
    assert later.body["caught_up"] == 1


def test_future_dates_and_a_second_start_are_refused(own: Seed):
    tomorrow = (date.today() + timedelta(days=1)).isoformat()  # noqa: DTZ011
    for path in ("/billing-runs/preview", "/billing-runs"):
        answer = own.admin.post(path, {"run_date": tomorrow})
        assert "future" in assert_error(answer, 422)["fields"]["run_date"]
    BillingRun.objects.create(run_date=JAN)  # one going for that date
    busy = own.admin.post("/billing-runs", {"run_date": "2026-01-01"})
    assert "is running already" in assert_error(busy, 409, "billing_run_conflict")["detail"]
    assert BillingRun.objects.count() == 1


def test_dunning_preview_then_run_through_the_api(own: Seed):
    own.admin.post("/billing-runs", {"run_date": "2026-01-01"})
    own.ownnet_admin.post("/billing-runs", {"run_date": "2026-01-01"})
    with time_machine.travel(date(2026, 1, 26)):  # 11 days after 15 January
        preview = own.admin.post("/dunning/preview", {})
        assert preview.status == 200, preview.body
        assert preview.body["dry_run"] is True and preview.body["partner_id"] is None
        assert [c["customer_id"] for c in preview.body["blocked"]] == [own.alice.pk]
        assert preview.body["blocked"][0]["days_late"] == 11
        assert Customer.objects.get(pk=own.alice.pk).status == "active"
        stale = own.admin.post("/dunning/runs", {"fingerprint": "0" * 32})
        assert_error(stale, 409, "dunning_changed")
        assert Customer.objects.get(pk=own.alice.pk).status == "active"
        done = own.admin.post("/dunning/runs", {"fingerprint": preview.body["fingerprint"]})
        assert done.body["dry_run"] is False
        assert [c["customer_id"] for c in done.body["blocked"]] == [own.alice.pk]
        assert Customer.objects.get(pk=own.alice.pk).status == "blocked"
        assert Customer.objects.get(pk=own.olga.pk).status == "active"  # OwnNet's own

        mine = own.ownnet_admin.post("/dunning/preview", {})
        assert [c["customer_id"] for c in mine.body["blocked"]] == [own.olga.pk]
        assert mine.body["partner_id"] == own.ownnet.pk
        assert own.ownnet_admin.post("/dunning/runs", {}).body["blocked"][0]["name"] == "Olga"
        # Only an own-invoicing partner runs its own; others may not run dunning at all.
        assert_error(own.citynet_admin.post("/dunning/preview", {}), 403)
        named = own.admin.post("/dunning/preview", {"partner_id": own.citynet.pk})
        assert "own-invoicing" in assert_error(named, 422)["fields"]["partner_id"]


def test_a_catch_up_run_needs_confirming_with_its_dates(seed: Seed) -> None:
    """A service from January billed up to March 1st: three billing dates (Jan, Feb, Mar),
    each 30.00 + 19 % = 35.70. Unconfirmed, the run is refused with the dates and writes
    nothing; confirmed, it issues the three invoices."""
    api = seed.admin
    created = api.post(
        "/services",
        {"customer_id": seed.alice.pk, "tariff_id": seed.fiber.pk, "start_date": "2026-01-01"},
    )
    assert created.status == 201, created.body
    refused = api.post("/billing-runs", {"run_date": "2026-03-01"})
    assert refused.status == 422, refused.body
    message = str(refused.body)
    assert "confirm_catch_up" in message
    assert "2026-01-01: 1 invoices" in message and "2026-03-01: 1 invoices" in message
    assert api.get("/invoices").body["count"] == 0
    run = api.post("/billing-runs", {"run_date": "2026-03-01", "confirm_catch_up": True})
    assert run.status == 201, run.body
    assert (run.body["status"], run.body["invoices_issued"]) == ("done", 3)
    assert [d["billing_date"] for d in run.body["billing_dates"]] == [
        "2026-01-01",
        "2026-02-01",
        "2026-03-01",
    ]
    assert run.body["totals"] == [{"amount": "107.10", "currency": "EUR"}]
    # One billing date left to bill: no confirmation needed.
    assert api.post("/billing-runs", {"run_date": "2026-04-01"}).status == 201
