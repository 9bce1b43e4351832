"""Read-side: balances, open invoices, statements of account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ispbill.customers.dunning import customer_balance_minor
from ispbill.customers.models import Customer
from ispbill.invoicing.models import CreditNote, Invoice, InvoiceStatus
from ispbill.payments.models import Payment, Refund


@dataclass(frozen=True)
class StatementRow:
    date: date
    kind: str
    reference: str
    debit_minor: int  # what the customer owes more (invoice, refund)
    credit_minor: int  # what the customer paid or was credited
    balance_minor: int  # running balance after the row (negative: owes)


@dataclass(frozen=True)
class Statement:
    customer: Customer
    start: date
    end: date
    opening_minor: int
    rows: list[StatementRow]
    closing_minor: int


def customer_balance(customer: Customer) -> int:
    return customer_balance_minor([customer.pk])[customer.pk]


def customer_open_invoices(customer: Customer) -> list[Invoice]:
    return list(
        Invoice.objects.filter(
            customer=customer, status__in=[InvoiceStatus.UNPAID, InvoiceStatus.PARTIALLY_PAID]
        ).order_by("due_date", "pk")
    )


def customer_statement(customer: Customer, *, start: date, end: date) -> Statement:
    """Every money event of the account in [start, end] with a running balance."""
    events: list[tuple[date, int, str, str, int, int]] = []
    for inv in Invoice.objects.filter(customer=customer):
        events.append((inv.issue_date, 0, "invoice", inv.number, inv.total_minor, 0))
    for cn in CreditNote.objects.filter(customer=customer):
        events.append((cn.issue_date, 1, "credit_note", cn.number, 0, cn.total_minor))
    for p in Payment.objects.filter(customer=customer):
        events.append((p.date, 2, "payment", p.reference or f"#{p.pk}", 0, p.amount_minor))
    for r in Refund.objects.filter(payment__customer=customer).select_related("payment"):
        events.append((r.date, 3, "refund", r.reason or f"#{r.pk}", r.amount_minor, 0))
    events.sort()
    opening = sum(c - d for (day, _, _, _, d, c) in events if day < start)
    balance = opening
    rows = []
    for day, _, kind, ref, debit, credit in events:
        if start <= day <= end:
            balance += credit - debit
            rows.append(StatementRow(day, kind, ref, debit, credit, balance))
    return Statement(customer, start, end, opening, rows, balance)
