"""Invariants of documents, payments and the ledger seen together (docs/domain.md,
"Payments and balances"), verified by ``ispbill check``: each billing account's receivable
equals its balance, each invoice's open amount equals its total minus allocations and
credits, each document posted exactly once."""

from __future__ import annotations

from typing import Any

from django.db import connection

from ispbill.core.invariants import Breach, invariant
from ispbill.invoicing.models import (
    CreditNote,
    CreditNoteLine,
    CreditNoteTax,
    Invoice,
    InvoiceLine,
    InvoiceTax,
)
from ispbill.ledger.models import AccountCode, JournalEntry, Posting
from ispbill.payments.models import Allocation, Payment, Refund

LIMIT = 20


def _ids(prefix: str, values: object) -> tuple[str, ...]:
    return tuple(f"{prefix}:{v}" for v in list(values)[:LIMIT])  # type: ignore[call-overload]


@invariant("ledger.receivable_equals_balance")
def check_receivable_equals_balance() -> list[Breach]:
    """Each customer's accounts receivable (its postings) equals minus its balance
    (``customer_balance_minor``: payments - refunds + credit notes - invoices). One
    statement that returns only the customers where they differ: it adds the receivable and
    the balance's parts per customer, which sum to zero where they agree (at a million
    customers reading every sum into Python was most of ``ispbill check``)."""
    posting = Posting._meta.db_table
    invoice = Invoice._meta.db_table
    credit_note = CreditNote._meta.db_table
    payment = Payment._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            "SELECT customer_id FROM ("  # noqa: S608 - the models' tables
            f"SELECT customer_id, amount_minor AS v FROM {posting} WHERE account = %s "
            f"UNION ALL SELECT customer_id, -total_minor FROM {invoice} "
            f"UNION ALL SELECT customer_id, total_minor FROM {credit_note} "
            f"UNION ALL SELECT customer_id, amount_minor - refunded_minor FROM {payment}"
            ") AS parts GROUP BY customer_id HAVING SUM(v) <> 0 ORDER BY customer_id LIMIT %s",
            [AccountCode.RECEIVABLE, LIMIT],
        )
        bad = [row[0] for row in cur.fetchall()]
    if bad:
        return [
            Breach(
                "ledger.receivable_equals_balance",
                "accounts receivable differs from the customer's balance",
                _ids("customer", bad),
            )
        ]
    return []


def _first_ids(sql: str, params: list[Any] | None = None) -> list[int]:
    """The first ``LIMIT`` ids a check's statement returns (it returns only breaches)."""
    with connection.cursor() as cur:
        cur.execute(sql, [*(params or []), LIMIT])
        return [row[0] for row in cur.fetchall()]


def _sums(table: str, key: str, *columns: str) -> str:
    """A subquery of ``table``'s sums of ``columns`` per ``key`` (as ``k``, ``s0``, ...)."""
    sums = ", ".join(f"SUM({c}) AS s{n}" for n, c in enumerate(columns))
    return f"(SELECT {key} AS k, {sums} FROM {table} GROUP BY {key})"  # noqa: S608


@invariant("documents.open_amounts")
def check_open_amounts() -> list[Breach]:
    """Each invoice's open amount = total - allocations - credits, and its status agrees.
    Each comparison is one statement that returns only the documents that differ (at a
    million customers reading every invoice into Python was most of ``ispbill check``)."""
    out = []
    invoice = Invoice._meta.db_table
    for column, rows, message in (
        (
            "allocated_minor",
            _sums(Allocation._meta.db_table, "invoice_id", "amount_minor"),
            "allocated amount differs from its allocations",
        ),
        (
            "credited_minor",
            _sums(CreditNote._meta.db_table, "invoice_id", "total_minor"),
            "credited amount differs from its credit notes",
        ),
    ):
        bad = _first_ids(
            f"SELECT d.id FROM {invoice} d LEFT JOIN {rows} x ON x.k = d.id "  # noqa: S608
            f"WHERE COALESCE(x.s0, 0) <> d.{column} ORDER BY d.id LIMIT %s"
        )
        if bad:
            out.append(Breach("documents.open_amounts", message, _ids("invoice", bad)))
    # Totals are sums of rounded lines and per-rate tax groups; for credit notes too (the
    # header equals the sum of the tax groups, EN 16931 BR-CO-14).
    for label, prefix, bad in (
        ("invoice", "invoice", _totals_unequal(Invoice, InvoiceLine, InvoiceTax, "invoice")),
        (
            "credit note",
            "credit_note",
            _totals_unequal(CreditNote, CreditNoteLine, CreditNoteTax, "credit_note"),
        ),
    ):
        if bad:
            out.append(
                Breach(
                    "documents.open_amounts",
                    f"{label} totals differ from their lines and tax groups",
                    _ids(prefix, bad),
                )
            )
    return out


