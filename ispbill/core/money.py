"""Money: an exact amount in one currency.

Amounts are stored in the database as integers in minor units; code computes with
``Decimal`` through this type. Rounding happens in one place, ``Money.rounded``, always
``ROUND_HALF_UP`` to the currency's minor unit (ISO 4217 exponent, from Babel's CLDR data).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import get_currency_precision, list_currencies


class CurrencyMismatch(ValueError):
    """Arithmetic or comparison between amounts of two currencies."""


class InvalidCurrency(ValueError):
    """Not an ISO 4217 currency code."""


class AmountError(ValueError):
    """An entered amount that is not a number, or not finite."""


class AmountDecimalsError(AmountError):
    """An entered amount with more decimals than its currency has."""


class AmountRangeError(AmountError):
    """An entered amount, quantity or line beyond the domain limits."""


# The domain limits of everything a person, an API client or a file enters: every amount
# (prices, unit prices, overrides, payments, refunds, credits, minimum balances), every
# quantity and every percentage, checked here for the web forms, the API, the CSV imports
# and bank files alike.
# With a line's unit price times quantity bounded by AMOUNT_MAX_MINOR too, a line of the
# longest period (12 months) is at most 1.2 * 10**13 minor units, and a sum of them
# overflows a 64-bit integer (9.2 * 10**18) only past 768,000 such lines on one document
# (docs/security.md, "Input limits").
AMOUNT_MAX_MINOR = 10**12
QUANTITY_MAX = 100_000


def amount_max(currency: str) -> Decimal:
    """The largest amount accepted in ``currency`` (10**12 minor units: 10,000,000,000.00 EUR)."""
    return Decimal(AMOUNT_MAX_MINOR).scaleb(-currency_exponent(currency))


def quantity_check(quantity: int) -> int:
    """A quantity within 1..QUANTITY_MAX, else AmountRangeError naming the limit."""
    if not 1 <= quantity <= QUANTITY_MAX:
        raise AmountRangeError(f"Enter a quantity from 1 to {QUANTITY_MAX:,}.")
    return quantity


def line_check(*, unit_minor: int, quantity: int, currency: str | None = None) -> None:
    """A unit price times a quantity within the amount limit (one line of a document)."""
    quantity_check(quantity)
    if abs(unit_minor) * quantity > AMOUNT_MAX_MINOR:
        limit = (
            f"{amount_max(currency):,} {currency}"
            if currency
            else f"{AMOUNT_MAX_MINOR:,} minor units (cents)"
        )
        raise AmountRangeError(
            f"Unit price times quantity is above {limit}, the largest line ispbill accepts; "
            "lower the quantity or the price."
        )


# Percentages (commissions, discounts, tax rates): 0 to 100 with two decimals, stored in
# hundredths of a percent ("basis points" of ispbill: 12.50 % = 1250).
BP_INT = 10000  # basis points in one
BP = Decimal(BP_INT)


def round_minor(value: Decimal) -> int:
    """ROUND_HALF_UP to whole minor units (amounts here are already in minor units)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def div_round(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` (denominator > 0) rounded ROUND_HALF_UP to a whole number,
    exactly, in integers: the same result as ``round_minor`` of the exact quotient, without
    Decimal arithmetic (a billing run rounds hundreds of thousands of these)."""
    q, r = divmod(abs(numerator), denominator)
    if 2 * r >= denominator:
        q += 1
    return q if numerator >= 0 else -q


PERCENT_MAX_BP = 10_000


def percent_bp_check(value_bp: int) -> int:
    """Hundredths of a percent within 0..PERCENT_MAX_BP, else AmountRangeError."""
    if not 0 <= value_bp <= PERCENT_MAX_BP:
        raise AmountRangeError("Enter a percentage from 0 to 100.")
    return value_bp


def percent_parse(text: str) -> int:
    """A typed percentage ("12.5", "12,50", "12.5 %") -> hundredths of a percent (1250);
    AmountError for anything else, AmountRangeError outside 0-100 (``1e15``, ``9e99``)."""
    cleaned = text.strip().rstrip("%").strip()
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except (InvalidOperation, ValueError) as exc:
        raise AmountError(f"{text!r} is not a percentage; write it as 12.50") from exc
    if not value.is_finite():
        raise AmountError(f"{text!r} is not a percentage; write it as 12.50")
    # Bounded before any scaling: 9e99 never reaches quantize.
    if not 0 <= value <= PERCENT_MAX_BP / 100:
        raise AmountRangeError("Enter a percentage from 0 to 100.")
    hundredths = value * 100
    if hundredths != hundredths.to_integral_value():
        raise AmountDecimalsError("Use at most two decimals for a percentage (12.50).")
    return int(hundredths)


@lru_cache(maxsize=512)
def currency_exponent(currency: str) -> int:
    """Digits after the decimal point of the currency's minor unit (EUR 2, JPY 0, BHD 3)."""
    code = currency.upper()
    if code not in _known_currencies():
        raise InvalidCurrency(f"{currency!r} is not an ISO 4217 currency code")
    return int(get_currency_precision(code))


@lru_cache(maxsize=1)
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def validate_currency(currency: str) -> str:
    code = currency.upper()
    currency_exponent(code)
    return code


@lru_cache(maxsize=512)
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-currency_exponent(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """The one rounding rule: ROUND_HALF_UP to the currency's minor unit."""
    return amount.quantize(_quantum(currency), rounding=ROUND_HALF_UP)


def to_decimal(value: Decimal | int | str) -> Decimal:
    if isinstance(value, float):  # pragma: no cover - guarded for callers that ignore types
        raise TypeError("floats are not accepted for money; pass a str or Decimal")
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not a number") from exc


@dataclass(frozen=True, slots=True)
class Money:
    """An amount with its currency. ``amount`` may carry more precision than the minor unit
    until it is rounded; stored amounts are always rounded (``minor``)."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            object.__setattr__(self, "amount", to_decimal(self.amount))
        object.__setattr__(self, "currency", validate_currency(self.currency))

    # construction -----------------------------------------------------------------------
    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> Money:
        if not isinstance(minor, int) or isinstance(minor, bool):
            raise TypeError("minor units must be an int")
        return cls(Decimal(minor).scaleb(-currency_exponent(currency)), currency)

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """A user-entered amount ("12.50"); refuses more decimals than the currency has and
        amounts beyond AMOUNT_MAX_MINOR (AmountError and its kinds, all ValueErrors)."""
        try:
            value = to_decimal(text.strip())
        except ValueError as exc:
            raise AmountError(f"{text!r} is not an amount; write it as 12.50") from exc
        if not value.is_finite():
            raise AmountError(f"{text!r} is not a finite amount")
        # Before any rounding: 9e99 must not reach quantize (or the database).
        if abs(value) > amount_max(currency):
            raise AmountRangeError(
                f"{text} is above {amount_max(currency):,} {currency.upper()}, the largest "
                "amount ispbill accepts"
            )
        money = cls(value, currency)
        if money.rounded() != money:
            raise AmountDecimalsError(
                f"{text} has more decimals than {money.currency} allows "
                f"({currency_exponent(money.currency)})"
            )
        return money

    # conversion -------------------------------------------------------------------------
    def rounded(self) -> Money:
        return Money(round_money(self.amount, self.currency), self.currency)

    @property
    def minor(self) -> int:
        """Integer minor units of the rounded amount (what the database stores)."""
        return int(round_money(self.amount, self.currency).scaleb(currency_exponent(self.currency)))

    def __str__(self) -> str:
        return f"{round_money(self.amount, self.currency)} {self.currency}"

    def format(self, locale: str = "en") -> str:
        from babel.numbers import format_currency

        return str(
            format_currency(round_money(self.amount, self.currency), self.currency, locale=locale)
        )

    # arithmetic -------------------------------------------------------------------------
    def _check(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency} cannot be combined")
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._check(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._check(other).amount, self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        if isinstance(factor, (Money, float)):
            raise TypeError("Money can only be multiplied by a Decimal or int")
        return Money(self.amount * Decimal(factor), self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._check(other).amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._check(other).amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._check(other).amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._check(other).amount

    def __bool__(self) -> bool:
        return bool(self.amount)

    def is_negative(self) -> bool:
        return self.amount < 0
