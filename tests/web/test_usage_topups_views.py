"""Top-up pages for the operator, a partner and the customer (portal), the tariff form's
top-up, alert and rollover settings (docs/usage.md)."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine
from django.urls import reverse

from ispbill.accounts.models import Role
from ispbill.catalog.models import Tariff
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import PartnerMode
from ispbill.radius.models import RadiusCredential, UsageDay, UsageTopUp
from ispbill.subscriptions.models import OneTimeCharge
from tests.factories import PartnerFactory
from tests.gateways.conftest import fake_stripe  # noqa: F401
from tests.gateways.helpers import HOME_KEY, gateway
from tests.radius.builders import attrs, internet_customer
from tests.web.test_plan_changes import client_for
from tests.web.test_usage_views import _tariff_post

pytestmark = pytest.mark.django_db
GB = 10**9
APRIL = date(2026, 4, 20)


def capped(username: str, *, partner=None, used_gb: int = 0):  # type: ignore[no-untyped-def]
    kw = {"partner": partner} if partner is not None else {}
    c, s, cred = internet_customer(username, **kw)
    t = s.tariff
    t.included_gb, t.cap_action = 50, "throttle"
    t.throttle_download_kbps, t.throttle_upload_kbps = 1000, 500
    t.topup_gb, t.topup_price_minor = 10, 500
    t.save()
    if used_gb:
        UsageDay.objects.create(
            partner_id=s.partner_id,
            customer=c,
            service=s,
            day=date(2026, 4, 3),
            bytes_out=used_gb * GB,
        )
    return c, s, cred


def _throttle(cred: RadiusCredential) -> None:
    cred.capped, cred.capped_month = "throttle", date(2026, 4, 1)
    cred.save()


@time_machine.travel(APRIL, tick=False)
def test_operator_previews_confirms_and_the_throttle_is_lifted(home):
    _c, s, cred = capped("jane", used_gb=52)
    _throttle(cred)
    admin = client_for("boss", Role.ADMIN)
    service_page = admin.get(reverse("web:service", kwargs={"service_id": s.pk})).content.decode()
    url = reverse("web:service_topup", kwargs={"service_id": s.pk})
    assert url in service_page and "Buy extra volume" in service_page
    page = admin.get(url).content.decode()
    assert "10 GB for €5.00" in page and "Goes on the next invoice." in page
    preview = admin.post(url, {"packs": 2, "action": "preview"})
    body = preview.content.decode()
    assert preview.status_code == 200
    assert "20 GB" in body and "€10.00" in body and "The throttle is lifted at once." in body
    assert not UsageTopUp.objects.exists()  # nothing bought before confirming
    done = admin.post(url, {"packs": 2, "action": "confirm"})
    assert done.status_code == 302
    topup = UsageTopUp.objects.get()
    assert (topup.gigabytes, topup.channel, topup.charge.quantity) == (20, "staff", 2)
    cred.refresh_from_db()
    assert cred.capped == ""
    assert attrs("jane")["Mikrotik-Rate-Limit"] == "10000k/50000k"
    after = admin.get(reverse("web:service", kwargs={"service_id": s.pk})).content.decode()
    assert "70.00 GB · 52.00 GB used" in after


@time_machine.travel(APRIL, tick=False)
def test_operator_invoices_a_top_up_now(home):
    c, s, _cred = capped("jane")
    admin = client_for("boss", Role.ADMIN)
    url = reverse("web:service_topup", kwargs={"service_id": s.pk})
    r = admin.post(url, {"packs": 1, "invoice_now": "on", "action": "confirm"})
    assert r.status_code == 302
    invoice = Invoice.objects.get(customer=c)
    # 5.00 net + 19 % VAT.
    assert (invoice.net_minor, invoice.tax_minor, invoice.total_minor) == (500, 95, 595)


@time_machine.travel(APRIL, tick=False)
def test_bad_packs_is_a_form_error_and_nothing_is_bought(home):
    _c, s, _cred = capped("jane")
    admin = client_for("boss", Role.ADMIN)
    url = reverse("web:service_topup", kwargs={"service_id": s.pk})
    r = admin.post(url, {"packs": 0, "action": "confirm"})
    assert r.status_code == 200 and "packs" in r.context["form"].errors
    assert not OneTimeCharge.objects.exists()


@time_machine.travel(APRIL, tick=False)
def test_partner_tops_up_its_own_customer_and_not_anothers(home):
    reseller = PartnerFactory(mode=PartnerMode.PERCENTAGE)
    _c, s, _cred = capped("joe", partner=reseller)
    _c2, foreign, _ = capped("jane")
    staff = client_for("res", Role.PARTNER_ADMIN, partner=reseller)
    url = reverse("web:service_topup", kwargs={"service_id": s.pk})
    assert staff.get(url).status_code == 200
    assert staff.post(url, {"packs": 1, "action": "preview"}).status_code == 200
    assert staff.post(url, {"packs": 1, "action": "confirm"}).status_code == 302
    assert UsageTopUp.objects.get().service_id == s.pk
    other = reverse("web:service_topup", kwargs={"service_id": foreign.pk})
    assert staff.get(other).status_code == 404
    assert staff.post(other, {"packs": 1, "action": "confirm"}).status_code == 404
    assert UsageTopUp.objects.count() == 1


@time_machine.travel(APRIL, tick=False)
def test_customer_buys_in_the_portal_on_the_next_invoice(home):
    c, s, cred = capped("jane", used_gb=51)
    _throttle(cred)
    portal = client_for("jane", Role.CUSTOMER, partner=home, customer=c)
    usage_url = reverse("web:portal_service_usage", kwargs={"service_id": s.pk})
    url = reverse("web:portal_service_topup", kwargs={"service_id": s.pk})
    assert url in portal.get(usage_url).content.decode()
    page = portal.get(url).content.decode()
    assert "Goes on the next invoice." in page
    preview = portal.post(url, {"packs": 1, "action": "preview"}).content.decode()
    assert "Buy 10 GB for €5.00" in preview and "The throttle is lifted at once." in preview
    r = portal.post(url, {"packs": 1, "action": "confirm"})
    assert r.status_code == 302 and r["Location"] == usage_url
    topup = UsageTopUp.objects.get()
    assert topup.channel == "customer" and topup.charge.customer_id == c.pk
    assert not Invoice.objects.filter(customer=c).exists()  # the next invoice
    cred.refresh_from_db()
    assert cred.capped == ""
    # Another customer's service: 404, nothing bought.
    _c2, other, _ = capped("joe")
    stranger = reverse("web:portal_service_topup", kwargs={"service_id": other.pk})
    assert portal.get(stranger).status_code == 404
    assert portal.post(stranger, {"packs": 1, "action": "confirm"}).status_code == 404
    assert UsageTopUp.objects.count() == 1


@time_machine.travel(APRIL, tick=False)
def test_customer_pays_a_top_up_by_card_at_once(home, fake_stripe):  # noqa: F811
    gateway(home)
    c, s, _cred = capped("jane")
    portal = client_for("jane", Role.CUSTOMER, partner=home, customer=c)
    url = reverse("web:portal_service_topup", kwargs={"service_id": s.pk})
    page = portal.get(url).content.decode()
    assert "Paid by card right away" in page
    preview = portal.post(url, {"packs": 1, "action": "preview"}).content.decode()
    assert "Buy and pay €5.00" in preview
    r = portal.post(url, {"packs": 1, "action": "confirm"})
    assert r.status_code == 302 and r["Location"].startswith("https://checkout.stripe.com/")
    assert fake_stripe.requests[-1][2] == HOME_KEY
    invoice = Invoice.objects.get(customer=c)
    assert invoice.total_minor == 595
    assert UsageTopUp.objects.get().charge.charges.exists()  # on that invoice


@time_machine.travel(APRIL, tick=False)
def test_no_pack_on_the_tariff_no_button_and_404_in_the_portal(home):
    c, s, _cred = internet_customer("jane")
    portal = client_for("jane", Role.CUSTOMER, partner=home, customer=c)
    usage = portal.get(reverse("web:portal_service_usage", kwargs={"service_id": s.pk}))
    assert "Buy extra volume" not in usage.content.decode()
    url = reverse("web:portal_service_topup", kwargs={"service_id": s.pk})
    assert portal.get(url).status_code == 404


def test_tariff_form_saves_top_up_alerts_and_rollover(home):
    admin = client_for("boss", Role.ADMIN)
    post = _tariff_post(
        home, topup_gb=10, topup_price="5.00", usage_alerts="100, 80", rollover="on"
    )
    response = admin.post(reverse("web:tariff_new"), post)
    assert response.status_code == 302, response.context["form"].errors
    t = Tariff.objects.get(name="Capped 50")
    assert (t.topup_gb, t.topup_price_minor, t.usage_alerts, t.rollover) == (
        10,
        500,
        "80,100",
        True,
    )
    edit = reverse("web:tariff_edit", kwargs={"tariff_id": t.pk})
    assert "5.00" in admin.get(edit).content.decode()
    bad = admin.post(edit, _tariff_post(home, topup_gb=10, topup_price="", usage_alerts="x"))
    assert bad.status_code == 200
    errors = bad.context["form"].errors
    assert "topup_gb" in errors or "usage_alerts" in errors
    t.refresh_from_db()
    assert t.topup_price_minor == 500


def test_own_invoicing_partner_sets_a_top_up_on_its_tariff(home):
    own = PartnerFactory(mode=PartnerMode.OWN_INVOICING)
    staff = client_for("own", Role.PARTNER_ADMIN, partner=own)
    post = _tariff_post(own, topup_gb=5, topup_price="3.00", usage_alerts="90")
    response = staff.post(reverse("web:tariff_new"), post)
    assert response.status_code == 302, response.context["form"].errors
    t = Tariff.objects.get(partner=own, name="Capped 50")
    assert (t.topup_gb, t.topup_price_minor, t.usage_alerts) == (5, 300, "90")
