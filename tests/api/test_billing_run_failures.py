"""The billing run resource lists the failures and resumes a stuck run (issue 27)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from ispbill.billing.models import BillingRun
from ispbill.subscriptions.models import OneTimeCharge, Service

from .conftest import Seed, assert_error

pytestmark = pytest.mark.django_db
JAN = date(2026, 1, 1)


def test_run_resource_lists_the_failures(seed: Seed):
    for c, t in ((seed.alice, seed.fiber), (seed.olga, seed.own_tariff)):
        Service.objects.create(partner=c.partner, customer=c, tariff=t, start_date=JAN)
    OneTimeCharge.objects.create(
        partner=seed.ownnet,
        customer=seed.olga,
        description="Hostile",
        quantity=2,
        unit_price_minor=9_223_372_036_854_775_800,
        tax_rate=seed.own_vat,
        charge_date=JAN,
    )
    run = seed.admin.post("/billing-runs", {"run_date": "2026-01-01"})
    assert run.status == 201, run.body
    assert (run.body["status"], run.body["failures_count"], run.body["invoices_issued"]) == (
        "partial",
        1,
        1,
    )
    [failure] = run.body["failures"]
    assert (failure["stage"], failure["customer_id"], failure["customer_reference"]) == (
        "customer",
        seed.olga.pk,
        "O-1",
    )
    read = seed.admin.get(f"/billing-runs/{run.body['id']}").body
    assert read["failures"] == run.body["failures"]
    listed = seed.admin.get("/billing-runs?status=partial").body
    assert [r["id"] for r in listed["items"]] == [run.body["id"]]


def test_a_stuck_run_is_resumed(seed: Seed):
    Service.objects.create(
        partner=seed.home, customer=seed.alice, tariff=seed.fiber, start_date=JAN
    )
    stuck = BillingRun.objects.create(run_date=JAN)
    BillingRun.objects.filter(pk=stuck.pk).update(started_at=timezone.now() - timedelta(hours=3))
    assert seed.admin.get(f"/billing-runs/{stuck.pk}").body["stuck"] is True
    new = seed.admin.post(f"/billing-runs/{stuck.pk}/resume", {})
    assert new.status == 200, new.body
    assert (new.body["status"], new.body["invoices_issued"]) == ("done", 1)
    assert BillingRun.objects.get(pk=stuck.pk).status == "failed"
    assert_error(seed.admin.post(f"/billing-runs/{stuck.pk}/resume", {}), 409)
    assert_error(seed.support.post(f"/billing-runs/{stuck.pk}/resume", {}), 403)
