from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ispbill.core.numbering import (
    DEFAULT_INVOICE_PATTERN,
    PatternError,
    render_number,
    sequence_period_key,
    validate_pattern,
)


def test_default_pattern():
    n = render_number(
        DEFAULT_INVOICE_PATTERN,
        issue_date=date(2026, 4, 1),
        partner_id=3,
        customer_id=7,
        next_value=42,
    )
    assert n == "202603000042"


def test_tokens_and_padding():
    n = render_number(
        "INV-{year}{month}{day}-{customer_id|5}-{next|3}",
        issue_date=date(2026, 2, 3),
        partner_id=1,
        customer_id=12,
        next_value=7,
    )
    assert n == "INV-20260203-00012-007"


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("{year}{nxt}", "Unknown token"),
        ("{year}", "must contain {next}"),
        ("{next}{next}", "exactly once"),
        ("{customer_id}{next}", "separator"),
        ("{next|0}", "Padding"),
        ("{next|x}", "Padding"),
        ("", "empty"),
        ("A B{next}", "Only letters"),
        ("{next", "brace"),
    ],
)
def test_invalid_patterns_are_refused(pattern, message):
    with pytest.raises(PatternError, match=message):
        validate_pattern(pattern)


def test_year_pattern_restarts_each_year():
    assert sequence_period_key("{year}{next|6}", date(2026, 12, 31)) == "2026"
    assert sequence_period_key("{year}{next|6}", date(2027, 1, 1)) == "2027"
    assert sequence_period_key("INV{next|6}", date(2027, 1, 1)) == ""


@given(st.sets(st.integers(min_value=1, max_value=10**7), min_size=2, max_size=50))
def test_distinct_counters_give_distinct_numbers(values):
    numbers = {
        render_number(
            DEFAULT_INVOICE_PATTERN,
            issue_date=date(2026, 1, 1),
            partner_id=1,
            customer_id=None,
            next_value=v,
        )
        for v in values
    }
    assert len(numbers) == len(values)
