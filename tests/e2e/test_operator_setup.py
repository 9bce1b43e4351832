"""An operator sets up ispbill from an empty database in the browser, as a user would:
a partner of each mode, customers with services, a billing run, an invoice and its PDF, a
payment; then an own-invoicing partner's administrator and a customer sign in."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ispbill.accounts.models import Role, User
from ispbill.core.tenancy import system_scope
from ispbill.customers.models import Customer
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import Partner
from ispbill.partners.services import partner_home
from tests.e2e.browsing import (
    add_service,
    create_customer,
    euros,
    field,
    pdf_text,
    sign_in,
    vat_minor,
)

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "e2e-operator-pass"
BILLING_DATE = "2026-11-01"
VAT_BP = 1900  # 19 %
PRICE_MINOR = 3000  # the tariff: 30.00 a month, net
DISCOUNT_BP = 2000  # the aggregated partner's wholesale discount: 20 %
HOME_QUANTITY = 2


@pytest.fixture
def site(live_server):  # type: ignore[no-untyped-def]
    """A database with nothing but the operator's administrator (and the home partner)."""
    with system_scope():
        user = User(username="operator", role=Role.ADMIN, first_name="Olga", last_name="Operator")
        user.is_staff = user.is_superuser = True
        user.set_password(PASSWORD)
        user.save()
    return live_server.url


def user_for(username: str, **fields: object) -> None:
    """Users are created here: the users screen is not part of these workflows."""
    with system_scope():
        user = User(username=username, **fields)
        user.set_password(PASSWORD)
        user.save()


