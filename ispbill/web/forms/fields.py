"""Fields and helpers every form of the web UI shares: money, percentages, dates,
fieldsets, and a service's refusal placed beside the fields it names."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from ispbill.core.errors import DomainError
from ispbill.core.money import (
    PERCENT_MAX_BP,
    QUANTITY_MAX,
    AmountDecimalsError,
    AmountError,
    AmountRangeError,
    Money,
    currency_exponent,
    percent_parse,
)
from ispbill.core.validators import (
    DAY_EARLIEST,
    DAY_LATEST,
    FieldValueError,
    country_choices,
    currency_choices,
    day_clean,
)


def today() -> date:
    return timezone.localdate()


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


class DayField(forms.DateField):
    """A date a person types: within the range every entry point accepts (``day_clean``,
    the API's and the import's rule: 2000-01-01 to 2100-12-31); a date picker by default."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", DateInput)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("min", DAY_EARLIEST.isoformat())
        self.widget.attrs.setdefault("max", DAY_LATEST.isoformat())

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value not in self.empty_values:
            try:
                day_clean(value)
            except FieldValueError as exc:
                raise ValidationError(str(exc)) from exc


class MoneyField(forms.CharField):
    """An amount typed as "12.50" (or "12,50") in the form's currency; cleaned to a Decimal,
    never a float. It is parsed by ``Money.parse``, the parser of the API and the imports,
    with the same decimals per currency and the same limits (ispbill/core/money.py)."""

    def __init__(self, *, allow_negative: bool = False, **kwargs: Any) -> None:
        self.allow_negative = allow_negative
        # Set by ``money_fields_currency`` from the form's currency.
        self.currency = "EUR"
        kwargs.setdefault("max_length", 40)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("inputmode", "decimal")
        self.widget.attrs.setdefault("placeholder", "0.00")

    def clean(self, value: Any) -> Any:
        text = super().clean(value)
        if text in (None, ""):
            return None
        try:
            amount = Money.parse(str(text), self.currency).amount
        except AmountDecimalsError as exc:
            places = currency_exponent(self.currency)
            raise ValidationError(
                f"Use at most {places} decimals for {self.currency}."
                if places
                else f"{self.currency} has no decimals: enter a whole amount."
            ) from exc
        except AmountRangeError as exc:
            raise ValidationError(f"{exc}.") from exc
        except AmountError as exc:
            raise ValidationError("Enter an amount such as 12.50.") from exc
        if amount < 0 and not self.allow_negative:
            raise ValidationError("The amount cannot be negative.")
        return amount


def money_fields_currency(form: forms.BaseForm, currency: str) -> None:
    """Parse the form's amounts in ``currency`` (its decimals and limits)."""
    for field in form.fields.values():
        if isinstance(field, MoneyField):
            field.currency = currency


class QuantityField(forms.IntegerField):
    """A quantity from 1 to QUANTITY_MAX (ispbill/core/money.py)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", QUANTITY_MAX)
        kwargs.setdefault("initial", 1)
        super().__init__(**kwargs)


def to_minor(amount: Decimal | None, currency: str) -> int | None:
    if amount is None:
        return None
    return Money.parse(str(amount), currency).minor


def from_minor(minor: int | None, currency: str) -> str:
    if minor is None:
        return ""
    return str(Money.from_minor(minor, currency).amount)


class PercentField(forms.DecimalField):
    """A percentage 0-100 with two decimals, stored in hundredths of a percent; parsed by
    ``percent_parse``, the parser of the API's limits and the imports (ispbill/core/money.py)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", Decimal(0))
        kwargs.setdefault("max_value", Decimal(PERCENT_MAX_BP) / 100)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("max_digits", 5)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:  # a Decimal, or None (the stubs say int)
        if value in self.empty_values:
            return None
        try:
            return Decimal(percent_parse(str(value))) / 100
        except AmountError as exc:
            raise ValidationError(str(exc)) from exc


def bp(value: Decimal | None) -> int:
    return int((value or Decimal(0)) * 100)


def percent(bp_value: int | None) -> Decimal:
    return (Decimal(bp_value or 0) / 100).quantize(Decimal("0.01"))


