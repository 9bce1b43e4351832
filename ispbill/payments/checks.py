"""Invariants of documents, payments and the ledger seen together (docs/domain.md,
"Payments and balances"), verified by ``ispbill check``: each billing account's receivable
equals its balance, each invoice's open amount equals its total minus allocations and
credits, each document posted exactly once."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Count, Sum

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


@invariant("documents.open_amounts")
def check_open_amounts() -> list[Breach]:
    """Each invoice's open amount = total - allocations - credits, and its status agrees."""
    out = []
    alloc = dict(
        Allocation.objects.values_list("invoice_id")
        .annotate(s=Sum("amount_minor"))
        .values_list("invoice_id", "s")
    )
    credited = dict(
        CreditNote.objects.values_list("invoice_id")
        .annotate(s=Sum("total_minor"))
        .values_list("invoice_id", "s")
    )
    bad_alloc: list[int] = []
    bad_credit: list[int] = []
    for inv_id, allocated, credited_minor in Invoice.objects.values_list(
        "pk", "allocated_minor", "credited_minor"
    ):
        if alloc.get(inv_id, 0) != allocated:
            bad_alloc.append(inv_id)
        if credited.get(inv_id, 0) != credited_minor:
            bad_credit.append(inv_id)
    if bad_alloc:
        out.append(
            Breach(
                "documents.open_amounts",
                "allocated amount differs from its allocations",
                _ids("invoice", bad_alloc),
            )
        )
    if bad_credit:
        out.append(
            Breach(
                "documents.open_amounts",
                "credited amount differs from its credit notes",
                _ids("invoice", bad_credit),
            )
        )
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
    not add up to the net (to the total where prices include tax)."""
    line_sums = dict(
        line.objects.values_list(f"{fk}_id")
        .annotate(s=Sum("amount_minor"))
        .values_list(f"{fk}_id", "s")
    )
    tax_sums = {
        row[0]: (row[1], row[2])
        for row in tax.objects.values_list(f"{fk}_id").annotate(
            n=Sum("net_minor"), t=Sum("tax_minor")
        )
    }
    incl_field = "prices_include_tax" if document is Invoice else "invoice__prices_include_tax"
    bad = []
    for pk, net, tax_minor, total, incl in document.objects.values_list(
        "pk", "net_minor", "tax_minor", "total_minor", incl_field
    ):
        group_net, group_tax = tax_sums.get(pk, (0, 0))
        lines = line_sums.get(pk, 0)
        expected_lines = total if incl else net
        if (
            (group_net, group_tax) != (net, tax_minor)
            or net + tax_minor != total
            or lines != expected_lines
        ):
            bad.append(pk)
    return bad


@invariant("payments.usage")
def check_payment_usage() -> list[Breach]:
    alloc = dict(
        Allocation.objects.values_list("payment_id")
        .annotate(s=Sum("amount_minor"))
        .values_list("payment_id", "s")
    )
    refunded = dict(
        Refund.objects.values_list("payment_id")
        .annotate(s=Sum("amount_minor"))
        .values_list("payment_id", "s")
    )
    bad = [
        pk
        for pk, allocated, refunded_minor in Payment.objects.values_list(
            "pk", "allocated_minor", "refunded_minor"
        )
        if alloc.get(pk, 0) != allocated or refunded.get(pk, 0) != refunded_minor
    ]
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
    """Every invoice, credit note, payment and refund has exactly one journal entry."""
    out = []
    for source_type, model in (
        ("invoice", Invoice),
        ("credit_note", CreditNote),
        ("payment", Payment),
        ("refund", Refund),
    ):
        posted = dict(
            JournalEntry.objects.filter(source_type=source_type, reverses__isnull=True)
            .values_list("source_id")
            .annotate(n=Count("pk"))
            .values_list("source_id", "n")
        )
        ids = list(model.objects.values_list("pk", flat=True))
        bad = [pk for pk in ids if posted.get(pk, 0) != 1]
        if bad:
            out.append(
                Breach(
                    "documents.posted",
                    f"{source_type} without exactly one journal entry",
                    _ids(source_type, bad),
                )
            )
    return out
