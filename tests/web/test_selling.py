"""Selling in the web UI (docs/reseller-modes.md, "Selling and prices"): the operator's
"Tariffs and prices" screen of a reseller, the tariff list's "Available to", a reseller's own
price in its panel, an own-invoicing partner's own tariffs and tax rates, and the hints
shown when nothing can be sold. Every form is posted by every role that sees it."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from ispbill.accounts.models import Role, User
from ispbill.catalog.models import PartnerPrice, Tariff, TaxRate
from ispbill.core.models import AuditEvent
from ispbill.partners.models import Partner, PartnerMode
from tests.factories import (
    CustomerFactory,
    PartnerFactory,
    PartnerPriceFactory,
    TariffFactory,
    TaxRateFactory,
)
from tests.security.test_every_form import _Forms
from tests.web.test_partner_edit import _form_data

pytestmark = pytest.mark.django_db


def client_for(role: str, partner: Partner | None = None) -> Client:
    user = User.objects.filter(role=role, partner=partner).first() or User.objects.create(
        username=f"{role}-{partner.pk if partner else 'op'}", role=role, partner=partner
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world(home):  # type: ignore[no-untyped-def]
    wisp = PartnerFactory(name="WISP", mode=PartnerMode.AGGREGATED, discount_bp=1000)
    citynet = PartnerFactory(name="CityNet", mode=PartnerMode.PERCENTAGE)
    fiber = TariffFactory(name="Fiber 250", price_minor=3990)
    business = TariffFactory(name="Business quarterly", price_minor=24900, period_months=3)
    fiber.available_to.add(wisp)
    business.available_to.add(wisp)
    PartnerPriceFactory(partner=wisp, tariff=business, price_minor=8700)
    # CityNet's price of the same tariff: WISP must never see it.
    PartnerPriceFactory(partner=citynet, tariff=business, price_minor=1111)
    return {"home": home, "wisp": wisp, "citynet": citynet, "fiber": fiber, "business": business}


def _url(name: str, partner: Partner) -> str:
    return reverse(f"web:{name}", kwargs={"partner_id": partner.pk})


def _price_form(client: Client, partner: Partner) -> dict[str, list[str]]:
    """What the "Tariffs and prices" page posts unchanged, as a browser would."""
    parser = _Forms(_url("partner_tariffs", partner))
    parser.feed(client.get(_url("partner_tariffs", partner)).content.decode())
    save = _url("partner_tariffs_save", partner)
    (form,) = [f for f in parser.forms if f.action.endswith(save)]
    data: dict[str, list[str]] = {}
    for name, value in form.fields:
        data.setdefault(name, []).append(value)
    return data


# -- the operator's "Tariffs and prices" screen of a reseller ---------------------------------


def test_admin_sees_and_saves_a_price_list(world):  # type: ignore[no-untyped-def]
    wisp, fiber, business = world["wisp"], world["fiber"], world["business"]
    client = client_for(Role.ADMIN)
    page = client.get(_url("partner", wisp))
    assert _url("partner_tariffs", wisp).encode() in page.content
    url = _url("partner_tariffs", wisp)
    response = client.get(url)
    assert response.status_code == 200
    text = response.content.decode()
    assert "35.91" in text  # 39.90 less 10 %
    assert "87.00" in text  # the partner price
    assert "11.11" not in text  # CityNet's

    data = _price_form(client, wisp)
    assert data[f"available_{fiber.pk}"] == ["on"]
    assert data[f"price_{business.pk}"] == ["87.00"]
    data[f"price_{fiber.pk}"] = ["29,00"]
    data[f"price_{business.pk}"] = [""]
    del data[f"available_{business.pk}"]
    response = client.post(_url("partner_tariffs_save", wisp), data)
    assert response.status_code == 302
    assert dict(
        PartnerPrice.objects.filter(partner=wisp).values_list("tariff_id", "price_minor")
    ) == {fiber.pk: 2900}
    assert list(wisp.available_tariffs.values_list("pk", flat=True)) == [fiber.pk]
    assert AuditEvent.objects.filter(
        action="partner.tariffs_available", partner_id=wisp.pk
    ).exists()
    assert AuditEvent.objects.filter(action="partner_price.cleared").exists()
    # CityNet's price is untouched.
    assert PartnerPrice.objects.get(partner=world["citynet"]).price_minor == 1111


@pytest.mark.parametrize(
    ("bad", "error"),
    [("abc", "amount"), ("1.234", "decimals"), ("-5", "negative")],
)
def test_a_bad_price_is_a_form_error(world, bad, error):  # type: ignore[no-untyped-def]
    wisp, fiber = world["wisp"], world["fiber"]
    client = client_for(Role.ADMIN)
    data = _price_form(client, wisp)
    data[f"price_{fiber.pk}"] = [bad]
    data.pop(f"available_{fiber.pk}")
    before = list(PartnerPrice.objects.order_by("pk").values())
    response = client.post(_url("partner_tariffs_save", wisp), data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [f"price_{fiber.pk}"]
    assert error in str(errors).lower()
    assert list(PartnerPrice.objects.order_by("pk").values()) == before
    assert fiber.available_to.filter(pk=wisp.pk).exists()


def test_make_all_available_needs_a_confirmation_and_works(world):  # type: ignore[no-untyped-def]
    citynet = world["citynet"]
    TariffFactory(name="Retired", is_active=False)
    client = client_for(Role.ADMIN)
    page = client.get(_url("partner_tariffs", citynet)).content.decode()
    assert f'action="{_url("partner_tariffs_all", citynet)}"' in page
    assert 'data-confirm="Make every active operator tariff available to CityNet?' in page
    response = client.post(_url("partner_tariffs_all", citynet))
    assert response.status_code == 302
    assert set(citynet.available_tariffs.values_list("name", flat=True)) == {
        "Fiber 250",
        "Business quarterly",
    }


@pytest.mark.parametrize("role", [Role.ACCOUNTANT, Role.SUPPORT])
def test_other_operator_staff_read_but_do_not_change(world, role):  # type: ignore[no-untyped-def]
    wisp, fiber = world["wisp"], world["fiber"]
    client = client_for(role)
    page = client.get(_url("partner_tariffs", wisp))
    assert page.status_code == 200
    assert b"Save price list" not in page.content
    assert b"Make all tariffs available" not in page.content
    before = list(PartnerPrice.objects.order_by("pk").values())
    data = {f"available_{fiber.pk}": "on", f"price_{fiber.pk}": "1.00"}
    assert client.post(_url("partner_tariffs_save", wisp), data).status_code == 403
    assert client.post(_url("partner_tariffs_all", world["citynet"])).status_code == 403
    assert list(PartnerPrice.objects.order_by("pk").values()) == before
    assert not world["citynet"].available_tariffs.exists()


@pytest.mark.parametrize("role", [Role.PARTNER_ADMIN, Role.PARTNER_STAFF])
def test_partners_reach_no_price_list_screen(world, role):  # type: ignore[no-untyped-def]
    wisp, fiber = world["wisp"], world["fiber"]
    client = client_for(role, wisp)
    for target in (wisp, world["citynet"]):
        assert client.get(_url("partner_tariffs", target)).status_code == 403
        data = {f"available_{fiber.pk}": "on", f"price_{fiber.pk}": "0.01"}
        assert client.post(_url("partner_tariffs_save", target), data).status_code == 403
        assert client.post(_url("partner_tariffs_all", target)).status_code == 403
    assert PartnerPrice.objects.get(partner=wisp).price_minor == 8700


def test_the_operator_has_no_price_list_screen(world):  # type: ignore[no-untyped-def]
    client = client_for(Role.ADMIN)
    assert client.get(_url("partner_tariffs", world["home"])).status_code == 404
    assert client.post(_url("partner_tariffs_all", world["home"])).status_code == 404


# -- the tariff list ---------------------------------------------------------------------------


def test_the_operator_tariff_list_shows_who_may_sell(world):  # type: ignore[no-untyped-def]
    TariffFactory(name="Nobody's")
    text = client_for(Role.ADMIN).get(reverse("web:tariffs")).content.decode()
    assert "Available to" in text
    assert ">WISP</a>" in text
    assert "nobody" in text
    world["fiber"].available_to.add(world["citynet"])
    text = client_for(Role.SUPPORT).get(reverse("web:tariffs")).content.decode()
    assert "All resellers" in text  # Fiber 250: WISP and CityNet, every reseller


def test_a_wholesale_partner_sees_its_own_price_only(world):  # type: ignore[no-untyped-def]
    for role in (Role.PARTNER_ADMIN, Role.PARTNER_STAFF):
        text = client_for(role, world["wisp"]).get(reverse("web:tariffs")).content.decode()
        assert "Your price" in text
        assert "35.91" in text and "87.00" in text
        assert "11.11" not in text
        assert "Available to" not in text


def test_a_percentage_partner_sees_retail_prices(world):  # type: ignore[no-untyped-def]
    world["fiber"].available_to.add(world["citynet"])
    text = (
        client_for(Role.PARTNER_ADMIN, world["citynet"])
        .get(reverse("web:tariffs"))
        .content.decode()
    )
    assert "39.90" in text
    assert "Your price" not in text
    assert "11.11" not in text and "87.00" not in text
    # The owner of the operator's tariffs is named as the operator presents itself (its
    # brand), never by its internal name.
    home = world["home"]
    Partner.objects.filter(pk=home.pk).update(name="Internal-Home", brand_name="Stadtnetz GmbH")
    text = (
        client_for(Role.PARTNER_ADMIN, world["citynet"])
        .get(reverse("web:tariffs"))
        .content.decode()
    )
    assert "Stadtnetz GmbH" in text and "Internal-Home" not in text


def test_nothing_to_sell_shows_a_hint(world):  # type: ignore[no-untyped-def]
    lonely = PartnerFactory(name="Lonely", mode=PartnerMode.PERCENTAGE)
    text = client_for(Role.PARTNER_ADMIN, lonely).get(reverse("web:tariffs")).content.decode()
    assert "No tariffs yet" not in text
    assert "No tariffs are available to you yet" in text
    own = PartnerFactory(name="Fresh", mode=PartnerMode.OWN_INVOICING)
    text = client_for(Role.PARTNER_ADMIN, own).get(reverse("web:tariffs")).content.decode()
    assert "Your catalogue is empty" in text and "create your first tariff" in text


def test_the_service_form_says_why_it_is_empty(world):  # type: ignore[no-untyped-def]
    lonely = PartnerFactory(name="Lonely", mode=PartnerMode.PERCENTAGE)
    customer = CustomerFactory(partner=lonely)
    url = reverse("web:service_new", kwargs={"customer_id": customer.pk})
    text = client_for(Role.PARTNER_STAFF, lonely).get(url).content.decode()
    assert "ask the operator to make tariffs available" in text
    text = client_for(Role.ADMIN).get(url).content.decode()
    assert "No tariff is available to Lonely" in text
    wisp_customer = CustomerFactory(partner=world["wisp"])
    url = reverse("web:service_new", kwargs={"customer_id": wisp_customer.pk})
    assert b'role="status"' not in client_for(Role.ADMIN).get(url).content


# -- an own-invoicing partner's own catalogue --------------------------------------------------


@pytest.fixture
def alpen(home):  # type: ignore[no-untyped-def]
    return PartnerFactory(name="Alpenfunk", mode=PartnerMode.OWN_INVOICING)


def test_an_own_invoicing_admin_builds_its_catalogue(alpen, world):  # type: ignore[no-untyped-def]
    client = client_for(Role.PARTNER_ADMIN, alpen)
    response = client.post(
        reverse("web:tax_rate_new"), {"name": "MwSt 19", "rate_percent": "19", "category": "S"}
    )
    assert response.status_code == 302
    rate = TaxRate.objects.get(partner=alpen)
    assert rate.rate_bp == 1900
    # A duplicate name is a message, not a server error.
    response = client.post(
        reverse("web:tax_rate_new"), {"name": "MwSt 19", "rate_percent": "7", "category": "S"}
    )
    assert response.status_code == 302 and TaxRate.objects.filter(partner=alpen).count() == 1

    url = reverse("web:tax_rate_edit", kwargs={"tax_rate_id": rate.pk})
    data = _form_data(client, url)
    assert data["rate_percent"] == ["19.00"]
    data["rate_percent"] = ["20"]
    assert client.post(url, data).status_code == 302
    rate.refresh_from_db()
    assert rate.rate_bp == 2000
    assert AuditEvent.objects.filter(action="tax_rate.updated", object_id=str(rate.pk)).exists()

    form = _form_data(client, reverse("web:tariff_new"))
    assert "available_to" not in form
    assert form["tax_rate"] == [""] or form["tax_rate"] == [str(rate.pk)]
    response = client.post(
        reverse("web:tariff_new"),
        {
            "name": "Alpen 50",
            "kind": "internet",
            "price": "34.50",
            "tax_rate": rate.pk,
            "period_months": 1,
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    own = Tariff.objects.get(name="Alpen 50")
    assert (own.partner_id, own.price_minor) == (alpen.pk, 3450)
    text = client.get(reverse("web:tariffs")).content.decode()
    assert "Alpen 50" in text and "MwSt 19" in text
    assert reverse("web:tariff_edit", kwargs={"tariff_id": own.pk}) in text
    # Only its own: no operator tax rate, no other partner's tariff.
    assert "Fiber 250" not in text


def test_an_own_invoicing_partner_cannot_touch_others_rates(alpen, world):  # type: ignore[no-untyped-def]
    other = TaxRateFactory(partner=PartnerFactory(mode=PartnerMode.OWN_INVOICING), rate_bp=700)
    operator_rate = world["fiber"].tax_rate
    client = client_for(Role.PARTNER_ADMIN, alpen)
    for rate in (other, operator_rate):
        url = reverse("web:tax_rate_edit", kwargs={"tax_rate_id": rate.pk})
        assert client.get(url).status_code == 404
        post = {"name": "x", "rate_percent": "1", "category": "S", "is_active": "on"}
        assert client.post(url, post).status_code == 404
    assert TaxRate.objects.get(pk=other.pk).rate_bp == 700
    assert (
        client.get(reverse("web:tariff_edit", kwargs={"tariff_id": world["fiber"].pk})).status_code
        == 404
    )


def test_partner_staff_and_other_modes_do_not_write_the_catalogue(alpen, world):  # type: ignore[no-untyped-def]
    rate = TaxRateFactory(partner=alpen)
    post = {"name": "x", "rate_percent": "1", "category": "S"}
    for client in (
        client_for(Role.PARTNER_STAFF, alpen),
        client_for(Role.PARTNER_ADMIN, world["wisp"]),
    ):
        assert client.post(reverse("web:tax_rate_new"), post).status_code == 403
        url = reverse("web:tax_rate_edit", kwargs={"tax_rate_id": rate.pk})
        assert client.post(url, post).status_code == 403
        assert client.get(reverse("web:tariff_new")).status_code == 403
    assert TaxRate.objects.get(pk=rate.pk).rate_bp == 1900


def test_the_operator_edits_a_tax_rate(world):  # type: ignore[no-untyped-def]
    rate = world["fiber"].tax_rate
    client = client_for(Role.ADMIN)
    url = reverse("web:tax_rate_edit", kwargs={"tax_rate_id": rate.pk})
    data = _form_data(client, url)
    data["rate_percent"] = ["abc"]
    response = client.post(url, data)
    assert response.status_code == 200 and "rate_percent" in response.context["form"].errors
    data["rate_percent"] = ["7"]
    data.pop("is_active", None)
    assert client.post(url, data).status_code == 302
    rate.refresh_from_db()
    assert (rate.rate_bp, rate.is_active) == (700, False)
    assert client_for(Role.ACCOUNTANT).post(url, data).status_code == 403


# -- a new partner from the web gets its default availability ----------------------------------


def test_a_partner_created_in_the_web_can_sell_at_once(world):  # type: ignore[no-untyped-def]
    client = client_for(Role.ADMIN)
    data = _form_data(client, reverse("web:partner_new"))
    data.update(name=["NordNet"], legal_name=["NordNet GmbH"], mode=["percentage"])
    response = client.post(reverse("web:partner_new"), data)
    assert response.status_code == 302, response.context["form"].errors
    nord = Partner.objects.get(name="NordNet")
    assert set(nord.available_tariffs.values_list("name", flat=True)) == {
        "Fiber 250",
        "Business quarterly",
    }
