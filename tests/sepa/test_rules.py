"""SEPA rules without the database: identifiers, accounts, the TARGET2 calendar, dates."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ispbill.sepa.rules import (
    SepaError,
    bic_clean,
    collection_date_for,
    creditor_id_clean,
    iban_clean,
    iban_masked,
    is_target_day,
    mandate_expired,
    mandate_reference_clean,
    next_target_day,
    sepa_text,
)


def test_creditor_identifiers_are_checked_by_their_iso_7064_digits():
    # DE98ZZZ09999999999: 09999999999 + DE (1314) + 00 mod 97 -> check digits 98.
    assert creditor_id_clean("de98 zzz 09999999999") == "DE98ZZZ09999999999"
    assert creditor_id_clean("ES23ZZZ47690558N") == "ES23ZZZ47690558N"
    with pytest.raises(SepaError, match="check digits"):
        creditor_id_clean("DE97ZZZ09999999999")
    with pytest.raises(SepaError, match="not a creditor identifier"):
        creditor_id_clean("12")


def test_ibans_and_bics():
    assert iban_clean("DE89 3704 0044 0532 0130 00") == "DE89370400440532013000"
    with pytest.raises(SepaError, match="IBAN"):
        iban_clean("DE88370400440532013000")  # one check digit off
    assert bic_clean("cobadeffxxx", iban="DE89370400440532013000") == "COBADEFFXXX"
    assert bic_clean("", iban="DE89370400440532013000") == ""
    with pytest.raises(SepaError, match="bank in FR"):
        bic_clean("BNPAFRPPXXX", iban="DE89370400440532013000")


def test_mandate_references_use_the_sepa_character_set():
    assert mandate_reference_clean(" C00042-1 ") == "C00042-1"
    for bad in ("", "/abc", "a//b", "Müller-1", "x" * 36):
        with pytest.raises(SepaError):
            mandate_reference_clean(bad)
    assert sepa_text("Bert Müller & Söhne", 70) == "Bert Mueller + Soehne"


def test_masked_iban_shows_country_check_digits_and_the_last_four():
    assert iban_masked("DE89370400440532013000") == "DE89 **** **** **** **30 00"


def test_target2_calendar():
    # 2026: Good Friday 3 April, Easter Monday 6 April, 1 May a Friday.
    assert not is_target_day(date(2026, 4, 3))
    assert not is_target_day(date(2026, 4, 6))
    assert not is_target_day(date(2026, 5, 1))
    assert not is_target_day(date(2026, 12, 26))
    assert is_target_day(date(2026, 4, 7))
    assert next_target_day(date(2026, 4, 3)) == date(2026, 4, 7)
    assert next_target_day(date(2026, 12, 24)) == date(2026, 12, 24)
    assert next_target_day(date(2026, 12, 25)) == date(2026, 12, 28)


def test_collection_date_is_the_due_date_after_the_notice_on_a_target_day():
    # Issued 1 March, due 15 March (Sunday): Monday 16 March.
    assert collection_date_for(
        issue_date=date(2026, 3, 1), due_date=date(2026, 3, 15), notice_days=14
    ) == date(2026, 3, 16)
    # Due after 7 days, 14 days' notice: the 15th again, the 16th.
    assert collection_date_for(
        issue_date=date(2026, 3, 1), due_date=date(2026, 3, 8), notice_days=14
    ) == date(2026, 3, 16)
    # Due 3 April (Good Friday): Tuesday 7 April.
    assert collection_date_for(
        issue_date=date(2026, 3, 20), due_date=date(2026, 4, 3), notice_days=5
    ) == date(2026, 4, 7)


def test_a_mandate_unused_for_36_months_expires():
    assert not mandate_expired(last_used=None, signed=date(2023, 3, 16), on=date(2026, 3, 16))
    assert mandate_expired(last_used=None, signed=date(2023, 3, 15), on=date(2026, 3, 16))
    assert not mandate_expired(
        last_used=date(2025, 1, 1), signed=date(2020, 1, 1), on=date(2026, 3, 16)
    )


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
def test_next_target_day_is_a_target_day_at_most_four_days_later(day):
    found = next_target_day(day)
    assert is_target_day(found)
    assert 0 <= (found - day).days <= 4
