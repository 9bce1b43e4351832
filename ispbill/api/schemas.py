"""Types shared by the API's schemas: money, ids, bounded dates and texts, pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, Generic, TypeVar

from django.db.models import QuerySet
from ninja import Field, Schema
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, WithJsonSchema

from ispbill.core import validators
from ispbill.core.errors import DomainValidationError
from ispbill.core.money import (
    PERCENT_MAX_BP,
    Money,
    currency_exponent,
    percent_bp_check,
)

__all__ = [
    "AmountText",
    "BicText",
    "CountryCode",
    "CurrencyCode",
    "Day",
    "IbanText",
    "Id",
    "InSchema",
    "MoneyOut",
    "NumberPattern",
    "OutModel",
    "Page",
    "PaymentDay",
    "PercentBp",
    "ReminderDays",
    "VatIdText",
    "money_out",
    "page",
    "page_of",
]


class InSchema(Schema):
    """A request body: a field it does not declare is refused (422 naming the field), so a
    misspelt name is never silently ignored. Every body schema derives from it
    (tests/api/test_request_bodies.py checks)."""

    model_config = ConfigDict(extra="forbid")


# Database ids: positive, well inside every backend's integer range.
Id = Annotated[int, Field(ge=1, le=2**53)]

# A money amount as a decimal string: "12.50". Never a JSON number. The pattern is its shape
# (13 digits: the largest JPY amount, 10**12); its limit is Money.parse's (``amount_minor``).
AmountText = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,13}(\.[0-9]{1,4})?$")]

# A percentage in hundredths of a percent (12.50 % = 1250): the limits of the web forms and
# the imports (``PERCENT_MAX_BP``, ``percent_bp_check`` in ispbill/core/money.py).
PercentBp = Annotated[
    int,
    Field(ge=0, le=PERCENT_MAX_BP, description="Hundredths of a percent: 12.50 % = 1250"),
    AfterValidator(percent_bp_check),
]


# The values the domain validates where they are typed (ispbill/core/validators.py): the
# same functions as the models' clean and the CSV import, so a value refused by a web form
# is refused here too, with the same message; the value passed on is the normalised one.
CurrencyCode = Annotated[
    str,
    StringConstraints(max_length=3),
    AfterValidator(validators.currency_code_clean),
    WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217"}),
]
CountryCode = Annotated[
    str,
    StringConstraints(max_length=2),
    AfterValidator(validators.country_code_clean),
    WithJsonSchema({"type": "string", "pattern": "^[A-Z]{2}$", "description": "ISO 3166"}),
]
IbanText = Annotated[
    str,
    StringConstraints(max_length=50),
    AfterValidator(validators.iban_clean),
    WithJsonSchema({"type": "string", "maxLength": 50, "description": "IBAN; empty: none"}),
]
BicText = Annotated[
    str,
    StringConstraints(max_length=20),
    AfterValidator(validators.bic_clean),
    WithJsonSchema({"type": "string", "maxLength": 20, "description": "BIC; empty: none"}),
]
VatIdText = Annotated[
    str,
    StringConstraints(max_length=40),
    AfterValidator(validators.vat_id_clean),
    WithJsonSchema(
        {"type": "string", "maxLength": 40, "description": "VAT id with its country prefix"}
    ),
]
HexColor = Annotated[
    str,
    StringConstraints(max_length=7),
    AfterValidator(validators.hex_color_clean),
    WithJsonSchema({"type": "string", "maxLength": 7, "description": "#rrggbb; empty: default"}),
]
NumberPattern = Annotated[
    str,
    StringConstraints(max_length=64),
    AfterValidator(validators.number_pattern_clean),
    WithJsonSchema({"type": "string", "maxLength": 64, "description": "e.g. INV-{year}-{next|5}"}),
]
ReminderDays = Annotated[
    str,
    StringConstraints(max_length=50),
    AfterValidator(validators.reminder_days_clean),
    WithJsonSchema(
        {"type": "string", "maxLength": 50, "description": "Days after the due date: 3,5,7"}
    ),
]

Day = Annotated[dt.date, AfterValidator(validators.day_clean)]
# The day a payment was received: a Day, not after today.
PaymentDay = Annotated[dt.date, AfterValidator(validators.payment_date_clean)]

# Printable text (no control characters, which no document can print or PostgreSQL store).
_PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


def printable(max_length: int, min_length: int = 0) -> StringConstraints:
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=_PRINTABLE)


# Texts by maximum length (the model field's); NameN must not be empty.
Str2 = Annotated[str, printable(2)]
Str11 = Annotated[str, printable(11)]
Str20 = Annotated[str, printable(20)]
Str30 = Annotated[str, printable(30)]
Str34 = Annotated[str, printable(34)]
Str40 = Annotated[str, printable(40)]
Str50 = Annotated[str, printable(50)]
Str60 = Annotated[str, printable(60)]
Str64 = Annotated[str, printable(64)]
Str100 = Annotated[str, printable(100)]
Str140 = Annotated[str, printable(140)]
Str150 = Annotated[str, printable(150)]
Str200 = Annotated[str, printable(200)]
Str254 = Annotated[str, printable(254)]
Str300 = Annotated[str, printable(300)]
Name40 = Annotated[str, printable(40, 1)]
Name100 = Annotated[str, printable(100, 1)]
Name150 = Annotated[str, printable(150, 1)]
Name200 = Annotated[str, printable(200, 1)]
Name300 = Annotated[str, printable(300, 1)]


class OutModel(BaseModel):
    """An output schema read from plain values (dicts, or objects by attribute): a pydantic
    model, not a django-ninja ``Schema``, whose per-object root validator (Django getters,
    resolvers) costs about 60 microseconds a nested object; a page of 50 invoices with six
    amounts each validates in 0.5 ms instead of 3.5 ms."""

    model_config = ConfigDict(from_attributes=True)


class MoneyOut(OutModel):
    amount: str = Field(..., description='Decimal string, e.g. "12.50"', examples=["12.50"])
    currency: str = Field(..., description="ISO 4217 code", examples=["EUR"])


@lru_cache(maxsize=64)
def _exponent(currency: str) -> int:
    return currency_exponent(currency)


def money_out(minor: int | None, currency: str) -> dict[str, str] | None:
    """``1250, "EUR"`` -> ``{"amount": "12.50", "currency": "EUR"}``: the text of
    ``Money.from_minor(minor, currency).amount``, without building the object (a page of
    invoices has 300 amounts)."""
    if minor is None:
        return None
    return {"amount": str(Decimal(int(minor)).scaleb(-_exponent(currency))), "currency": currency}


T = TypeVar("T")


# Counting stops this many items past the page's offset: an exact COUNT(*) of a big list
# (a partner's 400,000 invoices) costs more than the page itself (docs/api.md, Lists).
COUNT_LIMIT = 1_000


class Page(Schema, Generic[T]):
    items: list[T]
    count: int = Field(
        ...,
        description="Number of items matching the filters, counted up to offset + 1,000 "
        "(see count_exact)",
    )
    count_exact: bool = Field(
        ...,
        description="False when more than offset + 1,000 items match: count is then "
        "offset + 1,000, a lower bound",
    )
    limit: int
    offset: int


class ListParams(Schema):
    limit: int = Field(50, ge=1, le=200, description="Page size (1-200)")
    offset: int = Field(0, ge=0, le=1_000_000)


def _counted(parts: Sequence[QuerySet[Any]], params: ListParams, shown: int) -> tuple[int, bool]:
    """(count, exact): known from a short page, else counted up to ``COUNT_LIMIT`` past
    the offset (``SELECT count(*) FROM (... LIMIT n)``, unordered)."""
    if shown < params.limit and (shown or params.offset == 0):
        return params.offset + shown, True
    cap = params.offset + COUNT_LIMIT
    first, *rest = (qs.order_by()[: cap + 1] for qs in parts)
    total = first.union(*rest, all=True).count() if rest else first.count()
    return (total, True) if total <= cap else (cap, False)


def page(qs: QuerySet[Any], params: ListParams, present: Any = None) -> dict[str, Any]:
    """One page of ``qs``; ``present`` turns a row into its output (default: the row)."""
    return page_of([qs], params, present)


def page_of(
    parts: Sequence[QuerySet[Any]], params: ListParams, present: Any = None
) -> dict[str, Any]:
    """One page of the rows of ``parts`` as if they were one list: querysets of one model,
    disjoint, with the same columns and the same ordering. Several parts are read as a
    UNION ALL of each part's first ``offset + limit`` rows, so a filter that is an OR of two
    indexed conditions reads each side in index order instead of sorting every match
    (several parts need a database that can limit the parts of a UNION: PostgreSQL)."""
    end = params.offset + params.limit
    if len(parts) == 1:
        rows = list(parts[0][params.offset : end])
    else:
        order = parts[0].query.order_by
        first, *rest = (qs[:end] for qs in parts)
        rows = list(first.union(*rest, all=True).order_by(*order)[params.offset : end])
    items = [present(r) for r in rows] if present is not None else rows
    count, exact = _counted(parts, params, len(rows))
    return {
        "items": items,
        "count": count,
        "count_exact": exact,
        "limit": params.limit,
        "offset": params.offset,
    }


SignedAmountText = Annotated[str, StringConstraints(pattern=r"^-?[0-9]{1,13}(\.[0-9]{1,4})?$")]


def amount_minor(text: str, currency: str, *, field: str) -> int:
    """``"12.50"`` in ``currency`` -> 1250; too many decimals -> a 422 naming ``field``."""
    try:
        return Money.parse(text, currency).minor
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise DomainValidationError.for_fields({field: str(exc)}) from exc


def ordered(qs: QuerySet[Any], sort: str) -> QuerySet[Any]:
    """``sort`` is a field name, ``-`` first for descending; ties broken by id."""
    tie = "-id" if sort.startswith("-") else "id"
    return qs.order_by(sort, tie) if sort.lstrip("-") != "id" else qs.order_by(sort)
