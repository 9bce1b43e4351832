"""Payments, allocation, credit, refunds and credit notes, with numbers worked by hand."""

from __future__ import annotations

from datetime import date

import pytest

from ispbill.billing.run import billing_run_start
from ispbill.core.invariants import invariants_check
from ispbill.core.money import Money
from ispbill.invoicing.credit import CreditNoteError
from ispbill.invoicing.models import CreditNote, Invoice, InvoiceLine
from ispbill.ledger.models import Posting
from ispbill.payments.credit_notes import credit_note_issue
from ispbill.payments.models import Allocation, Payment
from ispbill.payments.selectors import customer_balance, customer_statement
from ispbill.payments.services import DuplicatePayment, PaymentError, payment_record, payment_refund
from tests.billing.builders import customer, service, tariff

pytestmark = pytest.mark.django_db


def eur(text: str) -> Money:
    return Money.parse(text, "EUR")


@pytest.fixture
def invoiced(home):
    """One customer with one invoice of 35.70 (30.00 + 19 % VAT), due 15 April."""
    c = customer()
    service(c, tariff(price=3000), date(2026, 4, 1))
    billing_run_start(run_date=date(2026, 4, 1))
    return c, Invoice.objects.get(customer=c)


def test_partial_payment_then_the_rest(invoiced):
    c, inv = invoiced
    payment_record(customer=c, amount=eur("20.00"), on=date(2026, 4, 5), reference="T1")
    inv.refresh_from_db()
    assert (inv.status, inv.allocated_minor, inv.open_minor) == ("partially_paid", 2000, 1570)
    assert customer_balance(c) == -1570
    payment_record(customer=c, amount=eur("15.70"), on=date(2026, 4, 9), reference="T2")
    inv.refresh_from_db()
    assert (inv.status, inv.open_minor, inv.paid_at) == ("paid", 0, date(2026, 4, 9))
    assert customer_balance(c) == 0
    assert invariants_check()[1] == []


def test_overpayment_is_credit_used_by_the_next_invoice(invoiced):
    c, inv = invoiced
    payment_record(customer=c, amount=eur("50.00"), on=date(2026, 4, 5), reference="T1")
    inv.refresh_from_db()
    assert inv.status == "paid"
    assert customer_balance(c) == 1430  # 50.00 - 35.70 = 14.30 credit
    billing_run_start(run_date=date(2026, 5, 1))
    may = Invoice.objects.get(customer=c, billing_date=date(2026, 5, 1))
    # 14.30 of the 35.70 May invoice is paid from the credit; 21.40 stays open.
    assert (may.status, may.allocated_minor, may.open_minor) == ("partially_paid", 1430, 2140)
    assert customer_balance(c) == -2140
    assert invariants_check()[1] == []


def test_payments_go_to_the_oldest_due_invoice_first(home):
    c = customer()
    service(c, tariff(price=1000), date(2026, 3, 1))
    billing_run_start(run_date=date(2026, 3, 1))
    billing_run_start(run_date=date(2026, 4, 1))
    march, april = Invoice.objects.filter(customer=c).order_by("due_date")
    payment_record(customer=c, amount=eur("15.00"), on=date(2026, 4, 2), reference="X")
    march.refresh_from_db()
    april.refresh_from_db()
    # 11.90 each: March paid in full, 3.10 on April.
    assert (march.status, april.allocated_minor) == ("paid", 310)


def test_same_bank_reference_twice_adds_nothing(invoiced):
    c, _ = invoiced
    payment_record(customer=c, amount=eur("10.00"), on=date(2026, 4, 5), reference="STMT-1")
    with pytest.raises(DuplicatePayment):
        payment_record(customer=c, amount=eur("10.00"), on=date(2026, 4, 5), reference="STMT-1")
    assert Payment.objects.count() == 1


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (Money.parse("0", "EUR"), "greater than zero"),
        (Money.parse("-5", "EUR"), "greater than zero"),
        (Money.parse("5", "USD"), "billed in EUR"),
    ],
)
def test_bad_payments_are_refused_and_write_nothing(invoiced, amount, message):
    c, _ = invoiced
    postings = Posting.objects.count()
    with pytest.raises(PaymentError, match=message):
        payment_record(customer=c, amount=amount, on=date(2026, 4, 5))
    assert Payment.objects.count() == 0 and Posting.objects.count() == postings


