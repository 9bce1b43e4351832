"""VAT per rate over a document (EN 16931 BR-CO-17). Pure.

For each rate: net prices -> ``tax = round(sum of line nets x rate)``; tax-inclusive prices ->
``tax = round(gross x rate / (1 + rate))`` and ``net = gross - tax``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

BP = Decimal(10000)


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


def round_minor(value: Decimal) -> int:
    """ROUND_HALF_UP to whole minor units (amounts here are already in minor units)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def rate_decimal(rate_bp: int) -> Decimal:
    return Decimal(rate_bp) / BP


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
        rate = rate_decimal(rate_bp)
        if prices_include_tax:
            tax = round_minor(Decimal(amount) * rate / (1 + rate))
            net = amount - tax
        else:
            net = amount
            tax = round_minor(Decimal(amount) * rate)
        groups.append(TaxGroup(rate_bp, category, net, tax))
    net_total = sum(g.net_minor for g in groups)
    tax_total = sum(g.tax_minor for g in groups)
    return DocumentTotals(tuple(groups), net_total, tax_total, net_total + tax_total)