class CodeSelect(forms.Select):
    """A select of standard codes (countries, currencies). A stored value outside the list
    stays an option of its own, so it is posted back and refused with its reason instead of
    silently becoming the first country of the list."""

    def __init__(
        self, codes: Callable[[], list[tuple[str, str]]], attrs: dict[str, Any] | None = None
    ) -> None:
        super().__init__(attrs)
        self.codes = codes

    def optgroups(self, name: str, value: list[Any], attrs: dict[str, Any] | None = None) -> Any:
        known = self.codes()
        listed = {code for code, _ in known}
        self.choices = [
            *((v, f"{v} (not a valid code)") for v in value if v and v not in listed),
            *known,
        ]
        return super().optgroups(name, value, attrs)


def country_select() -> CodeSelect:
    return CodeSelect(country_choices, attrs={"autocomplete": "country"})


def currency_select() -> CodeSelect:
    return CodeSelect(currency_choices)


# The largest id a database row can have (a signed 64-bit integer, Django's BigAutoField).
ID_MAX = 2**63 - 1


class ModelIdsField(forms.ModelMultipleChoiceField):
    """Several objects chosen by id. Django's field looks ids up with ``pk__in``, which the
    database refuses for a number beyond a 64-bit integer (SQLite raised OverflowError: a
    500 for a 25-digit reseller id); such an id names no object, so it is the field's
    ``invalid_pk_value`` error like any other id that is not one."""

    def _check_values(self, value: Any) -> Any:
        for pk in value if isinstance(value, (list, tuple, set, frozenset)) else ():
            try:
                number = int(str(pk).strip())
            except ValueError:
                continue  # Django's own check names it
            if not -ID_MAX - 1 <= number <= ID_MAX:
                raise ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": pk},
                )
        return super()._check_values(value)  # type: ignore[misc]  # Django API, no stub


class FieldsetsMixin:
    """Forms that group their fields with a title and an explanation.

    A form field with a ``modes`` attribute (space-separated partner modes) applies only in
    those modes: its wrapper, and a fieldset whose fields all have modes, carry
    ``data-modes`` for the script that shows them only for the chosen mode (ispbill.js)."""

    def _choices(self, name: str) -> Any:
        form: Any = self
        return form.fields[name]

    sections: list[tuple[str, str, list[str]]] = []

    def fieldsets(self) -> list[tuple[str, str, list[Any], str]]:
        form: Any = self
        out = []
        for title, explain, names in self.sections:
            fields = [form[name] for name in names if name in form.fields]
            if fields:
                modes = [getattr(f.field, "modes", "") for f in fields]
                shared = (
                    " ".join(sorted({m for text in modes for m in text.split()}))
                    if all(modes)
                    else ""
                )
                out.append((title, explain, fields, shared))
        return out


# Service field names -> form field names, for errors a service reports per field.
SERVICE_TO_FORM = {
    "partner_id": "partner",
    "tariff_id": "tariff",
    "tax_rate_id": "tax_rate",
    "price_minor": "price",
    "price": "price",
    "commission_bp": "commission_percent",
    "discount_bp": "discount_percent",
    "min_balance_minor": "min_balance",
    "unit_price_minor": "unit_price",
    "rate_bp": "rate_percent",
    "price_override_minor": "price_override",
    "customer_id": "customer",
}


# Every refusal a service may raise: the domain's error family (``DomainError``, with its
# fields) and Django's model validation. Views catch these and only these, and show them with
# ``errors_to_form``; anything else is a bug and answers 500.
REFUSED = (DomainError, ValidationError)


def errors_to_form(form: forms.BaseForm, exc: Exception) -> None:
    """Show a service's refusal beside the fields it names (else above the form)."""
    fields: dict[str, str] = getattr(exc, "fields", None) or {}
    placed = False
    for name, text in fields.items():
        target = SERVICE_TO_FORM.get(name, name)
        if target in form.fields:
            form.add_error(target, text)
            placed = True
        else:
            form.add_error(None, text)
            placed = True
    if not placed:
        messages = getattr(exc, "messages", None)
        form.add_error(None, " ".join(messages) if messages else str(exc))
