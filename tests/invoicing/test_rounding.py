"""Integer rounding (``div_round``) agrees with Decimal ROUND_HALF_UP of the exact quotient,
and the rating and VAT figures built on it are the ones worked by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from ispbill.billing.rating import charge_amount
from ispbill.core.money import div_round, round_minor
from ispbill.core.periods import Period, ServicePeriod
from ispbill.invoicing.tax import document_totals


@given(st.integers(min_value=-(10**15), max_value=10**15), st.integers(1, 10**9))
def test_div_round_is_round_half_up_of_the_exact_quotient(n, d):
    assert div_round(n, d) == round_minor(Decimal(n) / Decimal(d))


@given(st.integers(min_value=-(10**12), max_value=10**12), st.integers(1, 10**6))
def test_div_round_of_exact_ties(k, half):
    # n / d = k + 1/2 exactly (d even): random quotients almost never tie, so the ties are
    # drawn on purpose; half up means away from zero for negatives too.
    d = 2 * half
    n = k * d + half if k >= 0 else k * d - half
    assert div_round(n, d) == round_minor(Decimal(n) / Decimal(d))
    assert abs(div_round(n, d)) == abs(k) + 1


def test_div_round_ties_go_away_from_zero():
    assert [div_round(n, 2) for n in (5, 3, 1, -1, -3, -5)] == [3, 2, 1, -1, -2, -3]
    assert div_round(149, 100) == 1 and div_round(-150, 100) == -2


def test_vat_by_hand():
    # Net: 29.99 at 19 % = 5.6981 -> 5.70; 0.50 at 7 % = 0.035 -> 0.04 (half up).
    t = document_totals([(2999, 1900, "S"), (50, 700, "S")], prices_include_tax=False)
    assert [(g.rate_bp, g.net_minor, g.tax_minor) for g in t.groups] == [
        (700, 50, 4),
        (1900, 2999, 570),
    ]
    assert t.total_minor == 2999 + 50 + 570 + 4
    # Gross prices, one rate: 35.70 + 10.00 = 45.70; tax 4570 x 19 / 119 = 729.66 -> 7.30.
    t = document_totals([(3570, 1900, "S"), (1000, 1900, "S")], prices_include_tax=True)
    assert [(g.net_minor, g.tax_minor) for g in t.groups] == [(3840, 730)]
    assert t.total_minor == 4570


def test_prorated_and_discounted_charge_by_hand():
    whole = Period(date(2026, 4, 1), date(2026, 4, 30))
    april = ServicePeriod(whole, whole, whole)
    assert (
        charge_amount(
            unit_price_minor=3000, quantity=2, sp=april, discount_bp=0, discount_until=None
        )
        == 6000
    )
    # From 20 April: 11 of 30 days of 30.00 = 11.00.
    late = ServicePeriod(
        Period(date(2026, 4, 20), date(2026, 4, 30)),
        Period(date(2026, 4, 1), date(2026, 4, 30)),
        Period(date(2026, 4, 20), date(2026, 4, 30)),
    )
    assert (
        charge_amount(
            unit_price_minor=3000, quantity=1, sp=late, discount_bp=0, discount_until=None
        )
        == 1100
    )
    # 25 % off up to 10 April: 30.00 x (30 - 10 x 0.25) / 30 = 27.50.
    assert (
        charge_amount(
            unit_price_minor=3000,
            quantity=1,
            sp=april,
            discount_bp=2500,
            discount_until=date(2026, 4, 10),
        )
        == 2750
    )
    # 33.33 % off all month of 10.00: 10.00 x 0.6667 = 6.667 -> 6.67.
    assert (
        charge_amount(
            unit_price_minor=1000, quantity=1, sp=april, discount_bp=3333, discount_until=None
        )
        == 667
    )
