"""Validators of the values a user types that the domain relies on: IBAN and BIC (schwifty),
VAT identification numbers (python-stdnum), ISO 3166 country and ISO 4217 currency codes,
document number patterns, reminder days, calendar days and payment terms.

One function per kind of value, used everywhere such a value is typed: the models' ``clean``
(hence the web forms and every service that calls ``full_clean``), the API's schemas and the
CSV import. Each returns the value in its stored form (an IBAN without spaces, a VAT id
compacted, reminder days sorted) or raises ``FieldValueError`` with a message written for the
user; ``""`` is returned for an empty optional value.

Country and currency codes are refused unless written as the standard writes them (upper
case): ``Ge`` could be Germany (DE) or Georgia (GE), and guessing would put the wrong country
on a tax document. IBAN, BIC and VAT ids are written in many ways (groups of four, dots,
lower case) that all mean the same number, so those are normalised.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError

from ispbill.core.numbering import PatternError, validate_pattern

__all__ = [
    "DAY_EARLIEST",
    "DAY_LATEST",
    "PAYMENT_DUE_DAYS_MAX",
    "REMINDER_DAY_MAX",
    "FieldValueError",
    "bic_clean",
    "country_choices",
    "country_code_clean",
    "currency_choices",
    "currency_code_clean",
    "day_clean",
    "hex_color_clean",
    "iban_clean",
    "model_fields_clean",
    "number_pattern_clean",
    "payment_date_clean",
    "reminder_days_clean",
    "reminder_days_list",
    "values_clean",
    "vat_id_clean",
]

REMINDER_DAY_MAX = 3650
# Every date a person types (service start, payment, credit note, run dates...): a typo such
# as 1999 or 2999 would bill hundreds of periods at once or none for centuries.
DAY_EARLIEST = date(2000, 1, 1)
DAY_LATEST = date(2100, 12, 31)
# Days from an invoice's date to its due date (customers, issuers; web, API, import).
PAYMENT_DUE_DAYS_MAX = 365
REMINDER_DAYS_MAX_COUNT = 12

# ISO 4217 codes that are no money one can invoice in: precious metals, units of account,
# the testing and the "no currency" codes.
_NOT_MONEY = frozenset(
    {"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"}
)


class FieldValueError(ValueError):
    """A typed value that is not valid; the message says what is wrong and how to write it.

    A ``ValueError``, so the API's schemas (pydantic) report it as a 422 on its field."""


@functools.cache
def _countries() -> dict[str, str]:
    import pycountry

    return {c.alpha_2: c.name for c in pycountry.countries}


def country_choices() -> list[tuple[str, str]]:
    """(code, "Name (CODE)") for every ISO 3166 country, by name."""
    return sorted(
        ((code, f"{name} ({code})") for code, name in _countries().items()),
        key=lambda pair: pair[1],
    )


def country_code_clean(value: str) -> str:
    text = (value or "").strip()
    if not text:
        raise FieldValueError("Enter the country as its ISO 3166 code, e.g. DE.")
    if text in _countries():
        return text
    if text.upper() in _countries():
        raise FieldValueError(
            f"Write the country code in capitals: {text.upper()} "
            f"({_countries()[text.upper()]}), as ISO 3166 does."
        )
    raise FieldValueError(
        f"{text!r} is not an ISO 3166 country code; use two capital letters such as DE or AT."
    )


@functools.cache
def _currencies() -> dict[str, str]:
    import pycountry
    from babel.numbers import list_currencies

    known_to_babel = set(list_currencies())
    return {
        c.alpha_3: c.name
        for c in pycountry.currencies
        if c.alpha_3 in known_to_babel and c.alpha_3 not in _NOT_MONEY
    }


def currency_choices() -> list[tuple[str, str]]:
    """(code, "CODE - Name") for every ISO 4217 currency one can invoice in, by code."""
    return sorted((code, f"{code} - {name}") for code, name in _currencies().items())


