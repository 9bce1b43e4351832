"""The Record payment page's customer picker in a real browser (docs/payments.md,
"Recording a payment by hand"): typed into, the matches come as you type (htmx), one is
chosen with the keyboard, and the payment is recorded for it; a partner finds its own
customers only."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ispbill.accounts.models import Role, User
from ispbill.core.tenancy import system_scope
from ispbill.customers.models import Customer
from ispbill.partners.models import Partner, PartnerMode
from ispbill.partners.services import partner_home
from ispbill.payments.models import Payment
from tests.e2e.browsing import field, sign_in
from tests.e2e.test_accessibility import low_contrast, unlabelled

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "e2e-picker-pass"


@pytest.fixture
def site(live_server):  # type: ignore[no-untyped-def]
    """The home partner's 30 Bergers and Zora Zimmermann; own-invoicing Alpenfunk's Zenzi
    Zach; the operator and Alpenfunk's staff."""
    with system_scope():
        home = partner_home()
        alpen = Partner.objects.create(name="Alpenfunk", mode=PartnerMode.OWN_INVOICING)
        for n in range(30):
            Customer.objects.create(partner=home, reference=f"B{n:02d}", name=f"Berger {n:02d}")
        Customer.objects.create(
            partner=home, reference="10077", name="Zora Zimmermann", email="zora@example.net"
        )
        Customer.objects.create(
            partner=alpen, reference="A-1", name="Zenzi Zach", email="zenzi@alpen.example"
        )
        for username, role, partner in (
            ("operator", Role.ADMIN, None),
            ("alpen", Role.PARTNER_STAFF, alpen),
        ):
            user = User(username=username, role=role, partner=partner)
            user.set_password(PASSWORD)
            user.save()
    return live_server.url


def test_operator_types_chooses_with_the_keyboard_and_records(browser, site):  # type: ignore[no-untyped-def]
    page = sign_in(browser, site, "operator", PASSWORD)
    page.goto(f"{site}/payments/new/")
    expect(page.get_by_role("status")).to_have_text(re.compile("No account chosen yet"))
    assert page.get_by_role("radio").count() == 0
    search = page.get_by_label("Find the customer")
    search.press_sequentially("zimm", delay=40)
    zora = page.get_by_role("radio", name=re.compile(r"Zora Zimmermann\s+10077"))
    expect(zora).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("1 customer matches “zimm”.")
    assert page.url == f"{site}/payments/new/"  # asked in the background, not navigated
    # The keyboard: from the search past its button into the matches; Space chooses.
    search.press("Tab")
    expect(page.get_by_role("button", name="Search")).to_be_focused()
    page.keyboard.press("Tab")
    expect(zora).to_be_focused()
    page.keyboard.press("Space")
    expect(zora).to_be_checked()
    # Searching on keeps the chosen one, checked and first; at most 20 matches.
    search.fill("berger")
    expect(page.get_by_role("status")).to_have_text(re.compile("More than 20 customers match"))
    expect(page.get_by_role("radio")).to_have_count(21)
    expect(page.get_by_role("radio").first).to_be_checked()
    expect(zora).to_be_checked()
    # Enter in the search asks again in the background too.
    search.fill("Berger 07")
    search.press("Enter")
    expect(page.get_by_role("radio")).to_have_count(2)
    assert page.url == f"{site}/payments/new/"
    assert unlabelled(page) == [] and low_contrast(page) == []
    field(page, "Amount").fill("42.10")
    field(page, "Reference").fill("PICKER-E2E")
    page.get_by_role("button", name="Record payment").click()
    page.wait_for_url(re.compile(r"/customers/\d+/$"))
    expect(page.get_by_text("recorded for Zora Zimmermann")).to_be_visible()
    with system_scope():
        payment = Payment.objects.get(reference="PICKER-E2E")
        assert payment.customer.name == "Zora Zimmermann"
        assert payment.amount_minor == 4210
    page.context.close()


def test_partner_finds_its_own_customers_only_and_records(browser, site):  # type: ignore[no-untyped-def]
    page = sign_in(browser, site, "alpen", PASSWORD)
    page.goto(f"{site}/payments/new/")
    page.get_by_label("Find the customer").press_sequentially("z", delay=40)
    expect(page.get_by_role("status")).to_have_text("1 customer matches “z”.")
    expect(page.get_by_role("radio")).to_have_count(1)
    assert "Zora" not in page.locator("#customer-choices").inner_text()
    page.get_by_role("radio", name=re.compile("Zenzi Zach")).check()
    field(page, "Amount").fill("9.99")
    page.get_by_role("button", name="Record payment").click()
    page.wait_for_url(re.compile(r"/customers/\d+/$"))
    with system_scope():
        payment = Payment.objects.get(amount_minor=999)
        assert payment.customer.name == "Zenzi Zach"
    page.context.close()
