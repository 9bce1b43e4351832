"""A reseller's month in the browser, one walk per mode (issue 19, "Done when"): the partner
signs in, adds a customer and a service from its tariff list, the month is billed (by the
partner itself when it invoices its own customers, else by the operator), the partner opens
its document (its own invoice, the operator's aggregated invoice to it, its commission
statement) and its dunning page.

The month billed is the previous calendar month, so it is closed (commission statements) and
its invoices are overdue today by 14 to 46 days: past the blocking period (10 days), not past
the deactivation period (60 days), whatever day the test runs.

Screenshots (1280 px wide) go to a temporary directory; to refresh the README's, run with
``ISPBILL_E2E_SCREENSHOTS=docs/screenshots``."""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from django.utils.formats import date_format
from playwright.sync_api import expect

from ispbill.accounts.models import Role, User
from ispbill.catalog.models import PartnerPrice, Tariff, TaxRate
from ispbill.core.tenancy import system_scope
from ispbill.customers.models import Customer
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import (
    AggregationCycle,
    CommissionBase,
    CommissionStatement,
    Partner,
    PartnerMode,
)
from ispbill.partners.services import partner_home
from tests.e2e.browsing import (
    add_service,
    create_customer,
    euros,
    euros_de,
    field,
    pdf_text,
    sign_in,
)

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "e2e-reseller-pass"
WIDE = {"width": 1280, "height": 800}
VAT_BP = 1900  # 19 %, the operator's and Alpenfunk's rate
FIBER100_MINOR = 2990  # the operator's Fiber 100: 29.90 a month, net
FIBER250_MINOR = 3990  # the operator's Fiber 250: 39.90 a month, net
WISP_F250_MINOR = 2900  # WISP's partner price for Fiber 250: 29.00
WISP_DISCOUNT_BP = 2500  # WISP's discount off retail where it has no partner price: 25 %
CITYNET_BP = 1250  # CityNet's commission: 12.50 % of the invoiced net
CITYNET_VAT_ID = "DE287654324"  # VAT-registered in Germany: 19 % VAT on its commission
ALPEN50_MINOR = 3450  # Alpenfunk's own Alpen Funk 50: 34.50 a month, net


def month_billed() -> date:
    """The first day of the previous month: the billing date (and the services' start)."""
    first = timezone.localdate().replace(day=1)
    return (
        first.replace(year=first.year - 1, month=12)
        if first.month == 1
        else first.replace(month=first.month - 1)
    )


