"""Ending a service, correcting its start date, terminating a customer through the API
(docs/billing.md "Ending and editing a service"). ``billed``: Fiber 100 (30.00 a month,
billing day 1, prepaid) from 1 Jan 2026, billed on 1 Feb 2026 up to 28 Feb."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine

from ispbill.core.models import AuditEvent
from ispbill.customers.models import Customer
from ispbill.dunning.daily import daily_work
from ispbill.events.models import Event
from ispbill.subscriptions.models import Service
from ispbill.subscriptions.services import services_stop_ended
from tests.api.conftest import Billed, Seed, assert_error

pytestmark = pytest.mark.django_db


def _service(customer: Customer) -> Service:
    return Service.objects.get(customer=customer)


def _money(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


@time_machine.travel(date(2026, 2, 5), tick=False)
def test_ending_in_the_paid_period_shows_what_was_paid_beyond_and_stops_after(billed: Billed):
    seed = billed.seed
    service = _service(seed.alice)
    url = f"/services/{service.pk}/end"
    preview = seed.admin.post(url + "/preview", {"end_date": "2026-02-10"})
    assert preview.status == 200, preview.body
    # 11-28 Feb already charged: 30.00 x 18 / 28 = 19.2857 -> 19.29, not given back.
    assert preview.body["charged_after"] == {
        "start": "2026-02-11",
        "end": "2026-02-28",
        "amount": _money("19.29"),
    }
    assert preview.body["to_charge"] == [] and preview.body["to_charge_total"] == _money("0.00")
    assert preview.body["stops_now"] is False and preview.body["billed"] is True
    service.refresh_from_db()
    assert service.end_date is None  # a preview writes nothing

    done = seed.admin.post(url, {"end_date": "2026-02-10"})
    assert done.status == 200, done.body
    assert done.body["service"]["end_date"] == "2026-02-10"
    assert done.body["service"]["status"] == "active"  # served up to its last day
    assert AuditEvent.objects.filter(action="service.ended", object_id=str(service.pk)).exists()
    # The daily work stops it after its end date: RADIUS rows go, service.stopped is told.
    assert services_stop_ended(today=date(2026, 2, 10)) == []
    with time_machine.travel(date(2026, 2, 11), tick=False):
        assert daily_work(today=date(2026, 2, 11))["services_stopped"] == 1
    service.refresh_from_db()
    assert service.status == "stopped"
    assert Event.objects.filter(type="service.stopped", object_id=str(service.pk)).count() == 1
    # Once stopped, it cannot be ended again.
    assert_error(seed.admin.post(url, {"end_date": "2026-02-12"}), 422, "invalid_end_date")


@time_machine.travel(date(2026, 2, 5), tick=False)
def test_ending_after_the_paid_period_lists_the_last_prorated_charge(billed: Billed):
    seed = billed.seed
    service = _service(seed.alice)
    body = seed.admin.post(f"/services/{service.pk}/end/preview", {"end_date": "2026-03-15"}).body
    # 1-15 March, not charged yet: 30.00 x 15 / 31 = 14.516 -> 14.52 on the next run.
    assert body["to_charge"] == [
        {"start": "2026-03-01", "end": "2026-03-15", "amount": _money("14.52")}
    ]
    assert body["charged_after"] is None


@time_machine.travel(date(2026, 2, 5), tick=False)
def test_ending_today_stops_at_once_and_the_range_is_checked(billed: Billed):
    seed = billed.seed
    service = _service(seed.bob)
    url = f"/services/{service.pk}/end"
    error = assert_error(seed.admin.post(url, {"end_date": "2025-12-31"}), 422)
    assert "2026-01-01" in error["fields"]["end_date"]
    error = assert_error(seed.admin.post(url, {"end_date": "2027-02-07"}), 422)
    assert "2027-02-06" in error["fields"]["end_date"]
    # A partner ends its own customer's service, never another partner's (404).
    alice_service = _service(seed.alice)
    assert_error(
        seed.citynet_admin.post(f"/services/{alice_service.pk}/end", {"end_date": "2026-02-05"}),
        404,
    )
    done = seed.citynet_admin.post(url, {"end_date": "2026-02-05"})
    assert done.status == 200, done.body
    assert done.body["service"]["status"] == "stopped" and done.body["ending"]["stops_now"]
    assert Event.objects.filter(type="service.stopped", object_id=str(service.pk)).count() == 1
    assert_error(seed.portal.post(url, {"end_date": "2026-02-05"}), 403)


@time_machine.travel(date(2026, 2, 5), tick=False)
def test_start_date_is_corrected_until_billed(billed: Billed):
    seed = billed.seed
    billed_service = _service(seed.alice)
    error = assert_error(
        seed.admin.patch(f"/services/{billed_service.pk}", {"start_date": "2026-01-05"}),
        422,
        "already_billed",
    )
    assert "start_date" in error["fields"]
    billed_service.refresh_from_db()
    assert billed_service.start_date == date(2026, 1, 1)
    new = seed.admin.post(
        "/services",
        {"customer_id": seed.alice.pk, "tariff_id": seed.fiber.pk, "start_date": "2026-03-01"},
    )
    assert new.status == 201, new.body
    moved = seed.admin.patch(f"/services/{new.body['id']}", {"start_date": "2026-03-10"})
    assert moved.status == 200 and moved.body["start_date"] == "2026-03-10"


@time_machine.travel(date(2026, 2, 5), tick=False)
def test_terminating_a_customer_ends_its_services_and_makes_it_inactive(billed: Billed):
    seed: Seed = billed.seed
    url = f"/customers/{seed.bob.pk}/terminate"
    error = assert_error(seed.citynet_admin.post(url, {"date": "2026-02-06"}), 422)
    assert "today" in error["fields"]["date"]
    assert_error(seed.citynet_admin.post(f"/customers/{seed.alice.pk}/terminate", {}), 404)
    preview = seed.citynet_admin.post(url + "/preview", {})
    assert preview.status == 200, preview.body
    (ending,) = preview.body["services"]
    # 6-28 Feb already charged: 30.00 x 23 / 28 = 24.6428 -> 24.64, not given back.
    assert ending["charged_after"]["amount"] == _money("24.64")
    assert ending["end_date"] == "2026-02-05" and ending["billed"] is False
    # Invoiced 35.70 for January and for February, paid 35.70: owes 35.70 (a warning only).
    assert preview.body["balance"] == _money("-35.70")
    done = seed.citynet_admin.post(url, {})
    assert done.status == 200, done.body
    seed.bob.refresh_from_db()
    assert seed.bob.status == "inactive"
    service = _service(seed.bob)
    assert (service.status, service.end_date) == ("stopped", date(2026, 2, 5))
    assert AuditEvent.objects.filter(action="customer.terminated").count() == 1
    assert_error(seed.citynet_admin.post(url, {}), 422, "invalid_termination")
