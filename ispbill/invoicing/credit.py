"""Credit notes: the only way to correct an issued invoice. The steps of issuing one, on
the invoicing side: check (``credit_note_draft``), write (``credit_note_write``), record on
the invoice (``invoice_credit_record``), post (``credit_note_post``), audit and render
(``credit_note_record``). The whole operation, which also frees the allocations of the part
already paid, is ``ispbill.payments.credit_notes.credit_note_issue``."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import F

from ispbill.core.audit import audit_record
from ispbill.core.errors import DomainError
from ispbill.core.money import Money
from ispbill.invoicing.models import (
    CreditNote,
    CreditNoteLine,
    CreditNoteTax,
    DocumentType,
    Invoice,
    InvoiceLine,
    InvoiceTax,
    invoice_status_for,
)
from ispbill.invoicing.sequences import numbers_reserve
from ispbill.invoicing.signals import credit_note_issued
from ispbill.invoicing.tasks import issued_pdfs_render_on_commit
from ispbill.invoicing.tax import DocumentTotals, credit_note_totals, document_totals
from ispbill.ledger.posting import credit_note_entry, ledger_post_many
from ispbill.partners.models import Partner


class CreditNoteError(DomainError):
    """A credit note that cannot be issued as asked; the message says why."""

    code = "credit_note"


@dataclass
class CreditNoteDraft:
    """A credit note as checked, before it is written: the invoice (locked), its lines, the
    amount credited per line and the totals within what is left of its tax groups."""

    invoice: Invoice
    invoice_lines: dict[int, InvoiceLine]
    wanted: dict[int, int]  # invoice line id -> amount credited (minor units, as printed)
    totals: DocumentTotals


def credited_so_far(inv: Invoice, line_ids: list[int] | None = None) -> dict[int, int]:
    """The amount credited so far per line of ``inv`` (of ``line_ids``, or of every line)."""
    already: dict[int, int] = defaultdict(int)
    credited = CreditNoteLine.objects.filter(credit_note__invoice=inv)
    if line_ids is not None:
        credited = credited.filter(invoice_line_id__in=line_ids)
    for line_id, amount in credited.values_list("invoice_line_id", "amount_minor"):
        if line_id is not None:
            already[line_id] += amount
    return already


def _lines_wanted(
    inv: Invoice, invoice_lines: dict[int, InvoiceLine], lines: dict[int, int] | None
) -> dict[int, int]:
    """What to credit per line: everything left (``lines`` None), or the amounts asked,
    each within what is left to credit on its line."""
    already = credited_so_far(inv, None if lines is None else list(invoice_lines))
    if lines is None:
        wanted = {lid: line.amount_minor - already[lid] for lid, line in invoice_lines.items()}
        wanted = {lid: amount for lid, amount in wanted.items() if amount > 0}
        if not wanted:
            raise CreditNoteError(f"Invoice {inv.number} is already fully credited.")
        return wanted
    wanted = {}
    for lid, amount in lines.items():
        if lid not in invoice_lines:
            raise CreditNoteError(f"Line {lid} is not a line of invoice {inv.number}.")
        if amount <= 0:
            raise CreditNoteError("Each credited amount must be greater than zero.")
        left = invoice_lines[lid].amount_minor - already[lid]
        if amount > left:
            raise CreditNoteError(
                f"Line {invoice_lines[lid].position} has only "
                f"{Money.from_minor(left, inv.currency)} left to credit."
            )
        wanted[lid] = amount
    if not wanted:
        raise CreditNoteError("Choose at least one line to credit.")
    return wanted


def _tax_groups_left(inv: Invoice) -> dict[tuple[int, str], tuple[int, int]]:
    """What is left of each of the invoice's tax groups after its earlier credit notes."""
    groups_left = {
        (rate, category): (net, tax)
        for rate, category, net, tax in InvoiceTax.objects.filter(invoice=inv).values_list(
            "rate_bp", "category", "net_minor", "tax_minor"
        )
    }
    for rate, category, net, tax in CreditNoteTax.objects.filter(
        credit_note__invoice=inv
    ).values_list("rate_bp", "category", "net_minor", "tax_minor"):
        if (rate, category) in groups_left:
            group_net, group_tax = groups_left[(rate, category)]
            groups_left[(rate, category)] = (group_net - net, group_tax - tax)
    return groups_left


