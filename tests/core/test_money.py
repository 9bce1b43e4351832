from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ispbill.core.money import (
    AmountDecimalsError,
    AmountError,
    CurrencyMismatch,
    InvalidCurrency,
    Money,
    currency_exponent,
)


def test_exponents_come_from_iso_4217():
    assert currency_exponent("EUR") == 2
    assert currency_exponent("JPY") == 0
    assert currency_exponent("BHD") == 3
    with pytest.raises(InvalidCurrency):
        currency_exponent("XYZ1")


def test_round_half_up_to_the_minor_unit():
    assert Money(Decimal("0.125"), "EUR").rounded() == Money(Decimal("0.13"), "EUR")
    assert Money(Decimal("-0.125"), "EUR").rounded() == Money(Decimal("-0.13"), "EUR")
    assert Money(Decimal("0.124"), "EUR").minor == 12
    assert Money(Decimal("12.5"), "JPY").minor == 13
    assert Money(Decimal("1.0005"), "BHD").minor == 1001


def test_worked_proration_example():
    # 30.00 for 17 of 31 days: 30 x 17 / 31 = 16.4516... -> 16.45
    assert (Money.from_minor(3000, "EUR") * Decimal(17) * (Decimal(1) / Decimal(31))).minor == 1645


def test_arithmetic_across_currencies_raises():
    with pytest.raises(CurrencyMismatch):
        Money.from_minor(100, "EUR") + Money.from_minor(100, "USD")
    with pytest.raises(CurrencyMismatch):
        _ = Money.from_minor(100, "EUR") < Money.from_minor(100, "USD")


def test_floats_are_refused():
    with pytest.raises(TypeError):
        Money.from_minor(1.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money.from_minor(100, "EUR") * 1.5  # type: ignore[operator]


def test_parse_refuses_excess_decimals_and_garbage():
    assert Money.parse("12.50", "eur") == Money.from_minor(1250, "EUR")
    with pytest.raises(ValueError, match="more decimals"):
        Money.parse("12.505", "EUR")
    with pytest.raises(ValueError):
        Money.parse("twelve", "EUR")
    with pytest.raises(ValueError):
        Money.parse("NaN", "EUR")


def test_parse_reads_what_people_type_the_same_everywhere():
    """The one parser of typed amounts (web forms, API, imports): a decimal comma and
    thousands spaces are read; the limits and decimals are the currency's."""
    assert Money.parse("12,50", "EUR") == Money.from_minor(1250, "EUR")
    assert Money.parse(" 1 234.50 ", "EUR") == Money.from_minor(123450, "EUR")
    assert Money.parse("1234", "JPY") == Money.from_minor(1234, "JPY")
    with pytest.raises(AmountDecimalsError):
        Money.parse("12,5", "JPY")
    with pytest.raises(AmountError):
        Money.parse("1,234.5,0", "EUR")
    with pytest.raises(AmountError) as refused:
        Money.parse("twelve", "EUR")
    assert refused.value.code == "invalid_amount"  # a DomainError: the API answers 422


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["EUR", "JPY", "BHD"]))
def test_minor_round_trip(minor, currency):
    assert Money.from_minor(minor, currency).minor == minor


@given(
    st.lists(st.integers(min_value=-(10**9), max_value=10**9), max_size=20),
)
def test_sum_of_minor_is_exact(values):
    total = Money.zero("EUR")
    for v in values:
        total = total + Money.from_minor(v, "EUR")
    assert total.minor == sum(values)