def shot(page: Any, tmp_path: Path, name: str) -> None:
    """A screenshot of the viewport (1280 px wide), into the README's folder when asked."""
    folder = Path(os.environ.get("ISPBILL_E2E_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(WIDE)
    page.screenshot(path=str(folder / f"{name}.png"))


@pytest.fixture
def site(live_server, settings):  # type: ignore[no-untyped-def]
    """The operator (Fiber 100 and 250) and one reseller of each mode, each with its
    administrator and no customer yet: CityNet (percentage), WISP Verbund (aggregated, a
    partner price for Fiber 250) and Alpenfunk (own invoicing, its own catalogue, its own
    runs)."""
    from django.db import connection

    # As test_browser: a run in a thread on PostgreSQL; on SQLite's in-memory test
    # database (table locks, no waiting) the run goes inline.
    settings.BILLING_RUN_IN_THREAD = connection.vendor == "postgresql"
    with system_scope():
        home = partner_home()
        home.name, home.legal_name = "Nordnetz", "Nordnetz Breitband GmbH"
        home.email = "billing@nordnetz.example"
        home.save()
        vat = TaxRate.objects.create(partner=home, name="VAT 19%", rate_bp=VAT_BP)
        f100 = Tariff.objects.create(
            partner=home, tax_rate=vat, name="Fiber 100", price_minor=FIBER100_MINOR
        )
        f250 = Tariff.objects.create(
            partner=home, tax_rate=vat, name="Fiber 250", price_minor=FIBER250_MINOR
        )
        citynet = Partner.objects.create(
            name="CityNet",
            legal_name="CityNet Vertrieb UG",
            mode=PartnerMode.PERCENTAGE,
            city="Kiel",
            commission_bp=CITYNET_BP,
            commission_base=CommissionBase.INVOICED,
            vat_id=CITYNET_VAT_ID,
        )
        wisp = Partner.objects.create(
            name="WISP Verbund",
            legal_name="WISP Verbund eG",
            mode=PartnerMode.AGGREGATED,
            city="Greifswald",
            discount_bp=WISP_DISCOUNT_BP,
            aggregation_day=1,
            aggregation_cycle=AggregationCycle.MONTHLY,
        )
        wisp.account = Customer.objects.create(
            partner=home, reference="P-WISP", name=wisp.legal_name, city="Greifswald"
        )
        wisp.save(update_fields=["account"])
        alpen = Partner.objects.create(
            name="Alpenfunk",
            legal_name="Alpenfunk Internet GmbH",
            mode=PartnerMode.OWN_INVOICING,
            city="Berchtesgaden",
            iban="DE02120300000000202051",
            invoice_number_pattern="AF-{year}-{next|5}",
        )
        for partner in (citynet, wisp):
            f100.available_to.add(partner)
            f250.available_to.add(partner)
        PartnerPrice.objects.create(partner=wisp, tariff=f250, price_minor=WISP_F250_MINOR)
        alp_vat = TaxRate.objects.create(partner=alpen, name="MwSt 19%", rate_bp=VAT_BP)
        Tariff.objects.create(
            partner=alpen, tax_rate=alp_vat, name="Alpen Funk 50", price_minor=ALPEN50_MINOR
        )
        for username, role, partner in (
            ("operator", Role.ADMIN, None),
            ("citynet", Role.PARTNER_ADMIN, citynet),
            ("wispverbund", Role.PARTNER_ADMIN, wisp),
            ("alpenfunk", Role.PARTNER_ADMIN, alpen),
        ):
            user = User(username=username, role=role, partner=partner)
            user.is_staff = user.is_superuser = role == Role.ADMIN
            user.set_password(PASSWORD)
            user.save()
    return live_server.url


def tariff_row(page: Any, name: str) -> str:
    """The partner's tariff list, and the text of the row of ``name``."""
    page.get_by_role("link", name=re.compile("Tariffs")).first.click()
    page.wait_for_url("**/catalog/tariffs/**")
    return str(page.get_by_role("row", name=re.compile(re.escape(name))).inner_text())


def run_billing(page: Any, run_date: date, issuer: str) -> None:
    """Preview the run up to ``run_date`` from the billing page, confirm it and wait for
    it to finish."""
    page.get_by_role("link", name="Billing runs").click()
    field(page, "Bill up to").fill(run_date.isoformat())
    page.get_by_role("button", name="Preview run").click()
    groups = page.locator("#preview-per-partner")
    groups.wait_for(state="visible", timeout=30_000)
    assert {r.split("\t")[0] for r in groups.locator("tbody tr").all_inner_texts()} == {issuer}
    page.get_by_role("button", name="Confirm and run billing").click()
    page.wait_for_url(re.compile(r"/billing/runs/\d+/$"))
    page.locator("#run-progress .status.done").wait_for(timeout=30_000)


def overdue_row(page: Any, number: str) -> str:
    """The dunning page's overdue tab, and the text of the row of invoice ``number``."""
    page.get_by_role("link", name="Dunning").click()
    page.wait_for_url("**/dunning/**")
    return str(page.get_by_role("row", name=re.compile(re.escape(number))).inner_text())


def test_percentage_partner_month(browser, site, tmp_path):  # type: ignore[no-untyped-def]
    day = month_billed()
    # The partner sells Fiber 100 at the operator's retail price (its customers pay that;
    # CityNet earns its commission).
    page = sign_in(browser, site, "citynet", PASSWORD, WIDE)
    expect(page.locator("header")).to_contain_text("CityNet", use_inner_text=True)
    assert euros(FIBER100_MINOR) in tariff_row(page, "Fiber 100")
    assert page.get_by_role("columnheader", name="Your price").count() == 0
    shot(page, tmp_path, "reseller-percentage-tariffs")
    create_customer(page, site, "CityNet", "C-1", "Clara City")
    add_service(page, "Fiber 100", day.isoformat())
    page.context.close()

    # The operator's run bills CityNet's customer: 29.90 net + 19 % VAT
    # (2990 x 1900 / 10000 = 568.1 -> 5.68) = 35.58.
    total = FIBER100_MINOR + (FIBER100_MINOR * VAT_BP + 5000) // 10000
    assert total == 3558
    page = sign_in(browser, site, "operator", PASSWORD, WIDE)
    run_billing(page, day, "Nordnetz")
    with system_scope():
        invoice = Invoice.objects.get(customer__reference="C-1")
        assert invoice.total_minor == total
    # The month is closed: the operator builds and approves CityNet's statement.
    # Commission: 12.50 % of the invoiced net, 2990 x 1250 / 10000 = 373.75 -> 3.74.
    commission = (FIBER100_MINOR * CITYNET_BP + 5000) // 10000
    assert commission == 374
    page.get_by_role("link", name="Commissions").click()
    field(page, "Month").fill(day.isoformat())
    page.get_by_role("button", name="Build statements").click()
    page.get_by_role("row", name=re.compile(f"{day:%B %Y}")).get_by_role("link").click()
    page.get_by_role("button", name="Approve").click()  # the confirmation is accepted
    page.get_by_text("Statement approved").wait_for()
    page.context.close()

    # Approved, it is a self-billing credit note ("Gutschrift") in its own series, with
    # VAT on the commission (CityNet is VAT-registered in Germany): 374 x 1900 / 10000 =
    # 71.06 -> 0.71; the operator pays 3.74 + 0.71 = 4.45.
    tax = (commission * VAT_BP + 5000) // 10000
    gross = commission + tax
    assert (tax, gross) == (71, 445)

    # CityNet reads its statement (and its PDF): the line names its customer and invoice.
    page = sign_in(browser, site, "citynet", PASSWORD, WIDE)
    page.get_by_role("link", name="Commissions").click()
    listed = page.get_by_role("row", name=re.compile(f"{day:%B %Y}"))
    assert euros(commission) in listed.inner_text() and "Approved" in listed.inner_text()
    listed.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/commissions/\d+/$"))
    with system_scope():
        statement = CommissionStatement.objects.get(partner__name="CityNet")
        assert statement.total_minor == commission
        assert (statement.tax_minor, statement.gross_minor) == (tax, gross)
        assert statement.number.startswith("GS")
    head = page.locator("main .page-head").inner_text()
    assert f"Self-billing credit note {statement.number}" in head
    assert euros(tax) in head and euros(gross) in head
    line = page.get_by_role("row", name=re.compile(re.escape(invoice.number))).inner_text()
    assert "Clara City" in line and euros(FIBER100_MINOR) in line and euros(commission) in line
    footer = page.locator("main table.grid tfoot").inner_text()
    assert euros(commission) in footer and euros(tax) in footer and euros(gross) in footer
    shot(page, tmp_path, "reseller-percentage-commission")
    pdf = page.request.get(f"{site}/commissions/{statement.pk}/pdf/")
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.body())  # a German document: 4,45
    assert statement.number in text and "Gutschrift" in text and euros_de(gross) in text
    assert "Clara City" in text
    xml = page.request.get(
        f"{site}{page.get_by_role('link', name='XML (Factur-X)').get_attribute('href')}"
    )
    assert xml.ok and statement.number in xml.text()

    # Dunning is the operator's: CityNet sees its customer's overdue invoice and the day it
    # will be blocked (due 14 days after the billing date), no run of its own.
    row = overdue_row(page, invoice.number)
    assert "Clara City" in row and date_format(invoice.due_date) in row and euros(total) in row
    assert str((timezone.localdate() - invoice.due_date).days) in row
    expect(page.get_by_text("The operator's dunning run handles your customers.")).to_be_visible()
    assert page.locator("#tab-next").count() == 0
    shot(page, tmp_path, "reseller-percentage-dunning")
    page.context.close()


def test_aggregated_partner_month(browser, site, tmp_path):  # type: ignore[no-untyped-def]
    day = month_billed()
    page = sign_in(browser, site, "wispverbund", PASSWORD, WIDE)
    expect(page.locator("header")).to_contain_text("WISP Verbund", use_inner_text=True)
    # Its tariff list shows the retail price and its own: its partner price for Fiber 250
    # (29.00), its 25 % discount for Fiber 100 (2990 x 7500 / 10000 = 2242.5 -> 22.43).
    row = tariff_row(page, "Fiber 250")
    expect(page.get_by_role("columnheader", name="Your price")).to_be_visible()
    assert euros(FIBER250_MINOR) in row and euros(WISP_F250_MINOR) in row
    f100_price = (FIBER100_MINOR * (10000 - WISP_DISCOUNT_BP) + 5000) // 10000
    assert f100_price == 2243
    assert euros(f100_price) in tariff_row(page, "Fiber 100")
    shot(page, tmp_path, "reseller-aggregated-tariffs")
    create_customer(page, site, "WISP Verbund", "W-1", "Willi Wisp")
    add_service(page, "Fiber 250", day.isoformat())
    page.context.close()

    # The operator's run issues one aggregated invoice to WISP's account, at WISP's partner
    # price for Fiber 250: 29.00 net + 19 % VAT (2900 x 1900 / 10000 = 5.51) = 34.51; its
    # customer gets no invoice from the operator.
    total = WISP_F250_MINOR + (WISP_F250_MINOR * VAT_BP + 5000) // 10000
    assert total == 3451
    page = sign_in(browser, site, "operator", PASSWORD, WIDE)
    run_billing(page, day, "Nordnetz")
    page.context.close()
    with system_scope():
        aggregated = Invoice.objects.get(kind="aggregated")
        assert aggregated.customer.reference == "P-WISP"
        assert aggregated.total_minor == total
        assert not Invoice.objects.filter(customer__reference="W-1").exists()

    # WISP reads the aggregated invoice: its customer's section, the amounts, the PDF.
    page = sign_in(browser, site, "wispverbund", PASSWORD, WIDE)
    page.goto(f"{site}/invoices/aggregated/")
    page.get_by_role("link", name=aggregated.number).click()
    page.wait_for_url(re.compile(r"/invoices/\d+/$"))
    lines = page.locator("main table.grid").first.inner_text()
    assert "Willi Wisp" in lines and euros(WISP_F250_MINOR) in lines
    expect(page.locator("main")).to_contain_text(euros(total), use_inner_text=True)
    shot(page, tmp_path, "reseller-aggregated-invoice")
    pdf = page.request.get(f"{site}{page.locator('#invoice-pdf').get_attribute('href')}")
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.body())
    assert aggregated.number in text and euros(total) in text and "Willi Wisp" in text

    # Dunning is the operator's: WISP sees its own account's overdue invoice and the day it
    # will be blocked; no run of its own.
    row = overdue_row(page, aggregated.number)
    assert date_format(aggregated.due_date) in row and euros(total) in row
    assert str((timezone.localdate() - aggregated.due_date).days) in row
    assert page.locator("#tab-next").count() == 0
    shot(page, tmp_path, "reseller-aggregated-dunning")
    page.context.close()


