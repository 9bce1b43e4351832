"""Posting rules: the only way rows get into the ledger.

Every invoice, credit note, payment, refund, commission and payout posts one balanced entry
in the same transaction as the document. Debit positive, credit negative."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import connection
from django.utils import timezone

from ispbill.core.bulk import pg_array, tuples_insert
from ispbill.ledger.models import AccountCode, JournalEntry, Posting


class UnbalancedEntry(ValueError):
    pass


@dataclass
class EntryDraft:
    partner_id: int  # whose books: the issuer
    date: date
    kind: str
    description: str
    source_type: str
    source_id: int
    currency: str
    lines: list[tuple[str, int, int | None, int | None]] = field(default_factory=list)
    # (account, amount_minor, customer_id, counterparty_partner_id)
    reverses_id: int | None = None

    def add(
        self,
        account: str,
        amount_minor: int,
        *,
        customer_id: int | None = None,
        counterparty_id: int | None = None,
    ) -> EntryDraft:
        if amount_minor:
            self.lines.append((account, amount_minor, customer_id, counterparty_id))
        return self


def ledger_post_many(drafts: list[EntryDraft]) -> list[int]:
    """Write balanced entries in bulk (two COPYs for any number of entries); returns their ids."""
    for d in drafts:
        if sum(line[1] for line in d.lines) != 0:
            raise UnbalancedEntry(f"{d.kind} {d.source_type}:{d.source_id} does not balance")
    ids = tuples_insert(
        JournalEntry,
        ["partner_id", "date", "kind", "description", "source_type", "source_id", "reverses_id"],
        [
            (
                d.partner_id,
                d.date,
                d.kind,
                d.description[:300],
                d.source_type,
                d.source_id,
                d.reverses_id,
            )
            for d in drafts
        ],
        with_ids=True,
    )
    tuples_insert(
        Posting,
        [
            "partner_id",
            "entry_id",
            "account",
            "customer_id",
            "counterparty_id",
            "amount_minor",
            "currency",
        ],
        [
            (d.partner_id, entry_id, account, customer_id, counterparty_id, amount, d.currency)
            for d, entry_id in zip(drafts, ids, strict=True)
            for account, amount, customer_id, counterparty_id in d.lines
        ],
    )
    return ids


def invoice_entry(
    *,
    issuer_id: int,
    invoice_id: int,
    number: str,
    customer_id: int,
    on: date,
    currency: str,
    net_minor: int,
    tax_minor: int,
) -> EntryDraft:
    return (
        EntryDraft(issuer_id, on, "invoice", "Invoice", "invoice", invoice_id, currency)
        .add(AccountCode.RECEIVABLE, net_minor + tax_minor, customer_id=customer_id)
        .add(AccountCode.REVENUE, -net_minor)
        .add(AccountCode.VAT_PAYABLE, -tax_minor)
    )


def invoice_entries(invoices: Sequence[Any]) -> list[EntryDraft]:
    """``invoice_entry`` for each of ``invoices`` (issued invoice rows or models)."""
    return [
        invoice_entry(
            issuer_id=inv.issuer_id,
            invoice_id=inv.pk,
            number=inv.number,
            customer_id=inv.customer_id,
            on=inv.issue_date,
            currency=inv.currency,
            net_minor=inv.net_minor,
            tax_minor=inv.tax_minor,
        )
        for inv in invoices
    ]


# ``invoice_entry`` as one statement: the entries, then their postings, derived in the database
# from the invoices' figures (unnest: one array per column, ``v.n`` keeps the given order).
_INVOICE_ENTRIES_SQL = """
WITH v AS (
    SELECT * FROM unnest(
        %s::bigint[], %s::bigint[], %s::bigint[], %s::date[], %s::text[], %s::bigint[],
        %s::bigint[], %s::int[]
    ) AS v(invoice_id, issuer_id, customer_id, on_date, currency, net, tax, n)
), e AS (
    INSERT INTO ledger_journalentry
        (partner_id, date, kind, description, source_type, source_id, created_at)
    SELECT issuer_id, on_date, 'invoice', 'Invoice', 'invoice', invoice_id, %s
    FROM v ORDER BY n
    RETURNING id, source_id
)
INSERT INTO ledger_posting (partner_id, entry_id, account, customer_id, amount_minor, currency)
SELECT v.issuer_id, e.id, p.account, p.customer_id, p.amount, v.currency
FROM e JOIN v ON v.invoice_id = e.source_id
CROSS JOIN LATERAL (
    VALUES (1, %s, v.net + v.tax, v.customer_id),
           (2, %s, -v.net, NULL::bigint),
           (3, %s, -v.tax, NULL::bigint)
) AS p(k, account, amount, customer_id)
WHERE p.amount <> 0
ORDER BY e.id, p.k
"""


def invoice_entries_post(invoices: Sequence[Any]) -> None:
    """Post the entries of issued invoices (rows with ``pk``, ``issuer_id``, ``customer_id``,
    ``issue_date``, ``currency``, ``net_minor``, ``tax_minor``), by ``invoice_entry``'s rule.

    On PostgreSQL one statement derives the entries and their postings from the invoices'
    figures: a billing run posts tens of thousands, and building and copying their 4 rows
    each was a tenth of its own time. tests/ledger/test_invoice_entries.py holds both ways
    to the same rows. Elsewhere through ``invoice_entry`` and ``ledger_post_many``."""
    if not invoices:
        return
    if connection.vendor != "postgresql":
        ledger_post_many(invoice_entries(invoices))
        return
    columns = zip(
        *(
            (
                inv.pk,
                inv.issuer_id,
                inv.customer_id,
                inv.issue_date,
                inv.currency,
                inv.net_minor,
                inv.tax_minor,
            )
            for inv in invoices
        ),
        strict=True,
    )
    arrays = [pg_array(list(values)) for values in columns]
    with connection.cursor() as cur:
        cur.execute(
            _INVOICE_ENTRIES_SQL,
            [
                *arrays,
                pg_array(list(range(len(invoices)))),
                timezone.now(),
                AccountCode.RECEIVABLE.value,
                AccountCode.REVENUE.value,
                AccountCode.VAT_PAYABLE.value,
            ],
        )


def credit_note_entry(
    *,
    issuer_id: int,
    credit_note_id: int,
    number: str,
    customer_id: int,
    on: date,
    currency: str,
    net_minor: int,
    tax_minor: int,
) -> EntryDraft:
    return (
        EntryDraft(
            issuer_id,
            on,
            "credit_note",
            f"Credit note {number}",
            "credit_note",
            credit_note_id,
            currency,
        )
        .add(AccountCode.REVENUE, net_minor)
        .add(AccountCode.VAT_PAYABLE, tax_minor)
        .add(AccountCode.RECEIVABLE, -(net_minor + tax_minor), customer_id=customer_id)
    )


def payment_entry(
    *,
    issuer_id: int,
    payment_id: int,
    customer_id: int,
    on: date,
    currency: str,
    amount_minor: int,
    reference: str,
) -> EntryDraft:
    return (
        EntryDraft(
            issuer_id,
            on,
            "payment",
            f"Payment {reference}".strip(),
            "payment",
            payment_id,
            currency,
        )
        .add(AccountCode.BANK, amount_minor)
        .add(AccountCode.RECEIVABLE, -amount_minor, customer_id=customer_id)
    )


def refund_entry(
    *,
    issuer_id: int,
    refund_id: int,
    customer_id: int,
    on: date,
    currency: str,
    amount_minor: int,
) -> EntryDraft:
    return (
        EntryDraft(issuer_id, on, "refund", "Refund", "refund", refund_id, currency)
        .add(AccountCode.RECEIVABLE, amount_minor, customer_id=customer_id)
        .add(AccountCode.BANK, -amount_minor)
    )