def create_partner(page, site: str, name: str, mode: str, settings: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{site}/partners/")
    page.get_by_role("link", name="New partner").click()
    field(page, "Name").fill(name)
    field(page, "Mode").select_option(label=mode)
    field(page, "Legal name").fill(f"{name} GmbH")
    for label, value in settings.items():
        control = field(page, label)
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(label=value)
        else:
            control.fill(value)
    page.get_by_role("button", name="Create partner").click()
    page.wait_for_url(re.compile(r"/partners/\d+/$"))
    expect(page.get_by_text(f"Partner {name} created.")).to_be_visible()


def add_tax_rate(page, site: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{site}/catalog/tariffs/")
    field(page, "Name").fill("VAT 19%")
    field(page, "Rate (%)").fill("19")
    field(page, "Category").select_option(value="S")
    page.get_by_role("button", name="Add tax rate").click()
    expect(page.get_by_text("Tax rate added.")).to_be_visible()


def add_tariff(page, site: str, name: str, price: str, partners: list[str]) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{site}/catalog/tariffs/")
    page.get_by_role("link", name="New tariff").click()
    field(page, "Name").fill(name)
    field(page, "Kind").select_option(label="Internet")
    field(page, "Tax rate").select_option(label="VAT 19%")
    field(page, "Price").fill(price)
    field(page, "Download (kbit/s)").fill("100000")
    field(page, "Upload (kbit/s)").fill("40000")
    for partner in partners:
        page.get_by_label(partner, exact=True).check()
    page.get_by_role("button", name="Save tariff").click()
    page.wait_for_url("**/catalog/tariffs/")
    expect(page.get_by_text(f"Tariff {name} created.")).to_be_visible()


def balance_text(page) -> str:  # type: ignore[no-untyped-def]
    return page.locator(".kpi", has_text="Balance").locator(".value").inner_text()


def test_operator_sets_up_partners_bills_and_collects(browser, site):
    page = sign_in(browser, site, "operator", PASSWORD)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    with system_scope():
        home = partner_home().name

    # A partner of each mode, with the settings of its mode.
    create_partner(
        page,
        site,
        "Percent Net",
        "Percentage commission",
        {"Commission (%)": "12.50", "Commission base": "Payments received"},
    )
    create_partner(page, site, "Own Net", "Own invoicing", {})
    create_partner(
        page,
        site,
        "Bulk Net",
        "Aggregated invoice",
        {"Wholesale discount (%)": "20", "Aggregation day": "1", "Aggregation cycle": "Monthly"},
    )
    with system_scope():
        modes = dict(Partner.objects.values_list("name", "mode"))
        assert modes["Percent Net"] == "percentage"
        assert modes["Own Net"] == "own_invoicing"
        assert modes["Bulk Net"] == "aggregated"
        assert Partner.objects.get(name="Percent Net").commission_bp == 1250
        assert Partner.objects.get(name="Bulk Net").discount_bp == DISCOUNT_BP
    page.get_by_role("link", name="Partners").click()
    listed = page.locator("main").inner_text()
    assert all(name in listed for name in ("Percent Net", "Own Net", "Bulk Net"))

    # The catalog: a tax rate, then a tariff the two resellers may sell.
    add_tax_rate(page, site)
    add_tariff(page, site, "Fiber 100", "30.00", ["Percent Net", "Bulk Net"])

    # Customers with a service: one per reseller, one of the ISP's own (two lines).
    create_customer(page, site, "Percent Net", "P-1", "Paula Prozent")
    add_service(page, "Fiber 100", BILLING_DATE)
    create_customer(page, site, "Bulk Net", "B-1", "Bruno Bulk")
    add_service(page, "Fiber 100", BILLING_DATE)
    create_customer(page, site, home, "D-1", "Dora Direkt")
    add_service(page, "Fiber 100", BILLING_DATE, quantity=HOME_QUANTITY)

    # The amounts, worked out by hand: VAT 19 % on each invoice's net.
    percent_net = PRICE_MINOR
    percent_total = percent_net + vat_minor(percent_net, VAT_BP)  # 35.70
    direct_net = PRICE_MINOR * HOME_QUANTITY
    direct_total = direct_net + vat_minor(direct_net, VAT_BP)  # 71.40
    bulk_net = PRICE_MINOR * (10000 - DISCOUNT_BP) // 10000  # partner price 24.00
    bulk_total = bulk_net + vat_minor(bulk_net, VAT_BP)  # 28.56, to the partner's account
    assert (percent_total, direct_total, bulk_total) == (3570, 7140, 2856)

    # Preview: totals per partner before anything is written.
    page.get_by_role("link", name="Billing runs").click()
    field(page, "Bill up to").fill(BILLING_DATE)
    page.get_by_role("button", name="Preview run").click()
    # Per issuer and recipient: the ISP issues all three, to a percentage partner's
    # customers, to its own customers and to the aggregated partner's account.
    rows = {
        tuple(cell.inner_text() for cell in row.locator("td").all()[:2]): row.locator(
            "td"
        ).last.inner_text()
        for row in page.locator("#preview-per-partner tbody tr").all()
    }
    assert euros(percent_total) in rows[(home, "Customers of Percent Net")]
    assert euros(direct_total) in rows[(home, "Own customers")]
    assert euros(bulk_total) in rows[(home, "Bulk Net (aggregated invoice)")]
    assert len(rows) == 3
    grand = percent_total + direct_total + bulk_total
    expect(page.locator(".kpis")).to_contain_text(euros(grand), use_inner_text=True)
    with system_scope():
        assert not Invoice.objects.exists()

    # Confirm, run, and follow the progress to the result.
    page.get_by_role("button", name="Confirm and run billing").click()
    page.wait_for_url(re.compile(r"/billing/runs/\d+/$"))
    page.locator("#run-progress .status.done").wait_for()
    assert page.get_by_role("progressbar").get_attribute("aria-valuenow") is not None
    expect(page.locator(".kpis").first).to_contain_text(euros(grand), use_inner_text=True)
    with system_scope():
        assert Invoice.objects.count() == 3
        invoice = Invoice.objects.get(customer__reference="P-1")
        assert invoice.total_minor == percent_total
        aggregated = Invoice.objects.get(customer__partner__is_home=True, kind="aggregated")
        assert aggregated.total_minor == bulk_total
        assert not Invoice.objects.filter(customer__reference="B-1").exists()

    # The invoice page and its PDF.
    page.get_by_role("link", name=invoice.number).click()
    page.wait_for_url(re.compile(r"/invoices/\d+/$"))
    expect(page.get_by_role("heading", name=re.compile(invoice.number))).to_be_visible()
    pdf = page.request.get(f"{site}{page.locator('#invoice-pdf').get_attribute('href')}")
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    body = pdf.body()
    assert body[:4] == b"%PDF"
    text = pdf_text(body)
    assert invoice.number in text and euros(percent_total) in text

    # A payment for the invoice: the customer's balance goes from owing to settled.
    page.get_by_role("link", name="Paula Prozent").click()
    assert euros(percent_total) in balance_text(page)
    assert page.locator(".kpi", has_text="Balance").get_attribute("class") == "kpi bad"
    page.get_by_role("link", name="Record payment").click()
    field(page, "Amount").fill(euros(percent_total))
    field(page, "Reference").fill("E2E-SETUP-1")
    page.get_by_role("button", name="Record payment").click()
    page.wait_for_url(re.compile(r"/customers/\d+/$"))
    assert euros(0) in balance_text(page)
    assert "kpi bad" not in (page.locator(".kpi", has_text="Balance").get_attribute("class") or "")
    with system_scope():
        invoice.refresh_from_db()
        assert invoice.status == "paid"
    page.context.close()

    # The own-invoicing partner's administrator: its own data only, its own catalog.
    with system_scope():
        own = Partner.objects.get(name="Own Net")
        direct = Customer.objects.get(reference="D-1")
    user_for("ownadmin", role=Role.PARTNER_ADMIN, partner=own)
    page = sign_in(browser, site, "ownadmin", PASSWORD)
    expect(page.locator("header")).to_contain_text("Own Net", use_inner_text=True)
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Partners").count() == 0
    page.get_by_role("link", name="Customers").click()
    text = page.locator("main").inner_text()
    assert not any(n in text for n in ("Paula Prozent", "Bruno Bulk", "Dora Direkt"))
    assert page.request.get(f"{site}/invoices/{invoice.pk}/").status == 404
    assert page.request.get(f"{site}/customers/{direct.pk}/").status == 404
    add_tax_rate(page, site)
    add_tariff(page, site, "Own Fiber", "25.00", [])
    page.goto(f"{site}/catalog/tariffs/")
    tariffs = page.locator("main table.grid").first.inner_text()
    assert "Own Fiber" in tariffs and "Fiber 100\t" not in tariffs
    create_customer(page, site, "Own Net", "O-1", "Olaf Eigen")
    add_service(page, "Own Fiber", BILLING_DATE)
    with system_scope():
        mine = Customer.objects.get(reference="O-1")
        assert mine.partner_id == own.pk
        assert mine.services.get().tariff.partner_id == own.pk
    page.context.close()

    # The ISP's customer in the portal downloads its invoice.
    with system_scope():
        home_partner = partner_home()
    user_for("dora", role=Role.CUSTOMER, partner=home_partner, customer=direct)
    page = sign_in(browser, site, "dora", PASSWORD)
    page.wait_for_url("**/portal/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Invoices").click()
    link = page.get_by_role("link", name="PDF").first
    response = page.request.get(f"{site}{link.get_attribute('href')}")
    assert response.ok and response.body()[:4] == b"%PDF"
    with system_scope():
        number = Invoice.objects.get(customer=direct).number
    assert number in pdf_text(response.body())
    page.context.close()


def test_partner_form_refuses_a_bad_percentage(browser, site):
    page = sign_in(browser, site, "operator", PASSWORD)
    page.goto(f"{site}/partners/new/")
    field(page, "Name").fill("Too Greedy")
    field(page, "Mode").select_option(label="Percentage commission")
    field(page, "Commission (%)").fill("150")
    page.get_by_role("button", name="Create partner").click()
    page.wait_for_load_state()
    box = page.locator(".field", has=field(page, "Commission (%)"))
    assert "has-error" in (box.get_attribute("class") or "")
    error = box.locator(".errorlist").inner_text()
    assert "100" in error
    # The other fields keep what was typed; nothing was created.
    assert field(page, "Name").input_value() == "Too Greedy"
    with system_scope():
        assert not Partner.objects.filter(name="Too Greedy").exists()
    page.context.close()