def test_own_invoicing_partner_month(browser, site, tmp_path):  # type: ignore[no-untyped-def]
    day = month_billed()
    page = sign_in(browser, site, "alpenfunk", PASSWORD, WIDE)
    assert "Alpenfunk" in page.locator("header").inner_text()
    # Its own catalogue: its tariff at its price; the operator's are not offered to it.
    row = tariff_row(page, "Alpen Funk 50")
    assert euros(ALPEN50_MINOR) in row and "Yours" in row
    assert page.get_by_text("Fiber 250").count() == 0
    create_customer(page, site, "Alpenfunk", "A-1", "Alma Alpen")
    add_service(page, "Alpen Funk 50", day.isoformat())

    # Alpenfunk previews and runs its own billing: 34.50 net + 19 % VAT
    # (3450 x 1900 / 10000 = 655.5 -> 6.56) = 41.06, issued by Alpenfunk in its series.
    total = ALPEN50_MINOR + (ALPEN50_MINOR * VAT_BP + 5000) // 10000
    assert total == 4106
    page.get_by_role("link", name="Billing runs").click()
    expect(page.get_by_text("Bills Alpenfunk")).to_be_visible()
    field(page, "Bill up to").fill(day.isoformat())
    page.get_by_role("button", name="Preview run").click()
    page.locator("#preview-per-partner").wait_for(state="visible", timeout=30_000)
    expect(page.locator(".kpis")).to_contain_text(euros(total), use_inner_text=True)
    shot(page, tmp_path, "reseller-own-preview")
    page.get_by_role("button", name="Confirm and run billing").click()
    page.wait_for_url(re.compile(r"/billing/runs/\d+/$"))
    page.locator("#run-progress .status.done").wait_for(timeout=30_000)
    with system_scope():
        invoice = Invoice.objects.get(customer__reference="A-1")
        assert invoice.issuer_id == Partner.objects.get(name="Alpenfunk").pk
        assert invoice.number == f"AF-{day.year}-00001"
        assert invoice.total_minor == total
    run_page = page.url

    # Its run history: its run, for its customers.
    page.get_by_role("link", name="Billing runs").click()
    runs = page.locator("main table.grid tbody tr")
    assert runs.count() == 1
    history = runs.first.inner_text()
    assert "Alpenfunk" in history and date_format(day) in history and euros(total) in history

    # Its invoice, and its PDF with its amount.
    page.goto(run_page)
    page.get_by_role("link", name=invoice.number).click()
    page.wait_for_url(re.compile(r"/invoices/\d+/$"))
    expect(page.locator("main")).to_contain_text(euros(total), use_inner_text=True)
    shot(page, tmp_path, "reseller-own-invoice")
    pdf = page.request.get(f"{site}{page.locator('#invoice-pdf').get_attribute('href')}")
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.body())
    assert invoice.number in text and euros(total) in text and "Alpenfunk" in text

    # Its own dunning preview: the invoice is past Alpenfunk's blocking period (10 days)
    # and not its deactivation period (60 days), so its next run blocks Alma Alpen.
    page.get_by_role("link", name="Dunning").click()
    page.locator("#tab-next").click()
    page.wait_for_url("**tab=next")
    counts = page.locator("#dunning-counts")
    expect(counts.locator(".kpi", has_text="To block").locator(".value")).to_have_text(
        "1", use_inner_text=True
    )
    expect(counts.locator(".kpi", has_text="To deactivate").locator(".value")).to_have_text(
        "0", use_inner_text=True
    )
    expect(page.locator("#dunning-block")).to_contain_text("Alma Alpen", use_inner_text=True)
    expect(page.get_by_role("button", name="Run dunning now")).to_be_visible()
    shot(page, tmp_path, "reseller-own-dunning")
    with system_scope():
        assert Customer.objects.get(reference="A-1").status == "active"  # a preview only
    page.context.close()
