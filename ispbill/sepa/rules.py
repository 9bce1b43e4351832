"""SEPA rules without the ORM: account and identifier checks, the TARGET2 calendar, the
collection date of an invoice. Pure functions (docs/payments.md, "Rules")."""

from __future__ import annotations

import re
from datetime import date, timedelta

from dateutil.easter import easter
from dateutil.relativedelta import relativedelta
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.eu import at_02
from stdnum.exceptions import ValidationError as StdnumError

from ispbill.core.errors import DomainValidationError

__all__ = [
    "MANDATE_ENDING_CODES",
    "MANDATE_EXPIRY_MONTHS",
    "RETURN_REASONS",
    "SepaError",
    "bic_clean",
    "collection_date_for",
    "creditor_id_clean",
    "iban_clean",
    "iban_masked",
    "is_target_day",
    "mandate_expired",
    "mandate_reference_clean",
    "next_target_day",
    "sepa_text",
]


class SepaError(DomainValidationError):
    """A SEPA request that cannot be done as asked; the message says why."""


# ISO 20022 external reason codes of R-transactions that end a mandate: the account is closed,
# blocked or wrong, there is no mandate, or the debtor died (docs/payments.md, "Returns").
MANDATE_ENDING_CODES = frozenset({"AC01", "AC04", "AC06", "AC13", "MD01", "MD07"})

RETURN_REASONS: dict[str, str] = {
    "AC01": "Account identifier incorrect",
    "AC04": "Account closed",
    "AC06": "Account blocked",
    "AC13": "Debtor account is a consumer account",
    "AG01": "Transaction forbidden on this account",
    "AG02": "Invalid bank operation code",
    "AM04": "Insufficient funds",
    "AM05": "Duplicate collection",
    "BE05": "Creditor identifier unknown",
    "CNOR": "Creditor bank not registered",
    "DNOR": "Debtor bank not registered",
    "FF01": "Invalid file format",
    "MD01": "No mandate",
    "MD02": "Mandate data missing or incorrect",
    "MD06": "Refund requested by the debtor",
    "MD07": "Debtor deceased",
    "MS02": "Refused by the debtor",
    "MS03": "Reason not specified",
    "RC01": "BIC incorrect",
    "RR01": "Debtor account or identification missing",
    "RR02": "Debtor name or address missing",
    "RR03": "Creditor name or address missing",
    "RR04": "Regulatory reason",
    "SL01": "Specific service offered by the debtor bank",
}

# A mandate not used for 36 months expires (EPC SDD Core rulebook).
MANDATE_EXPIRY_MONTHS = 36

# Mandate references and end-to-end ids: the SEPA "restricted" Latin character set, at most
# 35 characters, not starting with "/" and without "//".
_REFERENCE_RE = re.compile(r"^[A-Za-z0-9/\-?:().,'+ ]{1,35}$")
_NOT_SEPA = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]")
_UMLAUTS = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss", "&": "+"}
)


def sepa_text(value: str, limit: int) -> str:
    """``value`` in the SEPA character set (umlauts spelled out, the rest replaced by a
    space), cut to ``limit`` characters: names and remittance text in a pain.008 file."""
    text = _NOT_SEPA.sub(" ", value.translate(_UMLAUTS))
    return re.sub(r"\s+", " ", text).strip()[:limit]


def iban_clean(value: str) -> str:
    """The IBAN in its electronic form (``DE89370400440532013000``), or SepaError."""
    try:
        return str(IBAN(value).compact)
    except (SchwiftyException, ValueError) as exc:
        raise SepaError(
            f"{value!r} is not a valid IBAN ({exc}).", fields={"iban": "not a valid IBAN"}
        ) from exc


