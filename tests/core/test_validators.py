"""The validators of typed domain values (ispbill/core/validators.py): what each accepts,
how it normalises, and that each refusal says what is wrong."""

from __future__ import annotations

import pytest

from ispbill.core.validators import (
    FieldValueError,
    bic_clean,
    country_choices,
    country_code_clean,
    currency_choices,
    currency_code_clean,
    iban_clean,
    number_pattern_clean,
    reminder_days_clean,
    reminder_days_list,
    vat_id_clean,
)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),
        ("de89370400440532013000", "DE89370400440532013000"),
        ("AT61 1904 3002 3457 3201", "AT611904300234573201"),
        ("", ""),
    ],
)
def test_iban_is_stored_compact(typed: str, stored: str) -> None:
    assert iban_clean(typed) == stored


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("DE00123", "has 7 characters"),  # the value
        ("DE89370400440532013001", "check digits"),  # last digit changed: 98 - mod 97 fails
        ("XX89370400440532013000", "does not start with the code of a country"),
    ],
)
def test_iban_refused_with_its_reason(typed: str, says: str) -> None:
    with pytest.raises(FieldValueError, match=says):
        iban_clean(typed)


def test_bic() -> None:
    assert bic_clean("cobadeff xxx") == "COBADEFFXXX"
    assert bic_clean("BYLADEM1001") == "BYLADEM1001"
    assert bic_clean("") == ""
    for bad in ("XX", "COBAXXFF", "COBADEFF1"):  # short; country XX; 9 characters
        with pytest.raises(FieldValueError, match="is not a BIC"):
            bic_clean(bad)


def test_vat_ids_by_country() -> None:
    # DE: 8 digits and the ISO 7064 MOD 11,10 check digit. From p = 10, per digit d:
    # s = (d + p) mod 10 (0 -> 10), p = 2s mod 11. For 1 2 3 4 5 6 7 8, s = 1 4 1 6 6 7 10 7
    # and p = 2 8 2 1 1 3 9 3; the check digit is (11 - 3) mod 10 = 8: DE123456788.
    assert vat_id_clean("de 123 456 788") == "DE123456788"
    assert vat_id_clean("ATU13585627") == "ATU13585627"
    assert vat_id_clean("EL094259216") == "EL094259216"  # Greece writes EL, not GR
    assert vat_id_clean("CHE-116.281.710 MWST") == "CHE116281710MWST"
    assert vat_id_clean("") == ""
    with pytest.raises(FieldValueError, match="does not start with a country code"):
        vat_id_clean("XX")  # the value
    with pytest.raises(FieldValueError, match="check digit"):
        vat_id_clean("DE123456789")
    with pytest.raises(FieldValueError, match="format of a VAT id of DE"):
        vat_id_clean("DE12")


def test_country_codes_upper_case_only() -> None:
    assert country_code_clean("DE") == "DE"
    # "Ge" is refused, not guessed: GE is Georgia, the user may have meant DE.
    with pytest.raises(FieldValueError, match=r"in capitals: GE \(Georgia\)"):
        country_code_clean("Ge")
    with pytest.raises(FieldValueError, match="not an ISO 3166 country code"):
        country_code_clean("XX")
    with pytest.raises(FieldValueError):
        country_code_clean("")
    codes = dict(country_choices())
    assert codes["DE"] == "Germany (DE)" and len(codes) == 249


def test_currency_codes() -> None:
    assert currency_code_clean("EUR") == "EUR"
    with pytest.raises(FieldValueError, match="in capitals: EUR"):
        currency_code_clean("eur")
    for bad in ("XYZ", "DEM", "XAU"):  # unknown, withdrawn, gold
        with pytest.raises(FieldValueError, match="not an ISO 4217 currency code"):
            currency_code_clean(bad)
    assert ("JPY", "JPY - Yen") in currency_choices()


def test_number_patterns_name_the_allowed_placeholders() -> None:
    assert number_pattern_clean("INV-{year}-{next|5}") == "INV-{year}-{next|5}"
    with pytest.raises(FieldValueError) as refused:
        number_pattern_clean("INV-{foo}")  # the value
    assert str(refused.value) == (
        "Unknown token {foo} in the number pattern; use one of {year}, {month}, {day}, "
        "{partner_id}, {customer_id}, {next}."
    )


def test_reminder_days() -> None:
    assert reminder_days_clean("3, 5,7") == "3,5,7"
    assert reminder_days_clean("14 7 7") == "7,14"  # sorted, each once
    assert reminder_days_clean("") == ""  # no reminders
    assert reminder_days_list("3,5,7") == [3, 5, 7]
    with pytest.raises(FieldValueError, match="'abc' is not a number of days"):
        reminder_days_clean("abc")  # the value
    with pytest.raises(FieldValueError, match="0 is not"):
        reminder_days_clean("0,3")
    with pytest.raises(FieldValueError, match="-3"):
        reminder_days_clean("-3")
