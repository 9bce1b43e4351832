"""DATEV Buchungsstapel export: one issuer's books of one month as the CSV file German
accountants import into DATEV (docs/data-import-export.md, "DATEV").

The file is DATEV-Format "EXTF", header version 700, category 21 "Buchungsstapel",
format version 13: a header line of 31 fields, the line of the 125 column headings, then
one line per booking. Windows-1252, ``;`` between fields, text in double quotes, amounts
positive with a decimal comma and a Soll/Haben-Kennzeichen, Belegdatum as DDMM (the year
comes from the header). Bookings, each ``Konto`` against ``Gegenkonto``:

- an invoice, per tax group (rate and category): the gross amount, debitor ``S`` against
  the revenue account of that rate (an automatic account, or with the rate's BU key);
- a credit note, per tax group: the same reversed (debitor ``H``);
- a payment: the money account (bank, cash or transit by method) ``S`` against the
  debitor; a refund or a returned payment: the money account ``H`` against the debitor.

Only the issuer's own documents are read (``issuer_id``), in the open scope: a partner
gets its own books or nothing."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from ispbill.core.audit import audit_record
from ispbill.core.errors import DomainValidationError
from ispbill.core.periods import add_months
from ispbill.core.tenancy import current_partner_ids
from ispbill.customers.models import Customer
from ispbill.dataio.exports import ExportError, decimal_amount
from ispbill.dataio.models import DatevChart, DatevSettings, DebitorNumbering
from ispbill.invoicing.models import CreditNote, CreditNoteTax, Invoice, InvoiceTax
from ispbill.partners.models import Partner, PartnerMode
from ispbill.payments.models import Payment, PaymentMethod, Refund

FORMAT_VERSION = 13

# Line 2 of a Buchungsstapel, format version 13 (125 columns), as in DATEV's sample files.
COLUMNS: tuple[str, ...] = (
    "Umsatz (ohne Soll/Haben-Kz)",
    "Soll/Haben-Kennzeichen",
    "WKZ Umsatz",
    "Kurs",
    "Basis-Umsatz",
    "WKZ Basis-Umsatz",
    "Konto",
    "Gegenkonto (ohne BU-Schlüssel)",
    "BU-Schlüssel",
    "Belegdatum",
    "Belegfeld 1",
    "Belegfeld 2",
    "Skonto",
    "Buchungstext",
    "Postensperre",
    "Diverse Adressnummer",
    "Geschäftspartnerbank",
    "Sachverhalt",
    "Zinssperre",
    "Beleglink",
    *(f"Beleginfo - {kind} {n}" for n in range(1, 9) for kind in ("Art", "Inhalt")),
    "KOST1 - Kostenstelle",
    "KOST2 - Kostenstelle",
    "Kost-Menge",
    "EU-Land u. UStID (Bestimmung)",
    "EU-Steuersatz (Bestimmung)",
    "Abw. Versteuerungsart",
    "Sachverhalt L+L",
    "Funktionsergänzung L+L",
    "BU 49 Hauptfunktionstyp",
    "BU 49 Hauptfunktionsnummer",
    "BU 49 Funktionsergänzung",
    *(
        text
        for n in range(1, 21)
        for text in (f"Zusatzinformation - Art {n}", f"Zusatzinformation- Inhalt {n}")
    ),
    "Stück",
    "Gewicht",
    "Zahlweise",
    "Forderungsart",
    "Veranlagungsjahr",
    "Zugeordnete Fälligkeit",
    "Skontotyp",
    "Auftragsnummer",
    "Buchungstyp",
    "USt-Schlüssel (Anzahlungen)",
    "EU-Land (Anzahlungen)",
    "Sachverhalt L+L (Anzahlungen)",
    "EU-Steuersatz (Anzahlungen)",
    "Erlöskonto (Anzahlungen)",
    "Herkunft-Kz",
    "Buchungs GUID",
    "KOST-Datum",
    "SEPA-Mandatsreferenz",
    "Skontosperre",
    "Gesellschaftername",
    "Beteiligtennummer",
    "Identifikationsnummer",
    "Zeichnernummer",
    "Postensperre bis",
    "Bezeichnung SoBil-Sachverhalt",
    "Kennzeichen SoBil-Buchung",
    "Festschreibung",
    "Leistungsdatum",
    "Datum Zuord. Steuerperiode",
    "Fälligkeit",
    "Generalumkehr (GU)",
    "Steuersatz",
    "Land",
    "Abrechnungsreferenz",
    "BVV-Position",
    "EU-Land u. UStID (Ursprung)",
    "EU-Steuersatz (Ursprung)",
    "Abw. Skontokonto",
)
assert len(COLUMNS) == 125

# The chart's accounts when a setting is empty. SKR03/SKR04: 8400/4400 "Erlöse 19 % USt"
# and 8300/4300 "Erlöse 7 % USt" (automatic accounts), 8336/4336 revenue taxable in another
# EU country (reverse charge, automatic), 8100/4100 tax-free revenue, 1200/1800 bank,
# 1000/1600 cash, 1360/1460 money in transit (card and other payments).
CHART_DEFAULTS: dict[str, dict[str, int]] = {
    DatevChart.SKR03: {
        "revenue_account_standard": 8400,
        "revenue_account_reduced": 8300,
        "revenue_account_eu": 8336,
        "revenue_account_exempt": 8100,
        "bank_account": 1200,
        "cash_account": 1000,
        "transit_account": 1360,
    },
    DatevChart.SKR04: {
        "revenue_account_standard": 4400,
        "revenue_account_reduced": 4300,
        "revenue_account_eu": 4336,
        "revenue_account_exempt": 4100,
        "bank_account": 1800,
        "cash_account": 1600,
        "transit_account": 1460,
    },
}
ACCOUNT_FIELDS = tuple(CHART_DEFAULTS[DatevChart.SKR03])
# BU keys (Steuerschlüssel) for revenue on accounts that are not automatic accounts:
# 3 = Umsatzsteuer 19 %, 2 = Umsatzsteuer 7 %.
BU_KEYS = {1900: "3", 700: "2"}
EU_CATEGORIES = frozenset({"AE", "K"})  # reverse charge, intra-community
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Booking:
    amount_minor: int  # > 0
    side: str  # "S" or "H": of ``account``
    currency: str
    account: int
    contra: int
    bu_key: str
    on: date
    document: str
    text: str


@dataclass(frozen=True)
class DatevFile:
    issuer_id: int
    start: date
    end: date
    bookings: list[Booking]
    data: bytes

    @property
    def filename(self) -> str:
        return f"EXTF_Buchungsstapel_{self.issuer_id}_{self.start:%Y-%m}.csv"


# --- issuers and settings -------------------------------------------------------------------


def datev_issuers() -> list[Partner]:
    """The issuers whose books the open scope may export: the operator every issuer (the
    home partner and the own-invoicing partners); a partner itself, if it invoices."""
    qs = Partner.objects.filter(mode__in=(PartnerMode.DIRECT, PartnerMode.OWN_INVOICING))
    partners = current_partner_ids()
    if partners is not None:
        qs = qs.filter(pk__in=partners)
    return list(qs.order_by("-is_home", "name"))


def datev_issuer(issuer_id: int | str | None) -> Partner:
    """One issuer the scope may export; refused (never another partner's books) else."""
    issuers = {p.pk: p for p in datev_issuers()}
    if issuer_id in (None, "") and len(issuers) == 1:
        return next(iter(issuers.values()))
    try:
        wanted = int(issuer_id)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        wanted = -1
    if wanted not in issuers:
        refused = (
            "Choose the issuer whose books to export: "
            + (", ".join(f"{p.pk} ({p.name})" for p in issuers.values()) or "none you may see")
            + "."
        )
        raise ExportError(refused, fields={"issuer": refused})
    return issuers[wanted]


def datev_settings_for(issuer: Partner) -> DatevSettings:
    """The issuer's settings, or the defaults (unsaved) when it has none."""
    found = DatevSettings.objects.filter(partner=issuer).first()
    return found if found is not None else DatevSettings(partner=issuer)


def account_of(settings: DatevSettings, name: str) -> int:
    value = getattr(settings, name)
    return int(value) if value else CHART_DEFAULTS[settings.chart][name]


SETTINGS_FIELDS = (
    "consultant_number",
    "client_number",
    "fiscal_year_start_month",
    "account_length",
    "chart",
    "automatic_accounts",
    *ACCOUNT_FIELDS,
    "debitor_numbering",
    "debitor_start",
    "label",
)


def _settings_errors(s: DatevSettings) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not 1001 <= s.consultant_number <= 9999999:
        errors["consultant_number"] = "The Beraternummer has 4 to 7 digits, from 1001."
    if not 1 <= s.client_number <= 99999:
        errors["client_number"] = "The Mandantennummer is 1 to 99999."
    if not 1 <= s.fiscal_year_start_month <= 12:
        errors["fiscal_year_start_month"] = "Choose a month from 1 to 12."
    if not 4 <= s.account_length <= 8:
        errors["account_length"] = "The Sachkontenlänge is 4 to 8."
    if s.chart not in DatevChart.values:
        errors["chart"] = "Choose SKR 03 or SKR 04."
    if s.debitor_numbering not in DebitorNumbering.values:
        errors["debitor_numbering"] = "Choose how debitor accounts are numbered."
    if errors:
        return errors
    limit = 10**s.account_length
    for name in ACCOUNT_FIELDS:
        value = getattr(s, name)
        if value is not None and not 1 <= value < limit:
            errors[name] = f"A ledger account has at most {s.account_length} digits."
    low, high = 10**s.account_length, 7 * 10**s.account_length - 1
    if not low <= s.debitor_start <= high:
        errors["debitor_start"] = (
            f"Debitor accounts have {s.account_length + 1} digits, from {low} to {high}."
        )
    s.label = " ".join(s.label.split())
    if len(s.label) > 30:
        errors["label"] = "At most 30 characters."
    return errors


@transaction.atomic
def datev_settings_save(*, issuer: Partner, actor: Any = None, **fields: Any) -> DatevSettings:
    """Save the issuer's DATEV settings; every field is checked before anything is saved."""
    unknown = set(fields) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValueError(f"not DATEV settings: {sorted(unknown)}")
    if issuer.pk not in {p.pk for p in datev_issuers()}:
        raise DomainValidationError.for_fields({"issuer": "This partner keeps no books."})
    settings = DatevSettings.objects.select_for_update().filter(
        partner=issuer
    ).first() or DatevSettings(partner=issuer)
    for name, value in fields.items():
        setattr(settings, name, value)
    errors = _settings_errors(settings)
    if errors:
        raise DomainValidationError.for_fields(errors)
    settings.save()
    audit_record(
        action="datev.settings_saved",
        obj=settings,
        actor=actor,
        partner_id=issuer.pk,
        changes={k: fields[k] for k in sorted(fields)},
    )
    return settings


# --- the month ------------------------------------------------------------------------------


def month_parse(text: str | None) -> tuple[date, date]:
    """``YYYY-MM`` -> its first and last day; a clear refusal else."""
    try:
        year, month = (int(part) for part in (text or "").strip().split("-"))
        start = date(year, month, 1)
    except ValueError:
        refused = f"Give the month as YYYY-MM (e.g. 2026-03), not {text!r}."
        raise ExportError(refused, fields={"month": refused}) from None
    if not 2000 <= year <= 2099:
        refused = "DATEV takes months of the years 2000 to 2099."
        raise ExportError(refused, fields={"month": refused})
    return start, add_months(start, 1) - timedelta(days=1)


# --- bookings -------------------------------------------------------------------------------


def _debitors(settings: DatevSettings, customers: dict[int, tuple[str, str]]) -> dict[int, int]:
    """Customer id -> debitor account (one digit longer than the ledger accounts)."""
    start, high = settings.debitor_start, 7 * 10**settings.account_length - 1
    out: dict[int, int] = {}
    bad: list[str] = []
    for pk, (reference, _name) in customers.items():
        if settings.debitor_numbering == DebitorNumbering.SINGLE:
            number = start
        elif settings.debitor_numbering == DebitorNumbering.ID:
            number = start + pk
        elif reference.strip().isdigit():
            number = start + int(reference.strip())
        else:
            bad.append(reference)
            continue
        if number > high:
            bad.append(reference)
            continue
        out[pk] = number
    if bad:
        shown = ", ".join(sorted(bad)[:5]) + (" …" if len(bad) > 5 else "")
        raise ExportError(
            f"{len(bad)} customer(s) get no debitor account of {settings.account_length + 1} "
            f"digits from {start}: {shown}. Number debitors by internal id or one collective "
            "account in the DATEV settings, or use numeric customer numbers."
        )
    return out


def _revenue(settings: DatevSettings, rate_bp: int, category: str) -> tuple[int, str]:
    """(revenue account, BU key) of a tax group."""
    automatic = settings.automatic_accounts
    if rate_bp == 1900:
        return account_of(settings, "revenue_account_standard"), "" if automatic else "3"
    if rate_bp == 700:
        return account_of(settings, "revenue_account_reduced"), "" if automatic else "2"
    if rate_bp == 0:
        name = "revenue_account_eu" if category in EU_CATEGORIES else "revenue_account_exempt"
        return account_of(settings, name), ""
    raise ExportError(
        f"A tax rate of {rate_bp / 100:g} % has no DATEV revenue account here; the DATEV "
        "export knows the German rates 19 %, 7 % and 0 %."
    )


def _text(*parts: str) -> str:
    text = " ".join(" ".join(p.split()) for p in parts if p)[:60]
    return "'" + text[:59] if text.startswith(_FORMULA_TRIGGERS) else text


def _document(number: str) -> str:
    """Belegfeld 1: the characters DATEV allows (letters, digits, $ & % * + - /), at most 36
    (the end of the number, which tells documents apart)."""
    kept = "".join(ch for ch in number if ch.isascii() and (ch.isalnum() or ch in "$&%*+-/"))
    return kept[-36:]


def datev_bookings(issuer: Partner, start: date, end: date) -> list[Booking]:
    settings = datev_settings_for(issuer)
    invoices = list(
        Invoice.objects.filter(issuer=issuer, issue_date__gte=start, issue_date__lte=end)
        .order_by("issue_date", "number")
        .values_list("pk", "number", "issue_date", "currency", "customer_id")
    )
    notes = list(
        CreditNote.objects.filter(issuer=issuer, issue_date__gte=start, issue_date__lte=end)
        .order_by("issue_date", "number")
        .values_list("pk", "number", "issue_date", "currency", "customer_id", "invoice__number")
    )
    payments = list(
        Payment.objects.filter(issuer=issuer, date__gte=start, date__lte=end)
        .order_by("date", "pk")
        .values_list(
            "pk",
            "receipt_number",
            "reference",
            "date",
            "currency",
            "customer_id",
            "method",
            "amount_minor",
        )
    )
    refunds = list(
        Refund.objects.filter(payment__issuer=issuer, date__gte=start, date__lte=end)
        .order_by("date", "pk")
        .values_list(
            "pk",
            "payment__receipt_number",
            "payment__reference",
            "date",
            "payment__currency",
            "payment__customer_id",
            "payment__method",
            "amount_minor",
        )
    )
    inv_taxes: dict[int, list[tuple[int, str, int]]] = {}
    for inv_id, rate, cat, net, tax in (
        InvoiceTax.objects.filter(invoice_id__in=[i[0] for i in invoices])
        .order_by("invoice_id", "-rate_bp", "category")
        .values_list("invoice_id", "rate_bp", "category", "net_minor", "tax_minor")
    ):
        inv_taxes.setdefault(inv_id, []).append((rate, cat, net + tax))
    note_taxes: dict[int, list[tuple[int, str, int]]] = {}
    for note_id, rate, cat, net, tax in (
        CreditNoteTax.objects.filter(credit_note_id__in=[n[0] for n in notes])
        .order_by("credit_note_id", "-rate_bp", "category")
        .values_list("credit_note_id", "rate_bp", "category", "net_minor", "tax_minor")
    ):
        note_taxes.setdefault(note_id, []).append((rate, cat, net + tax))
    customer_ids = {i[4] for i in invoices} | {n[4] for n in notes}
    customer_ids |= {p[5] for p in payments} | {r[5] for r in refunds}
    customers = {
        pk: (ref, name)
        for pk, ref, name in Customer.objects.filter(pk__in=customer_ids).values_list(
            "pk", "reference", "name"
        )
    }
    debitor = _debitors(settings, customers)
    money_account: dict[str, int] = {
        PaymentMethod.BANK_TRANSFER: account_of(settings, "bank_account"),
        PaymentMethod.DIRECT_DEBIT: account_of(settings, "bank_account"),
        PaymentMethod.CASH: account_of(settings, "cash_account"),
    }
    transit = account_of(settings, "transit_account")

    out: list[Booking] = []

    def revenue_rows(
        groups: list[tuple[int, str, int]],
        side: str,
        currency: str,
        cust: int,
        on: date,
        number: str,
        text: str,
    ) -> None:
        for rate, cat, gross in groups:
            if gross == 0:
                continue
            account, key = _revenue(settings, rate, cat)
            flipped = side if gross > 0 else ("H" if side == "S" else "S")
            out.append(
                Booking(
                    abs(gross),
                    flipped,
                    currency,
                    debitor[cust],
                    account,
                    key,
                    on,
                    _document(number),
                    text,
                )
            )

    for pk, number, on, currency, cust in invoices:
        name = customers[cust][1]
        revenue_rows(inv_taxes.get(pk, []), "S", currency, cust, on, number, _text(name))
    for pk, number, on, currency, cust, inv_number in notes:
        text = _text("Gutschrift zu", inv_number, customers[cust][1])
        revenue_rows(note_taxes.get(pk, []), "H", currency, cust, on, number, text)
    for _pk, receipt, reference, on, currency, cust, method, amount in payments:
        out.append(
            Booking(
                amount,
                "S",
                currency,
                money_account.get(method, transit),
                debitor[cust],
                "",
                on,
                _document(receipt or reference),
                _text("Zahlung", customers[cust][1]),
            )
        )
    for _pk, receipt, reference, on, currency, cust, method, amount in refunds:
        out.append(
            Booking(
                amount,
                "H",
                currency,
                money_account.get(method, transit),
                debitor[cust],
                "",
                on,
                _document(receipt or reference),
                _text("Rückzahlung", customers[cust][1]),
            )
        )
    out.sort(key=lambda b: b.on)  # stable: invoices, credit notes, payments, refunds per day
    return out


# --- the file -------------------------------------------------------------------------------


def _amount(minor: int, currency: str) -> str:
    return str(decimal_amount(minor, currency)).replace(".", ",")


def _header(
    issuer: Partner, settings: DatevSettings, start: date, end: date, created: datetime
) -> list[Any]:
    month = settings.fiscal_year_start_month
    wj_start = date(start.year if start.month >= month else start.year - 1, month, 1)
    label = settings.label or f"ispbill {start:%Y-%m}"
    return [
        "EXTF",  # 1 Kennzeichen
        700,  # 2 Versionsnummer
        21,  # 3 Formatkategorie: Buchungsstapel
        "Buchungsstapel",  # 4 Formatname
        FORMAT_VERSION,  # 5 Formatversion
        _Raw(
            created.strftime("%Y%m%d%H%M%S") + f"{created.microsecond // 1000:03d}"
        ),  # 6 Erzeugt am
        None,  # 7 Importiert (set by DATEV)
        "RE",  # 8 Herkunft (replaced by "SV" on import)
        "ispbill",  # 9 Exportiert von
        "",  # 10 Importiert von (set by DATEV)
        settings.consultant_number,  # 11 Beraternummer
        settings.client_number,  # 12 Mandantennummer
        _Raw(wj_start.strftime("%Y%m%d")),  # 13 WJ-Beginn
        settings.account_length,  # 14 Sachkontenlänge
        _Raw(start.strftime("%Y%m%d")),  # 15 Datum vom
        _Raw(end.strftime("%Y%m%d")),  # 16 Datum bis
        label[:30],  # 17 Bezeichnung
        "",  # 18 Diktatkürzel
        1,  # 19 Buchungstyp: Finanzbuchführung
        0,  # 20 Rechnungslegungszweck: unabhängig
        0,  # 21 Festschreibung: no (the accountant locks the batch)
        issuer.currency,  # 22 WKZ
        None,  # 23 reserviert
        "",  # 24 Derivatskennzeichen
        None,  # 25 reserviert
        None,  # 26 reserviert
        settings.chart,  # 27 Sachkontenrahmen
        None,  # 28 ID der Branchenlösung
        None,  # 29 reserviert
        "",  # 30 reserviert
        "",  # 31 Anwendungsinformation
    ]


def _line(fields: list[Any]) -> str:
    """One line: text in double quotes (a quote doubled), numbers bare, None empty."""
    out = []
    for value in fields:
        if value is None:
            out.append("")
        elif isinstance(value, _Raw):
            out.append(str(value))
        elif isinstance(value, str):
            clean = " ".join(value.replace('"', '""').split())
            out.append(f'"{clean}"')
        else:
            out.append(str(value))
    return ";".join(out)


def _booking_fields(b: Booking) -> list[Any]:
    fields: list[Any] = [None] * len(COLUMNS)
    fields[0] = _Raw(_amount(b.amount_minor, b.currency))
    fields[1] = b.side
    fields[2] = b.currency
    fields[6] = b.account
    fields[7] = b.contra
    fields[8] = b.bu_key or None
    fields[9] = _Raw(b.on.strftime("%d%m"))
    fields[10] = b.document
    fields[13] = b.text
    return fields


class _Raw(str):
    """A field written as it is, unquoted (an amount with a decimal comma, a DDMM date)."""


def datev_export(
    *, issuer_id: int | str | None, month: str | None, now: datetime | None = None
) -> DatevFile:
    """The Buchungsstapel of one issuer and month, in the open scope (``ExportError`` for
    an issuer the scope may not export, a bad month or a booking DATEV cannot take)."""
    issuer = datev_issuer(issuer_id)
    start, end = month_parse(month)
    settings = datev_settings_for(issuer)
    bookings = datev_bookings(issuer, start, end)
    created = timezone.localtime(now or timezone.now())
    lines = [_line(_header(issuer, settings, start, end, created)), _line(list(COLUMNS))]
    lines.extend(_line(_booking_fields(b)) for b in bookings)
    text = "\r\n".join(lines) + "\r\n"
    return DatevFile(issuer.pk, start, end, bookings, text.encode("cp1252", errors="replace"))


def datev_read(data: bytes) -> list[list[str]]:
    """The file's fields, line by line (for tests and a quick look): cp1252, ``;``."""
    return list(csv.reader(io.StringIO(data.decode("cp1252")), delimiter=";"))