def test_credit_note_on_a_partly_paid_invoice(invoiced):
    c, inv = invoiced
    payment_record(customer=c, amount=eur("20.00"), on=date(2026, 4, 5), reference="T1")
    # Credit the whole invoice: 35.70, of which 15.70 was open and 20.00 was paid. The paid
    # part becomes credit on the account.
    cn = credit_note_issue(invoice=inv, on=date(2026, 4, 6), reason="Service outage")
    inv.refresh_from_db()
    assert (cn.net_minor, cn.tax_minor, cn.total_minor) == (3000, 570, 3570)
    assert cn.number == "CN202601000001"
    assert (inv.status, inv.credited_minor, inv.allocated_minor, inv.open_minor) == (
        "credited",
        3570,
        0,
        0,
    )
    assert customer_balance(c) == 2000
    assert Payment.objects.get().unallocated_minor == 2000
    assert invariants_check()[1] == []
    with pytest.raises(CreditNoteError, match="already fully credited"):
        credit_note_issue(invoice=inv, on=date(2026, 4, 7), reason="again")


def test_partial_credit_note_by_line(invoiced):
    c, inv = invoiced
    line = InvoiceLine.objects.get(invoice=inv)
    cn = credit_note_issue(
        invoice=inv, on=date(2026, 4, 6), reason="3 days outage", lines={line.pk: 300}
    )
    # 3.00 net + 19 % = 0.57 -> 3.57
    assert (cn.net_minor, cn.tax_minor, cn.total_minor) == (300, 57, 357)
    inv.refresh_from_db()
    assert (inv.status, inv.open_minor) == ("unpaid", 3213)
    with pytest.raises(CreditNoteError, match="left to credit"):
        credit_note_issue(
            invoice=inv, on=date(2026, 4, 6), reason="too much", lines={line.pk: 2701}
        )
    assert CreditNote.objects.count() == 1
    payment_record(customer=c, amount=eur("32.13"), on=date(2026, 4, 9), reference="P")
    inv.refresh_from_db()
    assert inv.status == "paid"
    assert invariants_check()[1] == []


def test_refund_of_credit(invoiced):
    c, _ = invoiced
    p = payment_record(customer=c, amount=eur("50.00"), on=date(2026, 4, 5), reference="T1")
    with pytest.raises(PaymentError, match="unallocated credit"):
        payment_refund(payment=p, amount=eur("20.00"), on=date(2026, 4, 6))
    payment_refund(payment=p, amount=eur("14.30"), on=date(2026, 4, 6), reason="customer asked")
    assert customer_balance(c) == 0
    assert invariants_check()[1] == []


def test_statement_with_running_balance(invoiced):
    c, _inv = invoiced
    payment_record(customer=c, amount=eur("20.00"), on=date(2026, 4, 5), reference="T1")
    st = customer_statement(c, start=date(2026, 4, 1), end=date(2026, 4, 30))
    assert [(r.kind, r.debit_minor, r.credit_minor, r.balance_minor) for r in st.rows] == [
        ("invoice", 3570, 0, -3570),
        ("payment", 0, 2000, -1570),
    ]
    assert (st.opening_minor, st.closing_minor) == (0, -1570)
    later = customer_statement(c, start=date(2026, 4, 2), end=date(2026, 4, 30))
    assert later.opening_minor == -3570 and len(later.rows) == 1


def test_ledger_postings_of_an_invoice_and_a_payment(invoiced):
    c, _inv = invoiced
    payment_record(customer=c, amount=eur("35.70"), on=date(2026, 4, 5), reference="T1")
    by_account = {}
    for account, amount in Posting.objects.values_list("account", "amount_minor"):
        by_account[account] = by_account.get(account, 0) + amount
    assert by_account == {"receivable": 0, "revenue": -3000, "vat_payable": -570, "bank": 3570}
    assert Allocation.objects.get().amount_minor == 3570


def test_the_receivable_check_names_only_the_customer_whose_ledger_differs(invoiced):
    """``ledger.receivable_equals_balance``, one statement over postings, invoices, credit
    notes and payments: a customer with a payment, a refund and a credit note agrees; one
    whose receivable posting was changed behind the ledger's back is named, alone."""
    from ispbill.payments.checks import check_receivable_equals_balance

    c, _april = invoiced
    other = customer()
    service(other, tariff(price=1000), date(2026, 4, 1))
    billing_run_start(run_date=date(2026, 5, 1))
    # April and May, 35.70 each, paid with 8.60 to spare, 5.00 of which is refunded.
    payment = payment_record(customer=c, amount=eur("80.00"), on=date(2026, 5, 5), reference="T1")
    payment_refund(payment=payment, amount=eur("5.00"), on=date(2026, 5, 6))
    line = InvoiceLine.objects.filter(invoice__customer=other).first()
    credit_note_issue(
        invoice=line.invoice, on=date(2026, 5, 2), lines={line.pk: 500}, reason="outage"
    )
    assert check_receivable_equals_balance() == []
    posting = Posting.objects.filter(customer_id=other.pk, account="receivable").first()
    Posting.objects.filter(pk=posting.pk).update(amount_minor=posting.amount_minor + 1)
    [breach] = check_receivable_equals_balance()
    assert breach.ids == (f"customer:{other.pk}",)