def credit_note_draft(
    *, invoice: Invoice, reason: str, lines: dict[int, int] | None = None
) -> CreditNoteDraft:
    """Lock ``invoice`` and check a credit of it: totally (``lines`` None: everything not
    credited yet) or partly (``lines``: invoice line id -> amount in minor units, as printed
    on the line: net, or gross for tax-inclusive invoices). Cannot exceed what is left to
    credit on any line; CreditNoteError says why."""
    inv = Invoice.objects.select_for_update(no_key=True).get(pk=invoice.pk)
    if not reason.strip():
        raise CreditNoteError("Give a reason for the credit note; it is printed on it.")
    # A partial credit reads only the lines asked for (an aggregated invoice has up to
    # 160,000); a line id of another invoice is then simply not found.
    line_qs = InvoiceLine.objects.filter(invoice=inv)
    if lines is not None:
        line_qs = line_qs.filter(pk__in=list(lines))
    invoice_lines = {line.pk: line for line in line_qs}
    wanted = _lines_wanted(inv, invoice_lines, lines)
    totals = credit_note_totals(
        document_totals(
            (
                (amount, invoice_lines[lid].tax_rate_bp, invoice_lines[lid].tax_category)
                for lid, amount in wanted.items()
            ),
            prices_include_tax=inv.prices_include_tax,
        ).groups,
        left=_tax_groups_left(inv),
        prices_include_tax=inv.prices_include_tax,
    )
    if totals.total_minor <= 0:
        raise CreditNoteError(f"Invoice {inv.number} has nothing left to credit.")
    return CreditNoteDraft(inv, invoice_lines, wanted, totals)


def credit_note_write(draft: CreditNoteDraft, *, on: date, reason: str) -> CreditNote:
    """Number the credit note (gapless, under the issuer's sequence lock) and write it with
    its lines and tax groups."""
    inv, totals = draft.invoice, draft.totals
    issuer = Partner.objects.get(pk=inv.issuer_id)
    number = numbers_reserve(
        issuer=issuer,
        doc_type=DocumentType.CREDIT_NOTE,
        issue_date=on,
        customer_ids=[inv.customer_id],
    )[0]
    cn = CreditNote.objects.create(
        partner_id=inv.partner_id,
        issuer=issuer,
        customer_id=inv.customer_id,
        invoice=inv,
        number=number,
        issue_date=on,
        currency=inv.currency,
        reason=reason.strip(),
        net_minor=totals.net_minor,
        tax_minor=totals.tax_minor,
        total_minor=totals.total_minor,
    )
    CreditNoteLine.objects.bulk_create(
        CreditNoteLine(
            credit_note=cn,
            position=pos,
            invoice_line_id=lid,
            description=draft.invoice_lines[lid].description,
            amount_minor=amount,
            tax_rate_bp=draft.invoice_lines[lid].tax_rate_bp,
            tax_category=draft.invoice_lines[lid].tax_category,
        )
        for pos, (lid, amount) in enumerate(sorted(draft.wanted.items()), 1)
    )
    CreditNoteTax.objects.bulk_create(
        CreditNoteTax(
            credit_note=cn,
            rate_bp=g.rate_bp,
            category=g.category,
            net_minor=g.net_minor,
            tax_minor=g.tax_minor,
        )
        for g in totals.groups
    )
    return cn


def invoice_credit_record(draft: CreditNoteDraft, *, freed_minor: int) -> None:
    """The invoice's credited amount and status after the credit note; ``freed_minor`` is
    what was taken back from its allocations (the part of the credit already paid)."""
    inv, total = draft.invoice, draft.totals.total_minor
    inv.allocated_minor -= freed_minor
    inv.credited_minor += total
    inv.status = invoice_status_for(
        total=inv.total_minor, allocated=inv.allocated_minor, credited=inv.credited_minor
    )
    Invoice.objects.filter(pk=inv.pk).update(
        allocated_minor=inv.allocated_minor,
        credited_minor=F("credited_minor") + total,
        status=inv.status,
    )


def credit_note_post(draft: CreditNoteDraft, cn: CreditNote, *, on: date) -> None:
    """The credit note's journal entry, then tell the layers above (commission reverses)."""
    inv, totals = draft.invoice, draft.totals
    ledger_post_many(
        [
            credit_note_entry(
                issuer_id=cn.issuer_id,
                credit_note_id=cn.pk,
                number=cn.number,
                customer_id=inv.customer_id,
                on=on,
                currency=inv.currency,
                net_minor=totals.net_minor,
                tax_minor=totals.tax_minor,
            )
        ]
    )
    credit_note_issued.send(
        sender=CreditNote, credit_note_id=cn.pk, invoice=inv, net_minor=totals.net_minor, on=on
    )


def credit_note_record(cn: CreditNote, draft: CreditNoteDraft, *, reason: str, actor: Any) -> None:
    """The audit entry, and the stored PDF rendered after commit."""
    inv = draft.invoice
    audit_record(
        action="credit_note.issued",
        obj=cn,
        actor=actor,
        changes={
            "invoice": inv.number,
            "total": str(Money.from_minor(draft.totals.total_minor, inv.currency)),
            "reason": reason,
        },
    )
    issued_pdfs_render_on_commit(credit_note_ids=[cn.pk])
