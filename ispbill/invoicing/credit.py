"""Credit notes: the only way to correct an issued invoice."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import F

from ispbill.core.audit import audit_record
from ispbill.core.money import Money
from ispbill.invoicing.models import (
    CreditNote,
    CreditNoteLine,
    CreditNoteTax,
    DocumentType,
    Invoice,
    InvoiceLine,
    InvoiceTax,
)
from ispbill.invoicing.sequences import numbers_reserve
from ispbill.invoicing.signals import credit_note_issued
from ispbill.invoicing.tax import credit_note_totals, document_totals
from ispbill.ledger.posting import credit_note_entry, ledger_post_many
from ispbill.partners.models import Partner


class CreditNoteError(ValueError):
    """A credit note that cannot be issued as asked; the message says why."""


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
    inv = Invoice.objects.select_for_update(no_key=True).get(pk=invoice.pk)
    if not reason.strip():
        raise CreditNoteError("Give a reason for the credit note; it is printed on it.")
    invoice_lines = {line.pk: line for line in InvoiceLine.objects.filter(invoice=inv)}
    already: dict[int, int] = defaultdict(int)
    for line_id, amount in CreditNoteLine.objects.filter(credit_note__invoice=inv).values_list(
        "invoice_line_id", "amount_minor"
    ):
        if line_id is not None:
            already[line_id] += amount
    if lines is None:
        wanted = {lid: line.amount_minor - already[lid] for lid, line in invoice_lines.items()}
        wanted = {lid: amount for lid, amount in wanted.items() if amount > 0}
        if not wanted:
            raise CreditNoteError(f"Invoice {inv.number} is already fully credited.")
    else:
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
    # What is left of each of the invoice's tax groups after its earlier credit notes.
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
    totals = credit_note_totals(
        document_totals(
            (
                (amount, invoice_lines[lid].tax_rate_bp, invoice_lines[lid].tax_category)
                for lid, amount in wanted.items()
            ),
            prices_include_tax=inv.prices_include_tax,
        ).groups,
        left=groups_left,
        prices_include_tax=inv.prices_include_tax,
    )
    total, tax = totals.total_minor, totals.tax_minor
    if total <= 0:
        raise CreditNoteError(f"Invoice {inv.number} has nothing left to credit.")
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
        tax_minor=tax,
        total_minor=total,
    )
    CreditNoteLine.objects.bulk_create(
        CreditNoteLine(
            credit_note=cn,
            position=pos,
            invoice_line_id=lid,
            description=invoice_lines[lid].description,
            amount_minor=amount,
            tax_rate_bp=invoice_lines[lid].tax_rate_bp,
            tax_category=invoice_lines[lid].tax_category,
        )
        for pos, (lid, amount) in enumerate(sorted(wanted.items()), 1)
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
    # What the credit note covers beyond the open amount was paid: free it as credit.
    from ispbill.payments.services import allocations_undo, credit_apply, invoice_status_for

    excess = total - inv.open_minor
    if excess > 0:
        allocations_undo(invoice=inv, amount_minor=excess, on=on)
        inv.allocated_minor -= excess
    inv.credited_minor += total
    inv.status = invoice_status_for(
        total=inv.total_minor, allocated=inv.allocated_minor, credited=inv.credited_minor
    )
    Invoice.objects.filter(pk=inv.pk).update(
        allocated_minor=inv.allocated_minor,
        credited_minor=F("credited_minor") + total,
        status=inv.status,
    )
    ledger_post_many(
        [
            credit_note_entry(
                issuer_id=issuer.pk,
                credit_note_id=cn.pk,
                number=number,
                customer_id=inv.customer_id,
                on=on,
                currency=inv.currency,
                net_minor=totals.net_minor,
                tax_minor=tax,
            )
        ]
    )
    credit_note_issued.send(
        sender=CreditNote, credit_note_id=cn.pk, invoice=inv, net_minor=totals.net_minor, on=on
    )
    if excess > 0:
        # Freed money pays other open invoices of the account first (oldest due date).
        credit_apply(customer_ids=[inv.customer_id], on=on)
    audit_record(
        action="credit_note.issued",
        obj=cn,
        actor=actor,
        changes={
            "invoice": inv.number,
            "total": str(Money.from_minor(total, inv.currency)),
            "reason": reason,
        },
    )
    from ispbill.invoicing.pdfs import issued_pdfs_render_on_commit

    issued_pdfs_render_on_commit(credit_note_ids=[cn.pk])
    return cn