def currency_code_clean(value: str) -> str:
    text = (value or "").strip()
    if text in _currencies():
        return text
    if text.upper() in _currencies():
        raise FieldValueError(f"Write the currency code in capitals: {text.upper()} (ISO 4217).")
    raise FieldValueError(
        f"{text!r} is not an ISO 4217 currency code; use three capital letters such as EUR."
    )


def day_clean(value: date) -> date:
    """A calendar day typed by a person: from DAY_EARLIEST to DAY_LATEST."""
    if not DAY_EARLIEST <= value <= DAY_LATEST:
        raise FieldValueError(
            f"Give a date between {DAY_EARLIEST.isoformat()} and {DAY_LATEST.isoformat()}."
        )
    return value


def payment_date_clean(value: date) -> date:
    """The day a payment was received, as a person records it: in DAY_EARLIEST..today
    (local), never ahead (a collection's payments are dated by their collection instead)."""
    from django.utils import timezone

    value = day_clean(value)
    if value > timezone.localdate():
        raise FieldValueError(
            "A payment is recorded when the money has arrived: give today's date or an earlier one."
        )
    return value


def _compact(value: str) -> str:
    return re.sub(r"[\s.\-/]", "", value or "").upper()


def iban_clean(value: str) -> str:
    """An IBAN with its checksum and its country's length and format, without spaces."""
    from schwifty import IBAN
    from schwifty.exceptions import (
        InvalidBBANChecksum,
        InvalidChecksumDigits,
        InvalidCountryCode,
        InvalidLength,
        SchwiftyException,
    )

    text = _compact(value)
    if not text:
        return ""
    try:
        return IBAN(text).compact
    except InvalidCountryCode as exc:
        raise FieldValueError(
            f"{text} does not start with the code of a country that uses IBANs (DE, AT, ...)."
        ) from exc
    except InvalidLength as exc:
        raise FieldValueError(
            f"{text} has {len(text)} characters; an IBAN of {text[:2]} has a different length. "
            "Check it against the bank's statement."
        ) from exc
    except (InvalidChecksumDigits, InvalidBBANChecksum) as exc:
        raise FieldValueError(
            f"The check digits of {text} do not match; the IBAN has a typo."
        ) from exc
    except SchwiftyException as exc:
        raise FieldValueError(f"{text} is not an IBAN: {exc}.") from exc


def bic_clean(value: str) -> str:
    """A BIC (SWIFT code) of 8 or 11 characters with a valid country code, in capitals."""
    from schwifty import BIC
    from schwifty.exceptions import SchwiftyException

    text = _compact(value)
    if not text:
        return ""
    try:
        return BIC(text).compact
    except SchwiftyException as exc:
        raise FieldValueError(
            f"{text} is not a BIC: 8 or 11 letters and digits, bank code, country code "
            "(e.g. COBADEFFXXX)."
        ) from exc


def vat_id_clean(value: str) -> str:
    """A VAT identification number with its country prefix (as on an invoice, EN 16931
    BT-31), checked by python-stdnum where it knows the country's format; compacted."""
    from stdnum import get_cc_module
    from stdnum.eu import vat as eu_vat
    from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength, ValidationError

    text = _compact(value)
    if not text:
        return ""
    prefix = text[:2]
    example = "DE123456788"
    if not (prefix.isalpha() and (prefix in _countries() or prefix == "EL")):
        raise FieldValueError(
            f"{text} does not start with a country code; a VAT id is the country code and "
            f"the number, e.g. {example}."
        )
    if len(text) < 4 or not text.isalnum():
        raise FieldValueError(
            f"{text} is not a VAT id: the country code, then letters and digits, e.g. {example}."
        )
    if prefix.lower() in eu_vat.MEMBER_STATES or prefix == "EL":
        module: Any = eu_vat
    else:
        module = get_cc_module(prefix.lower(), "vat")
    if module is None:
        # A country whose VAT number format python-stdnum does not know: its shape only.
        return text
    try:
        checked = module.validate(text)
    except InvalidChecksum as exc:
        raise FieldValueError(
            f"The check digit of {text} does not match; the VAT id has a typo."
        ) from exc
    except (InvalidLength, InvalidFormat) as exc:
        raise FieldValueError(
            f"{text} does not have the format of a VAT id of {prefix}; check the number."
        ) from exc
    except ValidationError as exc:
        raise FieldValueError(f"{text} is not a valid VAT id of {prefix}.") from exc
    checked = _compact(str(checked))
    # Some countries' modules drop the prefix; the stored id always carries it.
    return checked if checked[:2] == prefix else prefix + checked


