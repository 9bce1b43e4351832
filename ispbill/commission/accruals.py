"""Percentage partners' commission (DOMAIN.md "Percentage").

Base ``paid`` (default, as Splynx): each payment allocation to an invoice of the partner's
customers accrues ``allocated x invoice net / invoice total x rate``. Base ``invoiced``: each
invoice accrues ``net x rate``. The base is net of tax. Credit notes (and allocations undone
by them or by refunds) accrue negatively, so a refunded sale leaves no commission behind.
Every accrual line is rounded once. A tariff may carry its own rate (CommissionOverride):
an invoice then accrues one line per rate, on the net of its lines at that rate."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ispbill.core.bulk import tuples_insert
from ispbill.core.money import BP, BP_INT, div_round, round_minor
from ispbill.invoicing.issue import IssuedInvoice
from ispbill.invoicing.models import CreditNoteLine, Invoice, InvoiceLine
from ispbill.partners.models import (
    CommissionAccrual,
    CommissionBase,
    CommissionOverride,
    Partner,
    PartnerMode,
)


@dataclass(frozen=True)
class RatePart:
    rate_bp: int
    net_minor: int  # the invoice's net attributable to this rate


def accrual_amount(*, base_minor: int, rate_bp: int) -> int:
    return div_round(base_minor * rate_bp, BP_INT)


def paid_base(*, allocated_minor: int, part_net_minor: int, invoice_total_minor: int) -> Decimal:
    return Decimal(allocated_minor) * part_net_minor / invoice_total_minor


def _percentage_partners(partner_ids: Iterable[int]) -> dict[int, Partner]:
    return {
        p.pk: p
        for p in Partner.objects.filter(pk__in=set(partner_ids), mode=PartnerMode.PERCENTAGE)
    }


def invoice_rate_parts(
    invoices: Sequence[Invoice | IssuedInvoice],
    partners: dict[int, Partner],
    lines: dict[int, list[tuple[int | None, int]]] | None = None,
) -> dict[int, list[RatePart]]:
    """Net per commission rate for each invoice (one query for lines, one for overrides)."""
    overrides: dict[tuple[int, int], int] = {
        (o.partner_id, o.tariff_id): o.rate_bp
        for o in CommissionOverride.objects.filter(partner_id__in=list(partners))
    }
    has_overrides = {pid for pid, _ in overrides}
    parts: dict[int, list[RatePart]] = {}
    need_lines = {inv.pk: inv.partner_id for inv in invoices if inv.partner_id in has_overrides}
    amounts: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    if need_lines:
        # The partner comes from the invoices given (in the billing run their rows are written
        # last, just before the commit, so no join on the invoice table).
        # ``lines`` (invoice id -> (tariff, amount)) from the issuing code: in a billing run
        # on PostgreSQL the line rows are copied in at the end of the chunk, not readable yet.
        rows = (
            [(i, t, a) for i in need_lines for t, a in lines.get(i, [])]
            if lines is not None
            else InvoiceLine.objects.filter(invoice_id__in=list(need_lines)).values_list(
                "invoice_id", "tariff_id", "amount_minor"
            )
        )
        for inv_id, tariff_id, amount in rows:
            partner_id = need_lines[inv_id]
            default = partners[partner_id].commission_bp
            rate = default if tariff_id is None else overrides.get((partner_id, tariff_id), default)
            amounts[inv_id][rate] += amount
    for inv in invoices:
        default = partners[inv.partner_id].commission_bp
        if inv.pk not in amounts:
            parts[inv.pk] = [RatePart(default, inv.net_minor)]
            continue
        per_rate = amounts[inv.pk]
        gross = sum(per_rate.values())
        # Tax-inclusive lines are gross: share the invoice net in proportion.
        parts[inv.pk] = [
            RatePart(
                rate,
                inv.net_minor if gross == 0 else round_minor(Decimal(inv.net_minor) * amt / gross),
            )
            for rate, amt in sorted(per_rate.items())
        ]
    return parts


def commission_accrue_invoiced(
    invoices: Sequence[Invoice | IssuedInvoice],
    lines: dict[int, list[tuple[int | None, int]]] | None = None,
) -> int:
    """Accrue commission on invoices of percentage partners with the invoiced base; returns
    the number of accrual lines written (one COPY on PostgreSQL)."""
    partners = {
        pid: p
        for pid, p in _percentage_partners(inv.partner_id for inv in invoices).items()
        if p.commission_base == CommissionBase.INVOICED
    }
    relevant = [inv for inv in invoices if inv.partner_id in partners]
    if not relevant:
        return 0
    parts = invoice_rate_parts(relevant, partners, lines)
    rows = [
        (
            inv.partner_id,
            inv.issue_date,
            "invoice",
            inv.pk,
            inv.pk,
            part.rate_bp,
            part.net_minor,
            accrual_amount(base_minor=part.net_minor, rate_bp=part.rate_bp),
            inv.currency,
        )
        for inv in relevant
        for part in parts[inv.pk]
    ]
    tuples_insert(
        CommissionAccrual,
        [
            "partner_id",
            "date",
            "source_type",
            "source_id",
            "invoice_id",
            "rate_bp",
            "base_minor",
            "amount_minor",
            "currency",
        ],
        rows,
    )
    return len(rows)


def commission_accrue_allocations(
    allocations: list[tuple[int, Invoice, int, date]],
) -> list[CommissionAccrual]:
    """``allocations``: (allocation id, invoice, amount allocated (negative when undone), date)."""
    partners = {
        pid: p
        for pid, p in _percentage_partners(inv.partner_id for _, inv, _, _ in allocations).items()
        if p.commission_base == CommissionBase.PAID
    }
    relevant = [a for a in allocations if a[1].partner_id in partners]
    if not relevant:
        return []
    parts = invoice_rate_parts(list({a[1].pk: a[1] for a in relevant}.values()), partners)
    rows = []
    for alloc_id, inv, amount, on in relevant:
        for part in parts[inv.pk]:
            base = paid_base(
                allocated_minor=amount,
                part_net_minor=part.net_minor,
                invoice_total_minor=inv.total_minor,
            )
            rows.append(
                CommissionAccrual(
                    partner_id=inv.partner_id,
                    date=on,
                    source_type="allocation",
                    source_id=alloc_id,
                    invoice_id=inv.pk,
                    rate_bp=part.rate_bp,
                    base_minor=round_minor(base),
                    amount_minor=round_minor(base * part.rate_bp / BP),
                    currency=inv.currency,
                )
            )
    return CommissionAccrual.objects.bulk_create(rows)


def commission_accrue_credit_note(
    *, credit_note_id: int, invoice: Invoice, net_minor: int, on: date
) -> list[CommissionAccrual]:
    """Invoiced base: a credit note reverses the commission of the lines it credits, each at
    that line's rate (its tariff's override, else the partner's rate), so crediting one line
    leaves the others' commission whole (docs/billing.md, "Commission reversal"). Tax-
    inclusive lines are gross: the credit note's net is shared in proportion. (Paid base
    reverses through the allocations the credit note or a refund undoes.)"""
    partners = {
        pid: p
        for pid, p in _percentage_partners([invoice.partner_id]).items()
        if p.commission_base == CommissionBase.INVOICED
    }
    partner = partners.get(invoice.partner_id)
    if partner is None:
        return []
    overrides = dict(
        CommissionOverride.objects.filter(partner_id=partner.pk).values_list("tariff_id", "rate_bp")
    )
    per_rate: dict[int, int] = defaultdict(int)
    for tariff_id, amount in CreditNoteLine.objects.filter(
        credit_note_id=credit_note_id
    ).values_list("invoice_line__tariff_id", "amount_minor"):
        per_rate[overrides.get(tariff_id, partner.commission_bp)] += amount
    credited = sum(per_rate.values())
    rows = []
    for rate, amount in sorted(per_rate.items()):
        base = amount if credited == net_minor else div_round(net_minor * amount, credited or 1)
        rows.append(
            CommissionAccrual(
                partner_id=invoice.partner_id,
                date=on,
                source_type="credit_note",
                source_id=credit_note_id,
                invoice_id=invoice.pk,
                rate_bp=rate,
                base_minor=-base,
                amount_minor=-accrual_amount(base_minor=base, rate_bp=rate),
                currency=invoice.currency,
            )
        )
    return CommissionAccrual.objects.bulk_create(rows)
