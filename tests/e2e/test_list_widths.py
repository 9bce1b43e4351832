"""Staff lists fit their screen in Debian's chromium: the payments list on a phone (390 and
360 px: one card per payment, as the other lists) and the E-mails page at 1280 px, with
e-mails of long addresses, subjects and errors. Neither the page nor a table's frame
scrolls sideways."""

from __future__ import annotations

from typing import Any

import pytest

from ispbill.core.tenancy import system_scope
from ispbill.customers.models import Customer
from ispbill.demo import DEMO_PASSWORD, demo_load
from ispbill.invoicing.models import Invoice
from tests.e2e.browsing import sign_in
from tests.factories import email_delivery

pytestmark = pytest.mark.django_db(transaction=True)

# How far the page, and each table's scrolling frame, reach past what is shown.
OVERFLOW_JS = """() => {
  const doc = document.documentElement;
  const frames = [...document.querySelectorAll('.table-wrap')].map(
    (el) => el.scrollWidth - el.clientWidth);
  return {page: doc.scrollWidth - window.innerWidth, tables: frames};
}"""


@pytest.fixture
def site(live_server: Any) -> str:
    with system_scope():
        demo_load()
        invoice = Invoice.objects.exclude(customer_snapshot__email="").order_by("pk").first()
        customer = Customer.objects.get(pk=invoice.customer_id)
        long_name = "buchhaltung.abteilung-rechnungswesen"
        for n, status in enumerate(["failed", "sent", "queued", "failed"] * 3):
            email_delivery(
                customer=customer,
                status=status,
                kind="invoice" if n % 2 else "reminder",
                invoice=invoice if n % 2 else None,
                to=f"{long_name}.{n}@sehr-lange-firmendomain-beispiel.example",
                subject=f"Zahlungserinnerung: Rechnung {invoice.number} vom 01.04.2026 über "
                "1.234,56 EUR, bitte begleichen Sie den offenen Betrag umgehend",
                last_error="SMTPRecipientsRefused: {'x@example.org': (550, b'5.1.1 "
                "mailbox unavailable: user unknown in virtual mailbox table')}"
                if status == "failed"
                else "",
            )
    return str(live_server.url)


def _overflow(page: Any, url: str) -> dict[str, Any]:
    page.goto(url)
    page.wait_for_load_state()
    return page.evaluate(OVERFLOW_JS)


@pytest.mark.parametrize("width", [390, 360])
def test_the_payments_list_fits_a_phone(browser: Any, site: str, width: int):
    for username in ("admin", "alpenfunk"):
        page = sign_in(browser, site, username, DEMO_PASSWORD, {"width": width, "height": 844})
        used = _overflow(page, f"{site}/payments/")
        assert page.locator("table.grid tbody tr").count() > 1
        assert used["page"] <= 0 and all(t <= 0 for t in used["tables"]), (username, used)
        page.context.close()


@pytest.mark.parametrize("width", [1280, 1366, 390])
def test_the_emails_page_fits_its_screen(browser: Any, site: str, width: int):
    page = sign_in(browser, site, "admin", DEMO_PASSWORD, {"width": width, "height": 900})
    used = _overflow(page, f"{site}/emails/")
    assert page.locator("table.emails tbody tr").count() >= 12
    assert used["page"] <= 0 and all(t <= 0 for t in used["tables"]), used
    page.context.close()