def _totals_unequal(document: Any, line: Any, tax: Any, fk: str) -> list[int]:
    """Documents whose net, tax and total differ from their tax groups, or whose lines do
    not add up to the net (to the total where prices include tax): the first ``LIMIT``."""
    table = document._meta.db_table
    if document is Invoice:
        incl, join = "d.prices_include_tax", ""
    else:
        incl = "inv.prices_include_tax"
        join = f" JOIN {Invoice._meta.db_table} inv ON inv.id = d.invoice_id"
    lines = _sums(line._meta.db_table, f"{fk}_id", "amount_minor")
    groups = _sums(tax._meta.db_table, f"{fk}_id", "net_minor", "tax_minor")
    return _first_ids(
        f"SELECT d.id FROM {table} d{join} "  # noqa: S608 - the models' tables
        f"LEFT JOIN {lines} l ON l.k = d.id LEFT JOIN {groups} g ON g.k = d.id "
        "WHERE COALESCE(g.s0, 0) <> d.net_minor OR COALESCE(g.s1, 0) <> d.tax_minor "
        "OR d.net_minor + d.tax_minor <> d.total_minor "
        f"OR COALESCE(l.s0, 0) <> CASE WHEN {incl} THEN d.total_minor ELSE d.net_minor END "
        "ORDER BY d.id LIMIT %s"
    )


@invariant("payments.usage")
def check_payment_usage() -> list[Breach]:
    """Each payment's allocated and refunded amounts equal its allocations and refunds."""
    allocations = _sums(Allocation._meta.db_table, "payment_id", "amount_minor")
    refunds = _sums(Refund._meta.db_table, "payment_id", "amount_minor")
    bad = _first_ids(
        f"SELECT d.id FROM {Payment._meta.db_table} d "  # noqa: S608 - the models' tables
        f"LEFT JOIN {allocations} a ON a.k = d.id LEFT JOIN {refunds} r ON r.k = d.id "
        "WHERE COALESCE(a.s0, 0) <> d.allocated_minor OR COALESCE(r.s0, 0) <> d.refunded_minor "
        "ORDER BY d.id LIMIT %s"
    )
    if bad:
        return [
            Breach(
                "payments.usage",
                "payment allocated/refunded amounts differ from their rows",
                _ids("payment", bad),
            )
        ]
    return []


@invariant("documents.posted")
def check_documents_posted() -> list[Breach]:
    """Every invoice, credit note, payment and refund has exactly one journal entry (not
    counting reversals): one statement per kind, returning only the documents that differ."""
    out = []
    entries = JournalEntry._meta.db_table
    for source_type, model in (
        ("invoice", Invoice),
        ("credit_note", CreditNote),
        ("payment", Payment),
        ("refund", Refund),
    ):
        bad = _first_ids(
            f"SELECT d.id FROM {model._meta.db_table} d LEFT JOIN ("  # noqa: S608
            f"SELECT source_id AS k, COUNT(*) AS n FROM {entries} "
            "WHERE source_type = %s AND reverses_id IS NULL GROUP BY source_id"
            ") e ON e.k = d.id WHERE COALESCE(e.n, 0) <> 1 ORDER BY d.id LIMIT %s",
            [source_type],
        )
        if bad:
            out.append(
                Breach(
                    "documents.posted",
                    f"{source_type} without exactly one journal entry",
                    _ids(source_type, bad),
                )
            )
    return out
