"""The main workflows in a real browser (Debian's chromium) against a live server."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ispbill.core.tenancy import system_scope
from ispbill.demo import DEMO_PASSWORD, demo_load
from ispbill.invoicing.models import CreditNote, Invoice
from ispbill.payments.models import Payment

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def site(live_server):  # type: ignore[no-untyped-def]
    with system_scope():
        demo_load()
    return live_server.url


def sign_in(browser, site: str, username: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # confirmations of money actions
    page.goto(f"{site}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return page


def test_operator_bills_opens_pdf_records_payment_and_credits(browser, site):
    page = sign_in(browser, site, "admin")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.get_by_role("link", name="Billing runs").click()
    page.get_by_label("Bill up to").fill("2026-05-05")
    page.get_by_role("button", name="Preview run").click()
    # The dry run of the demo's billing takes a while on a busy machine: wait for the page.
    page.locator("#preview-per-partner").wait_for(state="visible", timeout=60_000)
    expect(page.locator("#preview-per-partner")).to_be_visible()
    with system_scope():
        before = Invoice.objects.count()
    page.get_by_role("button", name="Confirm and run billing").click()
    page.wait_for_url("**/billing/runs/**")
    expect(page.get_by_text("Per issuer and recipient")).to_be_visible()
    with system_scope():
        assert Invoice.objects.count() > before
    page.locator("table.grid").last.locator("a").first.click()
    page.wait_for_url("**/invoices/**")
    pdf_url = page.locator("#invoice-pdf").get_attribute("href")
    response = page.request.get(f"{site}{pdf_url}")
    assert response.ok and response.body()[:4] == b"%PDF"
    page.get_by_role("link", name="Record payment").first.click()
    page.get_by_label("Amount").fill("5.00")
    page.get_by_label("Reference").fill("E2E-1")
    page.get_by_role("button", name="Record payment").click()
    page.wait_for_url("**/customers/**")
    with system_scope():
        assert Payment.objects.filter(reference="E2E-1", amount_minor=500).exists()
    page.locator("table.grid a[href*='/invoices/']").first.click()
    page.get_by_role("link", name="Issue credit note").click()
    page.get_by_label("Reason").fill("Browser test")
    page.get_by_label("Credit everything not credited yet").check()
    page.get_by_role("button", name="Show the total to credit").click()
    # The confirmation shows the gross total before anything is issued.
    expect(page.get_by_test_id("credit-note-preview")).to_be_visible()
    page.get_by_role("button", name=re.compile(r"^Issue credit note of ")).click()
    page.wait_for_url("**/invoices/*/")
    with system_scope():
        assert CreditNote.objects.filter(reason="Browser test").exists()
    page.context.close()


def test_own_invoicing_partner_runs_its_billing_and_previews_its_dunning(browser, site, settings):
    """Alpenfunk runs its own billing (issue 19): its preview shows only its invoices, the
    run goes on in the background (a thread, as served without a broker) while its page
    follows the progress until it is done; its dunning page previews its next run.

    In a thread on PostgreSQL; on SQLite the test database is in memory with table locks
    and no waiting (served, the file database waits its turn), so the run goes inline."""
    from django.db import connection

    settings.BILLING_RUN_IN_THREAD = connection.vendor == "postgresql"
    page = sign_in(browser, site, "alpenfunk")
    page.get_by_role("link", name="Billing runs").click()
    expect(page.get_by_text("Bills Alpenfunk")).to_be_visible()
    page.get_by_label("Bill up to").fill("2026-05-05")
    page.get_by_role("button", name="Preview run").click()
    groups = page.locator("#preview-per-partner")
    groups.wait_for(state="visible", timeout=60_000)
    assert {row.split("\t")[0] for row in groups.locator("tbody tr").all_inner_texts()} == {
        "Alpenfunk"
    }
    page.get_by_role("button", name="Confirm and run billing").click()
    page.wait_for_url("**/billing/runs/**")
    # The progress polls until the run is done, then the page shows the figures.
    page.locator("#run-progress .status.done").wait_for(timeout=60_000)
    page.locator("#run-groups").wait_for(timeout=30_000)
    expect(page.locator("#run-groups")).to_contain_text("Alpenfunk", use_inner_text=True)
    page.get_by_role("link", name="Dunning").click()
    page.locator("#tab-next").click()
    page.wait_for_url("**tab=next")
    expect(page.locator("#dunning-counts")).to_be_visible()
    page.context.close()


def test_partner_sees_only_its_own_data(browser, site):
    page = sign_in(browser, site, "citynet")
    expect(page.locator("header")).to_contain_text("CityNet Resellers", use_inner_text=True)
    page.get_by_role("link", name="Customers").click()
    text = page.locator("main").inner_text()
    assert "Alpenfunk" not in text and "WISP" not in text
    page.context.close()


def test_customer_portal_and_invoice_pdf(browser, site):
    page = sign_in(browser, site, "customer")
    page.wait_for_url("**/portal/")
    expect(page.get_by_text("My services")).to_be_visible()
    href = page.get_by_role("link", name="PDF").first.get_attribute("href")
    response = page.request.get(f"{site}{href}")
    assert response.ok and response.body()[:4] == b"%PDF"
    page.context.close()
