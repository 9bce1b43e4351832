"""VAT per rate over a document (EN 16931 BR-CO-17). Pure.

For each rate: net prices -> ``tax = round(sum of line nets x rate)``; tax-inclusive prices ->
``tax = round(gross x rate / (1 + rate))`` and ``net = gross - tax``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from ispbill.core.money import BP_INT, div_round


@dataclass(frozen=True, slots=True)
class TaxGroup:
    rate_bp: int
    category: str
    net_minor: int
    tax_minor: int

    @property
    def gross_minor(self) -> int:
        return self.net_minor + self.tax_minor


@dataclass(frozen=True, slots=True)
class DocumentTotals:
    groups: tuple[TaxGroup, ...]
    net_minor: int
    tax_minor: int
    total_minor: int


def document_totals(
    lines: Iterable[tuple[int, int, str]], *, prices_include_tax: bool
) -> DocumentTotals:
    """``lines`` are (amount_minor, rate_bp, category); amounts are net, or gross when the
    issuer's prices include tax."""
    sums: dict[tuple[int, str], int] = defaultdict(int)
    for amount, rate_bp, category in lines:
        sums[(rate_bp, category)] += amount
    groups = []
    for (rate_bp, category), amount in sorted(sums.items()):
        if prices_include_tax:  # gross x rate / (1 + rate)
            tax = div_round(amount * rate_bp, BP_INT + rate_bp)
            net = amount - tax
        else:
            net = amount
            tax = div_round(amount * rate_bp, BP_INT)
        groups.append(TaxGroup(rate_bp, category, net, tax))
    net_total = sum(g.net_minor for g in groups)
    tax_total = sum(g.tax_minor for g in groups)
    return DocumentTotals(tuple(groups), net_total, tax_total, net_total + tax_total)


def credit_note_totals(
    groups: Iterable[TaxGroup],
    *,
    left: dict[tuple[int, str], tuple[int, int]],
    prices_include_tax: bool,
) -> DocumentTotals:
    """A credit note's tax groups within what is left of its invoice's groups (``left``:
    (rate, category) -> (net, tax) not yet credited), docs/billing.md "Credit notes".

    A credit that takes all that is left of a group takes exactly its net and tax, so the
    credit notes of an invoice add up to it per rate; a partial one keeps its own rounded tax,
    capped at the tax left. The header is the sum of the groups (EN 16931 BR-CO-14)."""
    out = []
    for g in groups:
        if (g.rate_bp, g.category) not in left:
            out.append(g)
            continue
        left_net, left_tax = left[(g.rate_bp, g.category)]
        net, tax = g.net_minor, g.tax_minor
        if prices_include_tax:
            gross = net + tax
            if gross >= left_net + left_tax:
                net, tax = left_net, left_tax
            else:
                tax = min(tax, left_tax)
                net = gross - tax
                if net > left_net:
                    net, tax = left_net, gross - left_net
        elif net >= left_net:
            net, tax = left_net, left_tax
        else:
            tax = min(tax, left_tax)
        out.append(TaxGroup(g.rate_bp, g.category, net, tax))
    net_total = sum(g.net_minor for g in out)
    tax_total = sum(g.tax_minor for g in out)
    return DocumentTotals(tuple(out), net_total, tax_total, net_total + tax_total)
