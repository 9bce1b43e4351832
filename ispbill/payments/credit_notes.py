"""Issuing a credit note: the invoicing steps (ispbill/invoicing/credit.py) and, for the part
of the invoice already paid, the payments' side: its allocations are taken back and the
money, credit on the account again, pays the account's other open invoices first."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction

from ispbill.invoicing.credit import (
    credit_note_draft,
    credit_note_post,
    credit_note_record,
    credit_note_write,
    invoice_credit_record,
)
from ispbill.invoicing.models import CreditNote, Invoice
from ispbill.invoicing.tax import DocumentTotals
from ispbill.payments.services import allocations_undo, credit_apply


@transaction.atomic
def credit_note_issue(
    *,
    invoice: Invoice,
    on: date,
    reason: str,
    lines: dict[int, int] | None = None,
    actor: Any = None,
) -> CreditNote:
    """Credit ``invoice`` totally (``lines`` None: everything not credited yet) or partly
    (``lines``: invoice line id -> amount in minor units, as printed on the line: net, or
    gross for tax-inclusive invoices). Cannot exceed what is left to credit on any line."""
    draft = credit_note_draft(invoice=invoice, reason=reason, lines=lines)
    cn = credit_note_write(draft, on=on, reason=reason)
    # What the credit note covers beyond the open amount was paid: free it as credit.
    excess = draft.totals.total_minor - draft.invoice.open_minor
    if excess > 0:
        allocations_undo(invoice=draft.invoice, amount_minor=excess, on=on)
    invoice_credit_record(draft, freed_minor=max(excess, 0))
    credit_note_post(draft, cn, on=on)
    if excess > 0:
        # Freed money pays other open invoices of the account first (oldest due date).
        credit_apply(customer_ids=[draft.invoice.customer_id], on=on)
    credit_note_record(cn, draft, reason=reason, actor=actor)
    return cn


@transaction.atomic
def credit_note_preview(
    *, invoice: Invoice, reason: str, lines: dict[int, int] | None = None
) -> DocumentTotals:
    """What ``credit_note_issue`` with the same arguments would credit (net, VAT and the
    gross total), checked by the same rules, without writing anything: shown to a person
    before the credit note is issued."""
    return credit_note_draft(invoice=invoice, reason=reason, lines=lines).totals
