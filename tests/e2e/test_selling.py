"""Selling in the browser (docs/reseller-modes.md, "Selling and prices"): the operator sets
a reseller's price list and makes every tariff available to it; the reseller then sees the
tariffs it may sell at its own price, and an own-invoicing partner builds its catalogue."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ispbill.accounts.models import Role, User
from ispbill.catalog.models import PartnerPrice, Tariff, TaxRate
from ispbill.core.tenancy import system_scope
from ispbill.partners.models import Partner, PartnerMode
from ispbill.partners.services import partner_home
from tests.e2e.browsing import field, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "e2e-selling-pass"


@pytest.fixture
def site(live_server):  # type: ignore[no-untyped-def]
    """The operator's Fiber 250 (39.90) and Fiber 100 (29.90); WISP, aggregated with a 10 %
    discount, may sell neither yet; Alpenfunk, own invoicing, has no catalogue."""
    with system_scope():
        home = partner_home()
        vat = TaxRate.objects.create(partner=home, name="VAT 19", rate_bp=1900)
        for name, price in (("Fiber 250", 3990), ("Fiber 100", 2990)):
            Tariff.objects.create(partner=home, name=name, price_minor=price, tax_rate=vat)
        wisp = Partner.objects.create(name="WISP", mode=PartnerMode.AGGREGATED, discount_bp=1000)
        alpen = Partner.objects.create(name="Alpenfunk", mode=PartnerMode.OWN_INVOICING)
        for username, role, partner in (
            ("operator", Role.ADMIN, None),
            ("wisp", Role.PARTNER_ADMIN, wisp),
            ("alpen", Role.PARTNER_ADMIN, alpen),
        ):
            user = User(username=username, role=role, partner=partner)
            user.set_password(PASSWORD)
            user.save()
    return live_server.url


def test_the_operator_sets_prices_and_the_reseller_sells(browser, site):  # type: ignore[no-untyped-def]
    with system_scope():
        wisp = Partner.objects.get(name="WISP")
        f100 = Tariff.objects.get(name="Fiber 100")
    page = sign_in(browser, site, "operator", PASSWORD)
    page.goto(f"{site}/partners/{wisp.pk}/")
    page.get_by_role("link", name="Tariffs and prices").click()
    expect(page.get_by_text("0 of 2 operator tariffs available")).to_be_visible()
    page.get_by_label("Fiber 100: available").check()
    page.get_by_label("Fiber 100: partner price").fill("21.00")
    page.get_by_label("Fiber 250: partner price").fill("1.234")
    page.get_by_role("button", name="Save price list").click()
    expect(page.get_by_text("Use at most 2 decimals for EUR.")).to_be_visible()
    with system_scope():
        assert not PartnerPrice.objects.exists()  # all or nothing
    page.get_by_label("Fiber 250: partner price").fill("")
    page.get_by_role("button", name="Save price list").click()
    expect(page.get_by_text("1 tariffs made available")).to_be_visible()
    page.get_by_role("button", name="Make all tariffs available").click()  # confirmed
    expect(page.get_by_text("2 of 2 operator tariffs available")).to_be_visible()
    page.goto(f"{site}/catalog/tariffs/")
    # Alpenfunk sells its own catalogue: each operator tariff names WISP alone.
    assert page.get_by_role("link", name="WISP", exact=True).count() == 2
    page.context.close()
    with system_scope():
        assert PartnerPrice.objects.get(partner=wisp, tariff=f100).price_minor == 2100

    page = sign_in(browser, site, "wisp", PASSWORD)
    page.get_by_role("link", name=re.compile("Tariffs")).first.click()
    expect(page.get_by_role("columnheader", name="Your price")).to_be_visible()
    row250 = page.get_by_role("row", name=re.compile("Fiber 250"))
    row100 = page.get_by_role("row", name=re.compile("Fiber 100"))
    expect(row250).to_contain_text("35.91", use_inner_text=True)  # 39.90 less 10 %
    expect(row100).to_contain_text("21.00", use_inner_text=True)  # its partner price
    page.context.close()


def test_an_own_invoicing_partner_builds_its_catalogue(browser, site):  # type: ignore[no-untyped-def]
    page = sign_in(browser, site, "alpen", PASSWORD)
    page.goto(f"{site}/catalog/tariffs/")
    expect(page.get_by_text("Your catalogue is empty.")).to_be_visible()
    field(page, "Name").fill("MwSt 19")
    field(page, "Rate (%)").fill("19")
    page.get_by_role("button", name="Add tax rate").click()
    expect(page.get_by_text("Tax rate added.")).to_be_visible()
    page.get_by_role("link", name="create your first tariff").click()
    field(page, "Name").fill("Alpen Funk 50")
    field(page, "Price").fill("34.50")
    field(page, "Tax rate").select_option(label="MwSt 19")
    page.get_by_role("button", name="Save tariff").click()
    expect(page.get_by_role("cell", name="Alpen Funk 50")).to_be_visible()
    assert page.get_by_text("Fiber 250").count() == 0
    page.context.close()
