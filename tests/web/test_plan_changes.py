"""Changing plan from the web: the service page, the form with its preview and confirmation,
cancelling a scheduled change; the same in the portal where the issuer offers it."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine
from django import forms
from django.contrib.auth.hashers import make_password
from django.test import Client
from django.urls import reverse

from ispbill.accounts.models import Role, User
from ispbill.billing.models import PlanChange
from ispbill.billing.run import billing_run_start
from ispbill.invoicing.models import CreditNote
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
    c = customer()
    slow = tariff(price=3000, name="Internet 50")
    fast = tariff(price=4500, name="Internet 100")
    s = service(c, slow, date(2026, 3, 1))
    billing_run_start(run_date=date(2026, 3, 1))
    return {"customer": c, "service": s, "slow": slow, "fast": fast}


@time_machine.travel(date(2026, 3, 17), tick=False)
def test_operator_previews_then_confirms(world):
    admin = client_for("boss", Role.ADMIN)
    s, fast = world["service"], world["fast"]
    page = admin.get(reverse("web:service", kwargs={"service_id": s.pk}))
    assert page.status_code == 200 and b"Change plan" in page.content
    url = reverse("web:service_change_plan", kwargs={"service_id": s.pk})
    assert admin.get(url).status_code == 200
    preview = admin.post(url, {"tariff": fast.pk, "when": "today", "action": "preview"})
    assert preview.status_code == 200
    body = preview.content.decode()
    # 30.00 x 15 / 31 = 14.52 given back (17.28 with VAT), 45.00 x 15 / 31 = 21.77 charged.
    assert "14.52" in body and "21.77" in body and "17.28" in body
    assert "Confirm the change" in body
    assert not PlanChange.objects.exists() and not CreditNote.objects.exists()

    done = admin.post(url, {"tariff": fast.pk, "when": "today", "date": "", "action": "confirm"})
    assert done.status_code == 302 and done["Location"] == reverse(
        "web:service", kwargs={"service_id": s.pk}
    )
    assert PlanChange.objects.get().status == "applied"
    assert Service.objects.get(pk=s.pk).tariff_id == fast.pk
    shown = admin.get(done["Location"]).content.decode()
    assert "Internet 50 → Internet 100" in shown and "credit note" in shown


@time_machine.travel(date(2026, 3, 17), tick=False)
def test_scheduled_change_is_shown_and_cancelled(world):
    support = client_for("help", Role.SUPPORT)
    s, fast = world["service"], world["fast"]
    url = reverse("web:service_change_plan", kwargs={"service_id": s.pk})
    bad = support.post(url, {"tariff": fast.pk, "when": "date", "date": "", "action": "confirm"})
    assert bad.status_code == 200 and not PlanChange.objects.exists()
    past = support.post(
        url, {"tariff": fast.pk, "when": "date", "date": "2026-03-01", "action": "confirm"}
    )
    assert b"today or later" in past.content and not PlanChange.objects.exists()
    support.post(url, {"tariff": fast.pk, "when": "next_billing_date", "action": "confirm"})
    change = PlanChange.objects.get()
    assert (change.status, change.effective_date) == ("scheduled", date(2026, 4, 1))
    customer_page = support.get(
        reverse("web:customer", kwargs={"customer_id": world["customer"].pk})
    )
    assert b"Internet 100 from April 1, 2026" in customer_page.content
    cancel = support.post(reverse("web:plan_change_cancel", kwargs={"plan_change_id": change.pk}))
    assert cancel.status_code == 302
    assert PlanChange.objects.get().status == "cancelled"


@time_machine.travel(date(2026, 3, 17), tick=False)
def test_another_partners_service_is_not_found(world):
    other = Partner.objects.create(name="CityNet", mode="percentage")
    partner = client_for("city", Role.PARTNER_ADMIN, partner=other)
    s = world["service"]
    change = PlanChange.objects.create(
        partner_id=s.partner_id,
        customer=world["customer"],
        service=s,
        old_tariff=world["slow"],
        new_tariff=world["fast"],
        effective_date=date(2026, 4, 1),
    )
    for url in (
        reverse("web:service", kwargs={"service_id": s.pk}),
        reverse("web:service_change_plan", kwargs={"service_id": s.pk}),
    ):
        assert partner.get(url).status_code == 404
    assert (
        partner.post(reverse("web:plan_change_cancel", kwargs={"plan_change_id": change.pk}))
    ).status_code == 404
    assert PlanChange.objects.get().status == "scheduled"


@time_machine.travel(date(2026, 3, 17), tick=False)
def test_portal_change_plan_where_the_issuer_offers_it(world, home):
    c, s, fast = world["customer"], world["service"], world["fast"]
    hidden = tariff(price=9900, name="Business 1000")
    portal = client_for("jane", Role.CUSTOMER, partner=home, customer=c)
    url = reverse("web:portal_change_plan", kwargs={"service_id": s.pk})
    # Not offered: back to the portal's home, no link there.
    assert portal.get(url).status_code == 302
    assert b"Change plan" not in portal.get(reverse("web:portal")).content

    Partner.objects.filter(pk=home.pk).update(portal_plan_change=True)
    fast.customer_selectable = True
    fast.save()
    assert b"Change plan" in portal.get(reverse("web:portal")).content
    form = portal.get(url)
    assert b"Internet 100" in form.content and b"Business 1000" not in form.content
    refused = portal.post(url, {"tariff": hidden.pk, "when": "today", "action": "confirm"})
    assert refused.status_code == 200 and not PlanChange.objects.exists()
    preview = portal.post(url, {"tariff": fast.pk, "when": "today", "action": "preview"})
    assert b"21.77" in preview.content and not PlanChange.objects.exists()
    done = portal.post(url, {"tariff": fast.pk, "when": "next_billing_date", "action": "confirm"})
    assert done.status_code == 302
    change = PlanChange.objects.get()
    assert (change.status, change.via_portal, change.requested_by) == ("scheduled", True, "jane")
    assert b"Changes to Internet 100 on April 1, 2026" in portal.get(reverse("web:portal")).content
    portal.post(reverse("web:portal_plan_change_cancel", kwargs={"plan_change_id": change.pk}))
    assert PlanChange.objects.get().status == "cancelled"


@time_machine.travel(date(2026, 3, 17), tick=False)
def test_portal_cannot_reach_another_customers_service_or_an_operators_change(world, home):
    Partner.objects.filter(pk=home.pk).update(portal_plan_change=True)
    other = customer()
    portal = client_for("joe", Role.CUSTOMER, partner=home, customer=other)
    s = world["service"]
    assert (
        portal.get(reverse("web:portal_change_plan", kwargs={"service_id": s.pk})).status_code
        == 404
    )
    mine = service(other, world["slow"], date(2026, 3, 1))
    by_operator = PlanChange.objects.create(
        partner_id=mine.partner_id,
        customer=other,
        service=mine,
        old_tariff=world["slow"],
        new_tariff=world["fast"],
        effective_date=date(2026, 4, 1),
    )
    answer = portal.post(
        reverse("web:portal_plan_change_cancel", kwargs={"plan_change_id": by_operator.pk})
    )
    assert answer.status_code == 404
    assert PlanChange.objects.get(pk=by_operator.pk).status == "scheduled"


def _form_data(form) -> dict[str, object]:
    data: dict[str, object] = {}
    for name, bound in form.fields.items():
        value = form[name].value()
        if isinstance(bound, forms.BooleanField):
            if value:
                data[name] = "on"
            continue
        data[name] = "" if value is None else value
    return data


def test_issuer_settings_set_the_fees_and_the_plan_change_rules(home):
    from ispbill.web.forms.partners import IssuerSettingsForm
    from tests.billing.builders import tax

    rate = tax(home)
    admin = client_for("boss", Role.ADMIN)
    data = _form_data(IssuerSettingsForm(instance=Partner.objects.get(pk=home.pk)))
    data.update(
        fee_upgrade="9.90",
        fee_late_payment="5",
        plan_change_credit="next_invoice",
        plan_change_invoicing="at_once",
        portal_plan_change="on",
    )
    refused = admin.post(reverse("web:settings"), data)
    assert refused.status_code == 200 and b"Choose the tax rate of the fees." in refused.content
    assert Partner.objects.get(pk=home.pk).fee_upgrade_minor == 0
    data["fee_tax_rate"] = rate.pk
    saved = admin.post(reverse("web:settings"), data)
    assert saved.status_code == 302, saved.content[:3000]
    p = Partner.objects.get(pk=home.pk)
    assert (
        p.fee_upgrade_minor,
        p.fee_late_payment_minor,
        p.fee_tax_rate_id,
        p.plan_change_credit,
        p.plan_change_invoicing,
        p.portal_plan_change,
    ) == (990, 500, rate.pk, "next_invoice", "at_once", True)
