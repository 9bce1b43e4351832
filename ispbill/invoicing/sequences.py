"""Gapless document numbers: reserved under a row lock inside the issuing transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import connection, transaction

from ispbill.core.audit import audit_record
from ispbill.core.errors import DomainError
from ispbill.core.numbering import (
    PatternError,
    render_number,
    sequence_period_key,
    validate_pattern,
)
from ispbill.invoicing.models import DocumentType, NumberSequence
from ispbill.partners.models import Partner


class SequenceError(DomainError):
    """None"""

    code = "sequence"


# A counter beyond this would not fit a document number's column in practice (and must fit
# the database's bigint): far above any real series.
SEQUENCE_MAX = 10**12


def pattern_for(issuer: Partner, doc_type: str) -> str:
    if doc_type == DocumentType.INVOICE:
        return issuer.invoice_number_pattern
    if doc_type == DocumentType.CREDIT_NOTE:
        return issuer.credit_note_number_pattern
    if doc_type == DocumentType.SELF_BILLING:
        return issuer.self_billing_number_pattern
    return issuer.receipt_number_pattern


def _locked_sequence(issuer_id: int, doc_type: str, period_key: str) -> NumberSequence:
    # Insert-if-missing without a race (ON CONFLICT DO NOTHING), then lock the row: two
    # issuing transactions queue here, so numbers are gapless and never duplicated.
    NumberSequence.objects.bulk_create(
        [NumberSequence(issuer_id=issuer_id, doc_type=doc_type, period_key=period_key)],
        ignore_conflicts=True,
    )
    return NumberSequence.objects.select_for_update(no_key=True).get(
        issuer_id=issuer_id, doc_type=doc_type, period_key=period_key
    )


def _sequence_advance(issuer_id: int, doc_type: str, period_key: str, count: int) -> int:
    """Take ``count`` numbers: the first one's value. One statement creates the counter if
    missing or advances it, and keeps its row locked to the end of the transaction (the
    next issuer of the same sequence queues there), so numbers are gapless."""
    table = NumberSequence._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {table} (issuer_id, doc_type, period_key, next_value) "  # noqa: S608
            "VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (issuer_id, doc_type, period_key) "
            f"DO UPDATE SET next_value = {table}.next_value + %s "
            "RETURNING next_value - %s",
            [issuer_id, doc_type, period_key, 1 + count, count, count],
        )
        row = cur.fetchone()
    assert row is not None
    return int(row[0])


def numbers_reserve(
    *, issuer: Partner, doc_type: str, issue_date: date, customer_ids: list[int]
) -> list[str]:
    """One number per entry of ``customer_ids``, in order. Must run inside the transaction
    that writes the documents: a rollback returns the numbers, so none is skipped."""
    if not customer_ids:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise SequenceError("numbers can only be reserved inside the issuing transaction")
    pattern = pattern_for(issuer, doc_type)
    key = sequence_period_key(pattern, issue_date)
    first = _sequence_advance(issuer.pk, doc_type, key, len(customer_ids))
    return [
        render_number(
            pattern,
            issue_date=issue_date,
            partner_id=issuer.pk,
            customer_id=cid,
            next_value=first + i,
        )
        for i, cid in enumerate(customer_ids)
    ]


@dataclass(frozen=True)
class SequenceState:
    doc_type: str
    label: str
    pattern: str
    period_key: str  # the year for a pattern with {year}, else ""
    next_value: int
    next_number: str  # the next number as it will print (customer part shown as 0)


def sequences_state(*, issuer: Partner, on: date) -> list[SequenceState]:
    """The next number of each of ``issuer``'s document types on ``on`` (read only)."""
    out = []
    for doc_type, label in DocumentType.choices:
        if doc_type == DocumentType.SELF_BILLING and not issuer.is_home:
            continue  # only the operator issues commission statements
        pattern = pattern_for(issuer, doc_type)
        key = sequence_period_key(pattern, on)
        seq = NumberSequence.objects.filter(
            issuer_id=issuer.pk, doc_type=doc_type, period_key=key
        ).first()
        value = seq.next_value if seq is not None else 1
        try:
            number = render_number(
                pattern, issue_date=on, partner_id=issuer.pk, customer_id=0, next_value=value
            )
        except PatternError as exc:  # stored before patterns were checked on save
            number = f"(pattern not usable: {exc})"
        out.append(SequenceState(doc_type, str(label), pattern, key, value, number))
    return out


@transaction.atomic
def sequence_set_next(
    *,
    issuer: Partner,
    doc_type: str,
    year: int | None,
    next_value: int,
    actor: Any = None,
) -> int:
    """Continue numbering from another system: forward only, never backward (a number may
    not be used twice), audited. Returns the next value now set."""
    if doc_type not in DocumentType.values:
        raise SequenceError(
            f"Unknown document type {doc_type!r}; choose {', '.join(DocumentType.values)}."
        )
    if not 1 <= next_value <= SEQUENCE_MAX:
        raise SequenceError(f"The next number must be between 1 and {SEQUENCE_MAX:,}.")
    pattern = pattern_for(issuer, doc_type)
    validate_pattern(pattern)
    key = sequence_period_key(pattern, date(year or date.today().year, 1, 1))  # noqa: DTZ011
    seq = _locked_sequence(issuer.pk, doc_type, key)
    if next_value < seq.next_value:
        raise SequenceError(
            f"The next number can only move forward: it is {seq.next_value}, "
            f"{next_value} would reuse numbers."
        )
    if next_value != seq.next_value:
        NumberSequence.objects.filter(pk=seq.pk).update(next_value=next_value)
        audit_record(
            action="sequence.next_set",
            obj=issuer,
            actor=actor,
            partner_id=issuer.pk,
            changes={
                "doc_type": doc_type,
                "period": key,
                "next_value": {"before": seq.next_value, "after": next_value},
            },
        )
    return next_value
