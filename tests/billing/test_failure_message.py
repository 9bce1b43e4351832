"""What a person reads about one customer's billing failure (preview and run pages)."""

from __future__ import annotations

from datetime import date, timedelta

from ispbill.billing.run import failure_message
from ispbill.core.errors import DomainError


def test_a_date_out_of_the_calendar_says_what_to_check():
    try:
        date(2026, 4, 1) + timedelta(days=999_999_999)
    except OverflowError as exc:
        message = failure_message(exc)
    assert "OverflowError" not in message and "date value out of range" not in message
    assert "payment due days" in message


def test_a_refusal_reads_as_its_message_and_anything_else_keeps_its_kind():
    assert failure_message(DomainError("Tariff X has no price.")) == "Tariff X has no price."
    assert failure_message(KeyError("x")) == "KeyError: 'x'"


def test_an_integer_overflow_is_not_read_as_a_date():
    message = failure_message(OverflowError("Python int too large to convert to SQLite INTEGER"))
    assert message == "OverflowError: Python int too large to convert to SQLite INTEGER"