def number_pattern_clean(value: str) -> str:
    """A document number pattern: only the known placeholders, {next} exactly once."""
    try:
        return validate_pattern(value)
    except PatternError as exc:
        raise FieldValueError(str(exc)) from exc


def reminder_days_list(value: str) -> list[int]:
    """Reminder days as stored ("3,5,7") -> [3, 5, 7]; raises FieldValueError if typed
    otherwise. Separated by commas or spaces; sorted, each day once; empty: no reminders."""
    text = (value or "").strip()
    if not text:
        return []
    days: set[int] = set()
    for part in re.split(r"[,;\s]+", text):
        if not part:
            continue
        if not part.isdigit():
            raise FieldValueError(
                f"{part!r} is not a number of days; write days after the due date "
                "separated by commas, e.g. 3,5,7."
            )
        day = int(part)
        if not 1 <= day <= REMINDER_DAY_MAX:
            raise FieldValueError(
                f"Reminder days are from 1 to {REMINDER_DAY_MAX} days after the due date; "
                f"{day} is not."
            )
        days.add(day)
    if len(days) > REMINDER_DAYS_MAX_COUNT:
        raise FieldValueError(f"Give at most {REMINDER_DAYS_MAX_COUNT} reminder days.")
    return sorted(days)


def reminder_days_clean(value: str) -> str:
    return ",".join(str(d) for d in reminder_days_list(value))


_HEX_COLOR_RE = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


def hex_color_clean(value: str) -> str:
    """A colour as ``#rrggbb`` in lower case (``#1F4E79``, ``1f4e79`` and ``#14e`` are
    accepted and written so); ``""`` for none."""
    value = (value or "").strip()
    if not value:
        return ""
    match = _HEX_COLOR_RE.match(value)
    if not match:
        raise FieldValueError(
            f"{value!r} is not a colour: write it as # and six hexadecimal digits, e.g. #1f4e79."
        )
    digits = match.group(1).lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return "#" + digits


def values_clean(
    obj: Any, cleaners: Mapping[str, Callable[[str], str]], exclude: Iterable[str] | None = None
) -> None:
    """Run ``cleaners`` over the attributes of ``obj`` (a model, from its ``clean_fields``),
    store the normalised values and raise Django's ValidationError naming every field that
    failed. Fields in ``exclude`` are left alone (a form without them cannot show their
    error)."""
    skip = set(exclude or ())
    errors: dict[str, str] = {}
    for name, cleaner in cleaners.items():
        if name in skip:
            continue
        try:
            setattr(obj, name, cleaner(getattr(obj, name)))
        except FieldValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise ValidationError(errors)


def model_fields_clean(
    obj: Any,
    cleaners: Mapping[str, Callable[[str], str]],
    exclude: Iterable[str] | None,
    super_clean_fields: Callable[[], None],
) -> None:
    """A model's ``clean_fields``: Django's field checks, then ``cleaners`` on the fields
    that passed them; every error raised together."""
    errors: dict[str, Any] = {}
    try:
        super_clean_fields()
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    try:
        values_clean(obj, cleaners, exclude={*(exclude or ()), *errors})
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)
