"""Usage on the service page (operator, partner), in the portal, and the tariff form's
usage rule (docs/usage.md)."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine
from django.urls import reverse

from ispbill.accounts.models import Role
from ispbill.catalog.models import Tariff
from ispbill.partners.models import PartnerMode
from ispbill.radius.models import UsageDay
from tests.billing.builders import customer, service, tariff, tax
from tests.factories import PartnerFactory
from tests.radius.builders import internet_customer
from tests.web.test_plan_changes import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def used(home):
    c, s, _cred = internet_customer("jane")
    s.tariff.included_gb = 10
    s.tariff.save()
    UsageDay.objects.create(
        partner=home,
        customer=c,
        service=s,
        day=date(2026, 4, 3),
        bytes_in=500_000_000,
        bytes_out=10**9,
    )
    return c, s


@time_machine.travel(date(2026, 4, 20), tick=False)
def test_operator_sees_usage_on_the_service_page(used):
    _c, s = used
    page = client_for("boss", Role.ADMIN).get(reverse("web:service", kwargs={"service_id": s.pk}))
    body = page.content.decode()
    assert page.status_code == 200
    assert "1.50 GB of 10 GB included" in body and "April 3, 2026" in body


@time_machine.travel(date(2026, 4, 20), tick=False)
def test_portal_shows_my_usage_and_not_anothers(used, home):
    c, s = used
    portal = client_for("jane", Role.CUSTOMER, partner=home, customer=c)
    url = reverse("web:portal_service_usage", kwargs={"service_id": s.pk})
    assert url.encode() in portal.get(reverse("web:portal")).content
    page = portal.get(url)
    assert page.status_code == 200 and "1.50 GB of 10 GB included" in page.content.decode()
    other = customer()
    other_service = service(other, tariff(kind="internet"), date(2026, 4, 1))
    stranger = reverse("web:portal_service_usage", kwargs={"service_id": other_service.pk})
    assert portal.get(stranger).status_code == 404


def _tariff_post(home, **extra):  # type: ignore[no-untyped-def]
    return {
        "name": "Capped 50",
        "kind": "internet",
        "tax_rate": tax(home).pk,
        "period_months": 1,
        "download_kbps": 50000,
        "upload_kbps": 10000,
        "price": "29.90",
        "is_active": "on",
        "included_gb": 50,
        "cap_action": "throttle",
        "throttle_download_kbps": 1000,
        "throttle_upload_kbps": 500,
        "overage_price": "2.00",
        **extra,
    }


def test_tariff_form_saves_the_usage_rule(home):
    admin = client_for("boss", Role.ADMIN)
    response = admin.post(reverse("web:tariff_new"), _tariff_post(home))
    assert response.status_code == 302, response.context["form"].errors
    t = Tariff.objects.get(name="Capped 50")
    assert (t.included_gb, t.cap_action, t.throttle_download_kbps) == (50, "throttle", 1000)
    assert t.overage_price_minor == 200
    edit = reverse("web:tariff_edit", kwargs={"tariff_id": t.pk})
    assert "2.00" in admin.get(edit).content.decode()
    # Throttling without the reduced speeds is a form error; nothing changes.
    bad = admin.post(edit, _tariff_post(home, throttle_download_kbps=""))
    assert bad.status_code == 200 and "throttle_download_kbps" in bad.context["form"].errors
    t.refresh_from_db()
    assert t.throttle_download_kbps == 1000


@time_machine.travel(date(2026, 4, 20), tick=False)
def test_partner_sees_its_customers_usage(home):
    reseller = PartnerFactory(mode=PartnerMode.PERCENTAGE)
    c, s, _cred = internet_customer("joe", partner=reseller)
    UsageDay.objects.create(
        partner=reseller, customer=c, service=s, day=date(2026, 4, 2), bytes_out=2 * 10**9
    )
    staff = client_for("res", Role.PARTNER_ADMIN, partner=reseller)
    page = staff.get(reverse("web:service", kwargs={"service_id": s.pk}))
    assert page.status_code == 200 and "2.00 GB" in page.content.decode()


def test_own_invoicing_partner_sets_a_usage_rule_on_its_tariff(home):
    own = PartnerFactory(mode=PartnerMode.OWN_INVOICING)
    staff = client_for("own", Role.PARTNER_ADMIN, partner=own)
    response = staff.post(reverse("web:tariff_new"), _tariff_post(own, cap_action="block"))
    assert response.status_code == 302, response.context["form"].errors
    t = Tariff.objects.get(partner=own, name="Capped 50")
    assert (t.included_gb, t.cap_action, t.overage_price_minor) == (50, "block", 200)


@time_machine.travel(date(2026, 4, 20), tick=False)
def test_customer_page_shows_each_services_usage_this_month(used):
    c, _s = used
    page = client_for("boss", Role.ADMIN).get(reverse("web:customer", kwargs={"customer_id": c.pk}))
    assert page.status_code == 200
    assert "1.50 GB used this month of 10 GB" in page.content.decode()
