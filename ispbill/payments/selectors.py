"""Read-side: balances, open invoices, statements of account."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Q, Sum

from ispbill.core.money import Money
from ispbill.customers.models import Customer
from ispbill.invoicing.documents import document_party
from ispbill.invoicing.models import CreditNote, Invoice, InvoiceStatus
from ispbill.invoicing.snapshots import customer_snapshot, issuer_snapshot
from ispbill.partners.models import Partner
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


def customer_balance_minor(customer_ids: list[int]) -> dict[int, int]:
    """Balance = payments - refunds + credit notes - invoices (negative: the customer owes)."""
    out = dict.fromkeys(customer_ids, 0)
    for cid, s in (
        Invoice.objects.filter(customer_id__in=customer_ids)
        .values_list("customer_id")
        .annotate(s=Sum("total_minor"))
    ):
        out[cid] -= s
    for cid, s in (
        CreditNote.objects.filter(customer_id__in=customer_ids)
        .values_list("customer_id")
        .annotate(s=Sum("total_minor"))
    ):
        out[cid] += s
    for cid, s, r in (
        Payment.objects.filter(customer_id__in=customer_ids)
        .values_list("customer_id")
        .annotate(s=Sum("amount_minor"), r=Sum("refunded_minor"))
    ):
        out[cid] += s - r
    return out


def customers_below_min_balance(customers: list[Customer]) -> set[int]:
    with_min = [c for c in customers if c.min_balance_minor is not None]
    if not with_min:
        return set()
    balances = customer_balance_minor([c.pk for c in with_min])
    return {c.pk for c in with_min if balances[c.pk] < (c.min_balance_minor or 0)}


def customer_balance(customer: Customer) -> int:
    return customer_balance_minor([customer.pk])[customer.pk]


def customer_open_invoices(customer: Customer) -> list[Invoice]:
    return list(
        Invoice.objects.filter(
            customer=customer, status__in=[InvoiceStatus.UNPAID, InvoiceStatus.PARTIALLY_PAID]
        ).order_by("due_date", "pk")
    )


# (date, order of kinds on one day, id, kind, reference, debit, credit): one day's invoices
# come before its credit notes, payments and refunds; the same kind by the order recorded.
_Event = tuple[date, int, int, str, str, int, int]


def _account_events(customer: Customer) -> list[_Event]:
    events: list[_Event] = []
    for inv in Invoice.objects.filter(customer=customer):
        events.append((inv.issue_date, 0, inv.pk, "invoice", inv.number, inv.total_minor, 0))
    for cn in CreditNote.objects.filter(customer=customer):
        events.append((cn.issue_date, 1, cn.pk, "credit_note", cn.number, 0, cn.total_minor))
    for p in Payment.objects.filter(customer=customer):
        reference = p.receipt_number or p.reference or f"#{p.pk}"
        events.append((p.date, 2, p.pk, "payment", reference, 0, p.amount_minor))
    for r in Refund.objects.filter(payment__customer=customer).select_related("payment"):
        events.append((r.date, 3, r.pk, "refund", r.reason or f"#{r.pk}", r.amount_minor, 0))
    events.sort()
    return events


def customer_statement(customer: Customer, *, start: date, end: date) -> Statement:
    """Every money event of the account in [start, end] with a running balance."""
    events = _account_events(customer)
    opening = sum(c - d for (day, _, _, _, _, d, c) in events if day < start)
    balance = opening
    rows = []
    for day, _, _, kind, ref, debit, credit in events:
        if start <= day <= end:
            balance += credit - debit
            rows.append(StatementRow(day, kind, ref, debit, credit, balance))
    return Statement(customer, start, end, opening, rows, balance)


def customer_balance_around_payment(payment: Payment) -> tuple[int, int]:
    """The account's balance just before ``payment`` and just after it, in the order of the
    statement of account (negative: owed by the customer). Later documents do not change
    it, so a receipt printed again says the same."""
    before = 0
    for day, order, pk, _, _, debit, credit in _account_events(payment.customer):
        if (day, order, pk) >= (payment.date, 2, payment.pk):
            break
        before += credit - debit
    return before, before + payment.amount_minor


_KIND_TEXT = {
    "en": {
        "invoice": "Invoice",
        "credit_note": "Credit note",
        "payment": "Payment",
        "refund": "Refund",
    },
    "de": {
        "invoice": "Rechnung",
        "credit_note": "Gutschrift",
        "payment": "Zahlung",
        "refund": "Erstattung",
    },
}


def customer_statement_document_data(statement: Statement) -> dict[str, Any]:
    """A statement of account as a document for ``ispbill.documents``: issued by the
    customer's issuer (the home partner, or its own-invoicing partner)."""
    customer = statement.customer
    partner = Partner.objects.get(pk=customer.partner_id)
    issuer = partner if partner.mode == "own_invoicing" else Partner.objects.get(is_home=True)
    cur = issuer.currency
    language = "de" if customer.language == "de" else "en"

    def money(minor: int) -> str:
        return str(Money.from_minor(minor, cur).amount)

    return {
        "issuer": document_party(issuer_snapshot(issuer), recipient=False),
        "recipient": document_party(customer_snapshot(customer), recipient=True),
        "document": {
            "type": "customer_statement",
            "number": f"{customer.reference or customer.pk}-{statement.end:%Y%m%d}",
            "issue_date": statement.end.isoformat(),
            "period_start": statement.start.isoformat(),
            "period_end": statement.end.isoformat(),
            "currency": cur,
            "language": language,
            "prices_include_tax": False,
            "notes": "",
        },
        "entries": [
            {
                "date": row.date.isoformat(),
                "description": _KIND_TEXT[language].get(row.kind, row.kind),
                "reference": row.reference,
                "debit": money(row.debit_minor),
                "credit": money(row.credit_minor),
                "balance": money(row.balance_minor),
            }
            for row in statement.rows
        ],
        "totals": {
            "opening_balance": money(statement.opening_minor),
            "closing_balance": money(statement.closing_minor),
            "debit": money(sum(r.debit_minor for r in statement.rows)),
            "credit": money(sum(r.credit_minor for r in statement.rows)),
        },
    }


# Invoices another collection path will collect, which card autopay must leave alone:
# registered by the apps above (ispbill/sepa: an invoice that carries a direct debit
# pre-notification is collected from the account, never also charged to a card).
COLLECTED_OTHERWISE: list[Callable[[], Q]] = []
