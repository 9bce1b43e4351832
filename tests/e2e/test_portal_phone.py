"""The customer portal on a phone (360 and 390 px wide) in Debian's chromium: no page scrolls
sideways (tables become cards), the provider is named by its legal name with its bank
details and payment QR code, an invoice line says why its amount is not quantity x price,
there is no API-token menu, and the customer changes their password.

With ``ISPBILL_SCREENSHOTS=1`` the 390 px pages are saved to docs/screenshots/portal-390-*.png
(the pictures docs/reseller-modes.md and the README show)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.hashers import make_password
from playwright.sync_api import expect

from ispbill.accounts.models import Role, User
from ispbill.core.tenancy import system_scope
from ispbill.demo import DEMO_PASSWORD, demo_load
from ispbill.documents.i18n import line_adjustment_text
from ispbill.invoicing.models import Invoice, InvoiceLine, InvoiceStatus
from ispbill.partners.brand import issuer_brand
from ispbill.partners.models import Partner, PartnerMode

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
NO_SIDEWAYS_SCROLL_JS = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture
def portal(live_server: Any) -> dict[str, Any]:
    """The demo, and a portal user "kunde" for a customer of Alpenfunk (own invoicing) with
    an open invoice that has a prorated line."""
    with system_scope():
        demo_load()
        alpenfunk = Partner.objects.get(mode=PartnerMode.OWN_INVOICING)
        line = (
            InvoiceLine.objects.filter(
                invoice__issuer=alpenfunk,
                invoice__status__in=[InvoiceStatus.UNPAID, InvoiceStatus.PARTIALLY_PAID],
                adjustment__has_key="period_days",
            )
            .select_related("invoice__customer")
            .order_by("invoice_id")
            .first()
        )
        assert line is not None, "the demo has a prorated open invoice of Alpenfunk"
        customer = line.invoice.customer
        User.objects.create(
            username="kunde",
            role=Role.CUSTOMER,
            partner=alpenfunk,
            customer=customer,
            password=make_password(DEMO_PASSWORD),
        )
        open_invoices = Invoice.objects.filter(
            customer=customer, status__in=[InvoiceStatus.UNPAID, InvoiceStatus.PARTIALLY_PAID]
        )
        return {
            "site": live_server.url,
            "issuer": alpenfunk,
            "invoice": line.invoice,
            "adjustment": line_adjustment_text(line.adjustment, "en"),
            "owed_minor": sum(i.open_minor for i in open_invoices),
        }


def _phone(browser: Any, site: str, username: str, width: int) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 844})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{site}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/portal/")
    return page


def _pages(invoice_id: int) -> list[tuple[str, str]]:
    return [
        ("home", "/portal/"),
        ("invoices", "/portal/invoices/"),
        ("invoice", f"/portal/invoices/{invoice_id}/"),
        ("statement", "/portal/statement/"),
        ("profile", "/portal/profile/"),
        ("direct-debit", "/portal/direct-debit/"),
        ("password", "/account/password/"),
    ]


@pytest.mark.parametrize("width", [390, 360])
def test_every_portal_page_fits_a_phone(browser: Any, portal: dict[str, Any], width: int):
    site, issuer = portal["site"], portal["issuer"]
    page = _phone(browser, site, "kunde", width)
    for name, path in _pages(portal["invoice"].pk):
        page.goto(site + path)
        page.wait_for_load_state()
        width_used = page.evaluate("document.documentElement.scrollWidth")
        assert page.evaluate(NO_SIDEWAYS_SCROLL_JS), (path, width_used, width)
        text = page.locator("body").inner_text()
        # The provider by its brand (Alpenfunk's, with its logo and colour), its legal name
        # in the contact footer; never the home partner's internal name.
        expect(page.locator("header")).to_contain_text(
            issuer_brand(issuer).name, use_inner_text=True
        )
        assert page.locator("header img.brand-logo").count() == 1
        expect(page.locator("footer.portal-contact")).to_contain_text(
            issuer.legal_name, use_inner_text=True
        )
        assert not re.search(r"\bMain\b", text), path
        if width == 390 and os.environ.get("ISPBILL_SCREENSHOTS"):
            page.screenshot(path=str(SCREENSHOTS / f"portal-390-{name}.png"), full_page=True)

    # The menu of a customer: no API tokens, a password page.
    page.goto(f"{site}/portal/")
    page.get_by_role("button", name="Menu").click()
    nav = page.locator("#sidenav")
    expect(nav.get_by_role("link", name="Password")).to_be_visible()
    assert "API tokens" not in nav.inner_text()
    assert page.evaluate(NO_SIDEWAYS_SCROLL_JS)
    if width == 390 and os.environ.get("ISPBILL_SCREENSHOTS"):
        page.screenshot(path=str(SCREENSHOTS / "portal-390-menu.png"))
    page.context.close()


def test_portal_shows_how_to_pay_and_why_a_line_costs_less(browser: Any, portal: dict[str, Any]):
    site, issuer, invoice = portal["site"], portal["issuer"], portal["invoice"]
    page = _phone(browser, site, "kunde", 390)
    pay = page.locator("section.pay")
    grouped = " ".join(issuer.iban[i : i + 4] for i in range(0, len(issuer.iban), 4))
    assert issuer.legal_name in pay.inner_text() and grouped in pay.inner_text()
    owed = f"€{portal['owed_minor'] // 100:,}.{portal['owed_minor'] % 100:02d}"
    expect(pay).to_contain_text(owed, use_inner_text=True)
    qr = pay.get_by_role("img", name=re.compile("Payment QR code"))
    assert qr.get_attribute("src").startswith("data:image/svg+xml;base64,")

    page.goto(f"{site}/portal/invoices/{invoice.pk}/")
    expect(page.get_by_text(portal["adjustment"]).first).to_be_visible()  # e.g. "21/31 days"
    expect(page.locator("section.pay")).to_contain_text(
        invoice.number, use_inner_text=True
    )  # the reference
    page.context.close()


def test_customer_changes_their_password(browser: Any, portal: dict[str, Any]):
    site = portal["site"]
    page = _phone(browser, site, "kunde", 390)
    page.goto(f"{site}/account/password/")
    page.get_by_label("Old password").fill("wrong password")
    page.locator("#id_new_password1").fill("Glasfaser-2026!")
    page.get_by_label("New password confirmation").fill("Glasfaser-2026!")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your old password was entered incorrectly")).to_be_visible()
    page.get_by_label("Old password").fill(DEMO_PASSWORD)
    page.locator("#id_new_password1").fill("Glasfaser-2026!")
    page.get_by_label("New password confirmation").fill("Glasfaser-2026!")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your password is changed.")).to_be_visible()
    page.context.close()
    with system_scope():
        user = User.objects.get(username="kunde")
        assert user.check_password("Glasfaser-2026!")