def bic_clean(value: str, *, iban: str = "") -> str:
    """The BIC (8 or 11 characters), or "" when none is given (optional inside the EEA);
    with an IBAN whose bank schwifty knows, a BIC of another country is refused."""
    value = (value or "").strip().replace(" ", "").upper()
    if not value:
        return ""
    try:
        bic = BIC(value)
    except (SchwiftyException, ValueError) as exc:
        raise SepaError(
            f"{value!r} is not a valid BIC ({exc}).", fields={"bic": "not a valid BIC"}
        ) from exc
    if iban and bic.country_code != iban[:2] and not _bic_country_ok(bic.country_code, iban):
        raise SepaError(
            f"The BIC {value} is of a bank in {bic.country_code}, the IBAN of one in {iban[:2]}.",
            fields={"bic": "does not belong to the IBAN's country"},
        )
    return str(bic.compact)


# Territories whose IBANs carry their own country code but whose banks have the parent's BIC.
_BIC_COUNTRIES = {"GF": "FR", "GP": "FR", "MQ": "FR", "RE": "FR", "YT": "FR", "PM": "FR"}


def _bic_country_ok(bic_country: str, iban: str) -> bool:
    return _BIC_COUNTRIES.get(iban[:2]) == bic_country


def creditor_id_clean(value: str) -> str:
    """A SEPA creditor identifier (AT-02): country, two check digits (ISO 7064 MOD 97-10 over
    the national part and the country), a business code, the national identifier."""
    compact = at_02.compact(value or "")
    if not (8 <= len(compact) <= 35) or not compact[:2].isalpha():
        raise SepaError(
            f"{value!r} is not a creditor identifier: it starts with the country code, then "
            "two check digits, a three-character business code (ZZZ) and the national "
            "identifier, e.g. DE98ZZZ09999999999.",
            fields={"creditor_id": "not a creditor identifier"},
        )
    try:
        return str(at_02.validate(compact))
    except StdnumError as exc:
        raise SepaError(
            f"The check digits of the creditor identifier {compact} do not match; check it "
            "against the letter of your central bank.",
            fields={"creditor_id": "check digits do not match"},
        ) from exc


def mandate_reference_clean(value: str) -> str:
    value = (value or "").strip()
    if not _REFERENCE_RE.match(value) or value.startswith("/") or "//" in value:
        raise SepaError(
            "A mandate reference has 1 to 35 characters: letters A-Z, digits and / - ? : ( ) "
            ". , ' + or a space, not starting with / and without //.",
            fields={"reference": "not a valid mandate reference"},
        )
    return value


def iban_masked(iban: str) -> str:
    """``DE89 **** **** **** **30 00``: enough for the debtor to recognise the account."""
    groups = [iban[i : i + 4] for i in range(0, len(iban), 4)]
    out = [groups[0]]
    shown_from = len(iban) - 4
    for n, group in enumerate(groups[1:], 1):
        start = n * 4
        out.append("".join(ch if start + i >= shown_from else "*" for i, ch in enumerate(group)))
    return " ".join(out)


def is_target_day(day: date) -> bool:
    """A TARGET2 business day: not a weekend, New Year, Good Friday, Easter Monday, 1 May,
    25 or 26 December. SEPA collections settle only on these days."""
    if day.weekday() >= 5:
        return False
    if (day.month, day.day) in ((1, 1), (5, 1), (12, 25), (12, 26)):
        return False
    sunday = easter(day.year)
    return day not in (sunday - timedelta(days=2), sunday + timedelta(days=1))


def next_target_day(day: date) -> date:
    """``day`` if it is a TARGET2 day, else the next one."""
    while not is_target_day(day):
        day += timedelta(days=1)
    return day


def collection_date_for(*, issue_date: date, due_date: date, notice_days: int) -> date:
    """When an invoice is collected: on its due date, but not before the pre-notification
    period after issue has passed, moved to the next TARGET2 day."""
    return next_target_day(max(due_date, issue_date + timedelta(days=notice_days)))


def mandate_expired(*, last_used: date | None, signed: date, on: date) -> bool:
    """A mandate unused for 36 months (since its last collection, or its signature when it
    was never used) expires."""
    return (last_used or signed) + relativedelta(months=MANDATE_EXPIRY_MONTHS) < on
