"""On-demand PDFs: payment receipts, commission statements, customer statements; the
translations follow the customer's language."""

from __future__ import annotations

from datetime import date

import pytest

from ispbill.billing.run import billing_run_start
from ispbill.commission.statements import commission_statement_build, commission_statement_pdf
from ispbill.core.money import Money
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import PartnerMode
from ispbill.payments.documents import customer_statement_pdf, receipt_pdf
from ispbill.payments.models import Payment
from ispbill.payments.services import payment_record
from tests.factories import CustomerFactory, PartnerFactory, ServiceFactory, TariffFactory
from tests.invoicing.conftest import pdf_text

pytestmark = pytest.mark.django_db
JAN = date(2026, 1, 1)


@pytest.fixture
def paid(home):
    pct = PartnerFactory(name="Pct", mode=PartnerMode.PERCENTAGE, commission_bp=1000)
    c = CustomerFactory(partner=pct, language="de", reference="K-77")
    ServiceFactory(customer=c, tariff=TariffFactory(price_minor=3000), start_date=JAN)
    billing_run_start(run_date=JAN)
    payment_record(
        customer=c, amount=Money.from_minor(4000, "EUR"), on=date(2026, 1, 10), reference="BANK-1"
    )
    return pct, c


def test_receipt(paid):
    _, c = paid
    inv = Invoice.objects.get(customer=c)
    text = pdf_text(receipt_pdf(Payment.objects.get(customer=c)))
    assert "Zahlungsbestätigung" in text and "BANK-1" in text and inv.number in text
    assert "40,00" in text and "35,70" in text and "4,30" in text


def test_commission_statement(paid):
    pct, _ = paid
    statement = commission_statement_build(partner=pct, month=JAN)
    text = pdf_text(commission_statement_pdf(statement))
    assert "Commission statement" in text or "Provisionsabrechnung" in text
    assert "3.00" in text or "3,00" in text  # 10 % of 30.00 net


def test_customer_statement_in_the_customers_language(paid, home):
    _, c = paid
    text = pdf_text(customer_statement_pdf(c, start=JAN, end=date(2026, 1, 31)))
    assert "Kontoauszug" in text and "Rechnung" in text and "Zahlung" in text
    en = CustomerFactory(partner=home, language="en")
    ServiceFactory(customer=en, tariff=TariffFactory(price_minor=3000), start_date=JAN)
    billing_run_start(run_date=JAN)
    text = pdf_text(customer_statement_pdf(en, start=JAN, end=date(2026, 1, 31)))
    assert "Account statement" in text and "Invoice" in text and "€35.70" in text
