"""Editing and ending a service, terminating a customer from the web, as operator staff and
as a partner for its own customers (docs/billing.md "Ending and editing a service").
Internet 50 costs 30.00 a month (billing day 1, prepaid); March is billed on 1 March."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine
from django.contrib.auth.hashers import make_password
from django.test import Client
from django.urls import reverse

from ispbill.accounts.models import Role, User
from ispbill.billing.run import billing_run_start
from ispbill.core.models import AuditEvent
from ispbill.events.models import Event
from ispbill.partners.models import Partner
from ispbill.subscriptions.models import Service
from tests.billing.builders import customer, service, tariff

pytestmark = pytest.mark.django_db


def client_for(username: str, role: str, **kw: object) -> Client:
    user = User.objects.create(
        username=username, role=role, password=make_password(None), email=f"{username}@x.org", **kw
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world(home):
    city = Partner.objects.create(name="CityNet", mode="percentage", commission_bp=1000)
    slow = tariff(price=3000, name="Internet 50")
    slow.available_to.add(city)
    own, theirs = customer(), customer(city)
    s = service(own, slow, date(2026, 3, 1))
    t = service(theirs, slow, date(2026, 3, 1))
    billing_run_start(run_date=date(2026, 3, 1))
    return {
        "own": own,
        "theirs": theirs,
        "service": s,
        "their_service": t,
        "tariff": slow,
        "admin": client_for("boss", Role.ADMIN),
        "city": client_for("city", Role.PARTNER_ADMIN, partner=city),
    }


def _url(name: str, **kw: int) -> str:
    return reverse(f"web:{name}", kwargs=kw)


@time_machine.travel(date(2026, 3, 17), tick=False)
def test_operator_ends_a_service_with_a_preview(world):
    admin, s = world["admin"], world["service"]
    page = admin.get(_url("service", service_id=s.pk)).content.decode()
    assert "End service" in page and _url("service_edit", service_id=s.pk) in page
    url = _url("service_end", service_id=s.pk)
    form = admin.get(url).content.decode()
    assert 'value="2026-03-31"' in form  # the last day charged
    preview = admin.post(url, {"end_date": "2026-03-20", "action": "preview"})
    assert preview.status_code == 200
    body = preview.content.decode()
    # 21-31 March was charged: 30.00 x 11 / 31 = 10.645 -> 10.65, not given back.
    assert "10.65" in body and "End the service" in body
    s.refresh_from_db()
    assert s.end_date is None
    assert admin.post(url, {"end_date": "2026-03-20", "action": "confirm"}).status_code == 302
    s.refresh_from_db()
    assert (s.end_date, s.status) == (date(2026, 3, 20), "active")
    assert AuditEvent.objects.filter(action="service.ended", object_id=str(s.pk)).exists()
    # Before the start: refused beside the field, nothing written.
    refused = admin.post(url, {"end_date": "2026-02-27", "action": "confirm"})
    assert refused.status_code == 200 and "2026-03-01" in refused.content.decode()
    s.refresh_from_db()
    assert s.end_date == date(2026, 3, 20)


@time_machine.travel(date(2026, 3, 17), tick=False)
def test_partner_ends_its_own_service_today_and_not_another_partners(world):
    city, t, s = world["city"], world["their_service"], world["service"]
    for name in ("service_end", "service_edit"):
        assert city.get(_url(name, service_id=s.pk)).status_code == 404
        assert city.post(_url(name, service_id=s.pk), {"end_date": "2026-03-17"}).status_code == 404
    url = _url("service_end", service_id=t.pk)
    preview = city.post(url, {"end_date": "2026-03-17", "action": "preview"})
    # 18-31 March was charged: 30.00 x 14 / 31 = 13.548 -> 13.55.
    assert preview.status_code == 200 and "13.55" in preview.content.decode()
    assert city.post(url, {"end_date": "2026-03-17", "action": "confirm"}).status_code == 302
    t.refresh_from_db()
    assert (t.end_date, t.status) == (date(2026, 3, 17), "stopped")
    assert Event.objects.filter(type="service.stopped", object_id=str(t.pk)).count() == 1
    page = city.get(_url("service", service_id=t.pk)).content.decode()
    assert "End service" not in page


@time_machine.travel(date(2026, 3, 17), tick=False)
def test_editing_a_service_and_its_start_date_until_billed(world):
    admin, city, s = world["admin"], world["city"], world["service"]
    url = _url("service_edit", service_id=s.pk)
    form = admin.get(url).content.decode()
    assert "Billed already" in form
    answer = admin.post(
        url,
        {
            "description": "Office line",
            "quantity": "2",
            "price_override": "25.00",
            "discount_percent": "",
            "discount_until": "",
            "start_date": "2026-03-05",  # disabled: ignored
            "status": "paused",
        },
    )
    assert answer.status_code == 302
    s.refresh_from_db()
    assert (s.description, s.quantity, s.price_override_minor, s.status, s.start_date) == (
        "Office line",
        2,
        2500,
        "paused",
        date(2026, 3, 1),
    )
    later = service(world["theirs"], world["tariff"], date(2026, 4, 1))
    url = _url("service_edit", service_id=later.pk)
    answer = city.post(
        url, {"quantity": "1", "start_date": "2026-04-10", "status": "active", "description": ""}
    )
    assert answer.status_code == 302
    later.refresh_from_db()
    assert later.start_date == date(2026, 4, 10)
    bad = city.post(url, {"quantity": "0", "start_date": "2026-04-10", "status": "active"})
    assert bad.status_code == 200 and Service.objects.get(pk=later.pk).quantity == 1


@time_machine.travel(date(2026, 3, 17), tick=False)
def test_terminating_a_customer(world):
    admin, city = world["admin"], world["city"]
    theirs, own = world["theirs"], world["own"]
    assert city.get(_url("customer_terminate", customer_id=own.pk)).status_code == 404
    assert city.post(_url("customer_terminate", customer_id=own.pk), {}).status_code == 404
    url = _url("customer_terminate", customer_id=theirs.pk)
    assert "Terminate" in city.get(_url("customer", customer_id=theirs.pk)).content.decode()
    ahead = city.post(url, {"date": "2026-03-18", "action": "preview"})
    assert ahead.status_code == 200 and "today or an earlier day" in ahead.content.decode()
    preview = city.post(url, {"date": "2026-03-17", "action": "preview"})
    body = preview.content.decode()
    # Owes March, 35.70 with VAT: a warning, not a block; 18-31 March charged: 13.55.
    assert "owes" in body and "35.70" in body and "13.55" in body
    assert city.post(url, {"date": "2026-03-17", "action": "confirm"}).status_code == 302
    theirs.refresh_from_db()
    assert theirs.status == "inactive"
    assert world["their_service"].__class__.objects.get(pk=world["their_service"].pk).status == (
        "stopped"
    )
    # The operator terminates its own customer the same way.
    url = _url("customer_terminate", customer_id=own.pk)
    assert admin.post(url, {"date": "2026-03-17", "action": "confirm"}).status_code == 302
    own.refresh_from_db()
    assert own.status == "inactive"
