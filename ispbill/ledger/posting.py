"""Posting rules: the only way rows get into the ledger.

Every invoice, credit note, payment, refund, commission and payout posts one balanced entry
in the same transaction as the document. Debit positive, credit negative."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ispbill.core.bulk import tuples_insert
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
