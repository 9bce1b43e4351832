"""Payment receipts: numbered in the issuer's gapless receipt series, listing the invoices
the payment paid with what stayed open, the account's true balance before and after, and
every text in the customer's language. Figures worked by hand."""

from __future__ import annotations

import re
from datetime import date

import pytest

from ispbill.billing.run import billing_run_start
from ispbill.core.money import Money
from ispbill.documents.i18n import TEXTS
from ispbill.invoicing.models import Invoice
from ispbill.payments.documents import receipt_document_data, receipt_pdf
from ispbill.payments.services import DuplicatePayment, payment_record
from tests.factories import CustomerFactory, ServiceFactory, TariffFactory
from tests.invoicing.conftest import pdf_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_invoices(home):
    """Fiber at 30.00 net + 19 % VAT = 35.70 a month, billed for January and February by
    one catch-up run on 1 Feb 2026 (both invoices dated that day)."""
    customer = CustomerFactory(partner=home, language="de", reference="K-10")
    ServiceFactory(
        customer=customer, tariff=TariffFactory(price_minor=3000), start_date=date(2026, 1, 1)
    )
    billing_run_start(run_date=date(2026, 2, 1))
    jan, feb = Invoice.objects.filter(customer=customer).order_by("issue_date")
    assert (jan.total_minor, feb.total_minor) == (3570, 3570)
    return customer, jan, feb


def test_receipts_numbered_listing_invoices_and_true_balance(two_invoices, home):
    customer, jan, feb = two_invoices
    first = payment_record(
        customer=customer,
        amount=Money.from_minor(4000, "EUR"),
        on=date(2026, 2, 10),
        reference="SEPA 4711",
    )
    # A duplicate bank reference is refused and takes no number: the series stays gapless.
    with pytest.raises(DuplicatePayment):
        payment_record(
            customer=customer,
            amount=Money.from_minor(100, "EUR"),
            on=date(2026, 2, 11),
            reference="SEPA 4711",
        )
    second = payment_record(
        customer=customer,
        amount=Money.from_minor(5000, "EUR"),
        on=date(2026, 2, 20),
        reference="SEPA 4712",
        method="cash",
    )
    # Default pattern R{year}{partner_id|2}{next|6}.
    prefix = f"R2026{home.pk:02d}"
    assert (first.receipt_number, second.receipt_number) == (prefix + "000001", prefix + "000002")

    # 40.00 pays January's 35.70 and 4.30 of February's, which keeps 31.40 open.
    # Before it the account owed 35.70 + 35.70 = 71.40; after it 71.40 - 40.00 = 31.40.
    data = receipt_document_data(first)
    assert data["document"]["number"] == prefix + "000001"
    assert data["document"]["payment_reference"] == "SEPA 4711"
    assert data["document"]["payment_method"] == "Überweisung"
    assert data["entries"] == [
        {
            "date": "2026-02-01",
            "description": "Rechnung",
            "reference": jan.number,
            "debit": "35.70",
            "credit": "35.70",
            "balance": "0.00",
        },
        {
            "date": "2026-02-01",
            "description": "Rechnung",
            "reference": feb.number,
            "debit": "35.70",
            "credit": "4.30",
            "balance": "31.40",
        },
    ]
    assert data["totals"] == {
        "received": "40.00",
        "applied": "40.00",
        "refunded": "0.00",
        "unapplied": "0.00",
        "opening_balance": "-71.40",
        "closing_balance": "-31.40",
        "debit": "40.00",
        "credit": "40.00",
    }

    # 50.00 pays the 31.40 left of February and keeps 18.60 as credit: -31.40 + 50.00.
    data = receipt_document_data(second)
    assert [(e["reference"], e["credit"], e["balance"]) for e in data["entries"]] == [
        (feb.number, "31.40", "0.00")
    ]
    assert data["document"]["payment_method"] == "Barzahlung"
    assert (data["totals"]["unapplied"], data["totals"]["opening_balance"]) == ("18.60", "-31.40")
    assert data["totals"]["closing_balance"] == "18.60"

    # The first receipt, printed again after the second payment, says the same.
    assert receipt_document_data(first)["totals"]["closing_balance"] == "-31.40"


def test_receipt_pdf_is_german_throughout(two_invoices):
    customer, jan, feb = two_invoices
    payment = payment_record(
        customer=customer, amount=Money.from_minor(4000, "EUR"), on=date(2026, 2, 10)
    )
    text = pdf_text(receipt_pdf(payment))
    flat = " ".join(text.split())
    assert f"Zahlungsbestätigung {payment.receipt_number}" in flat
    for expected in (
        "Überweisung",
        "Mit dieser Zahlung beglichene Rechnungen",
        jan.number,
        feb.number,
        "31,40 €",
        "Kontostand vor dieser Zahlung -71,40 €",
        "Kontostand nach dieser Zahlung -31,40 €",
        "Es bleiben 31,40 € zu zahlen.",
    ):
        assert expected in flat, expected
    # No English text of the templates: each English text that differs from its German one.
    english = {
        value
        for key, value in TEXTS["en"].items()
        if value != TEXTS["de"][key] and "{" not in value and len(value) > 3
    }
    # (The customer's own name, "Customer 7" from the factory, is data, not template text.)
    templated = text.replace(customer.name, "")
    found = [w for w in english if re.search(rf"\b{re.escape(w)}\b", templated)]
    assert found == []


def test_english_receipt_of_a_payment_kept_as_credit(home):
    customer = CustomerFactory(partner=home, language="en")
    payment = payment_record(
        customer=customer, amount=Money.from_minor(1250, "EUR"), on=date(2026, 3, 2)
    )
    data = receipt_document_data(payment)
    assert data["entries"] == []
    assert (data["totals"]["opening_balance"], data["totals"]["closing_balance"]) == (
        "0.00",
        "12.50",
    )
    flat = " ".join(pdf_text(receipt_pdf(payment)).split())
    assert "This payment paid no invoice; it is kept as credit on your account." in flat
    assert "Your account has a credit of €12.50." in flat
