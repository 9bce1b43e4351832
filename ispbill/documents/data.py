"""The document data model: what a template and the Factur-X builder receive.

A document is a plain dict of JSON types (str, bool, list, dict, None). Money values,
quantities and tax rates are **decimal strings** ("12.50", "19.00", "1"), never floats, so the
exact value survives JSON and Typst. Dates are ISO strings ("2025-03-01"). The billing engine
builds these dicts from issued documents; the ``sample_*`` functions give realistic examples
for template previews and tests. docs/documents.md explains each field.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Literal, NotRequired, TypedDict

from ispbill.core.errors import DomainError

DocumentType = Literal[
    "invoice",
    "credit_note",
    "aggregated_invoice",
    "commission_statement",
    "customer_statement",
    "receipt",
]
DOCUMENT_TYPES: tuple[str, ...] = (
    "invoice",
    "credit_note",
    "aggregated_invoice",
    "commission_statement",
    "customer_statement",
    "receipt",
)
LANGUAGES: tuple[str, ...] = ("en", "de")
# EN 16931 VAT category codes used here: standard, zero rated, exempt, reverse charge, not
# subject to VAT (commission of a partner without a VAT id).
TAX_CATEGORIES: tuple[str, ...] = ("S", "Z", "E", "AE", "O")

_DECIMAL_RE = re.compile(r"^-?\d+(\.\d+)?$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class DocumentDataError(DomainError):
    """The document dict does not follow the data model (e.g. a float where money belongs)."""

    code = "document_data"


class Party(TypedDict):
    """Issuer (seller) or recipient (buyer)."""

    name: str  # display name ("MusterNet")
    legal_name: str  # registered name ("MusterNet GmbH"); may equal name
    address_lines: list[str]  # street lines, without postcode/city/country
    postcode: str
    city: str
    country: str  # ISO 3166-1 alpha-2 ("DE")
    vat_id: str  # "" when none
    email: str
    phone: str
    iban: NotRequired[str]  # issuer: where to pay; "" or absent when none
    bic: NotRequired[str]
    bank_name: NotRequired[str]
    logo: NotRequired[str]  # issuer: name of an asset file ("logo.png"), never a path
    color: NotRequired[str]  # issuer: brand colour "#rrggbb"; absent: the template's own
    color_text: NotRequired[str]  # issuer: "#rrggbb" legible on ``color`` (white or dark)
    website: NotRequired[str]  # issuer: "https://musternet.de"
    registration: NotRequired[str]  # issuer: "Amtsgericht München HRB 123456"
    tax_number: NotRequired[str]  # issuer: national tax number (Steuernummer)
    customer_reference: NotRequired[str]  # recipient: the customer number at the issuer


class DocumentHead(TypedDict):
    type: DocumentType
    number: str
    issue_date: str  # ISO date
    due_date: NotRequired[str]  # ISO date; invoices and aggregated invoices
    period_start: NotRequired[str]  # ISO date; the billing period or statement period
    period_end: NotRequired[str]
    currency: str  # ISO 4217
    language: Literal["en", "de"]
    prices_include_tax: bool  # True: line amounts and unit prices are gross
    notes: str  # free text printed below the totals; "" when none
    original_number: NotRequired[str]  # credit note: number of the credited invoice
    original_issue_date: NotRequired[str]  # credit note: issue date of the credited invoice
    payment_reference: NotRequired[str]  # remittance text; defaults to the number
    payment_method: NotRequired[str]  # receipt: how the money came, in the document's language
    direct_debit: NotRequired[DirectDebit]  # invoices collected by SEPA direct debit
    # Aggregated invoice printed as a summary (docs/documents.md, "Summary of a large
    # aggregated invoice"): the line detail is in the CSV file ``detail_file``; templates get
    # no lines, the sections carry each sub-customer's number of lines and subtotal (or are
    # empty when there are too many to print).
    summary: NotRequired[bool]
    detail_file: NotRequired[str]  # "202607000042-detail.csv"
    detail_lines: NotRequired[int]  # the invoice's lines, all sections
    detail_sections: NotRequired[int]  # its sub-customers
    # False: too many sub-customers to list; templates then get no sections either (the
    # data keeps them for the XML's line notes while it carries every line).
    sections_listed: NotRequired[bool]


class DirectDebit(TypedDict):
    """The SEPA pre-notification printed on an invoice (docs/payments.md)."""

    collection_date: str  # ISO date the amount due is collected on
    mandate_reference: str
    creditor_id: str  # the issuer's SEPA creditor identifier
    debtor_iban: str  # the debited account, masked: "DE89 **** **** **** **30 00"


class Line(TypedDict):
    section: NotRequired[str]  # aggregated invoice: key of a Section
    description: str
    period_start: NotRequired[str]  # ISO date
    period_end: NotRequired[str]
    quantity: str  # decimal string ("1", "0.5")
    unit: NotRequired[str]  # UN/ECE rec 20 code, default "C62" (one)
    unit_price: str  # money; net or gross as document.prices_include_tax says
    amount: str  # money; rounded line total, net or gross as above
    tax_rate: str  # percent, "19.00"
    tax_category: NotRequired[str]  # S (default when rate > 0), Z, E, AE
    # Why amount is not quantity x unit_price (ints): days/period_days for part of a period,
    # discount_bp (discount_days) for a discount; printed as fmt.adjustment ("12/30 days").
    adjustment: NotRequired[dict[str, int]]


class Section(TypedDict):
    """One sub-customer of an aggregated invoice."""

    key: str  # referenced by Line.section
    title: str  # "Anna Schmidt, Kundennr. 10042"
    subtitle: NotRequired[str]  # address or service location
    subtotal: str  # money; sum of the section's line amounts
    reference: NotRequired[str]  # summary: the sub-customer's customer number
    name: NotRequired[str]  # summary: its name as printed at issue
    line_count: NotRequired[int]  # summary: how many lines the section has


class TaxBreakdown(TypedDict):
    rate: str  # percent, "19.00"
    category: str  # S, Z, E, AE
    net: str  # money; taxable amount at this rate (always net)
    tax: str  # money
    exemption_reason: NotRequired[str]  # required by EN 16931 for E and AE


class Totals(TypedDict):
    net: str
    tax: str
    total: str  # net + tax
    paid: str  # already paid / credit applied
    due: str  # total - paid


class StatementEntry(TypedDict):
    """A line of a commission statement or a customer statement."""

    date: str  # ISO date
    description: str
    reference: str  # invoice or payment number
    base: NotRequired[str]  # commission: net base amount
    percent: NotRequired[str]  # commission: "10.00"
    debit: NotRequired[str]  # customer statement: invoices
    credit: NotRequired[str]  # customer statement: payments, credit notes
    amount: NotRequired[str]  # commission: accrued amount (may be negative)
    balance: NotRequired[str]  # customer statement: running balance after this entry


class StatementTotals(TypedDict):
    opening_balance: NotRequired[str]
    closing_balance: NotRequired[str]
    base: NotRequired[str]
    amount: NotRequired[str]  # commission total
    debit: NotRequired[str]
    credit: NotRequired[str]
    received: NotRequired[str]  # receipt: the payment's amount
    applied: NotRequired[str]  # receipt: paid of invoices on the payment's day
    refunded: NotRequired[str]  # receipt: paid back on the payment's day
    unapplied: NotRequired[str]  # receipt: kept as credit on the account


class InvoiceData(TypedDict):
    """Invoice, credit note or aggregated invoice."""

    issuer: Party
    recipient: Party
    document: DocumentHead
    sections: list[Section]  # empty unless aggregated
    lines: list[Line]
    tax_breakdown: list[TaxBreakdown]
    totals: Totals


class StatementData(TypedDict):
    """Commission statement or customer statement."""

    issuer: Party
    recipient: Party
    document: DocumentHead
    entries: list[StatementEntry]
    totals: StatementTotals


MONEY_KEYS = frozenset(
    {
        "unit_price",
        "amount",
        "subtotal",
        "net",
        "tax",
        "total",
        "paid",
        "due",
        "base",
        "debit",
        "credit",
        "balance",
        "opening_balance",
        "closing_balance",
        "received",
        "applied",
        "refunded",
        "unapplied",
        "quantity",
        "rate",
        "tax_rate",
        "percent",
    }
)


def document_data_check(data: dict[str, Any]) -> None:
    """Raise DocumentDataError unless ``data`` is JSON-able and its numbers are decimal strings."""
    if not isinstance(data, dict):
        raise DocumentDataError("document data must be a dict")
    for key in ("issuer", "recipient", "document"):
        if not isinstance(data.get(key), dict):
            raise DocumentDataError(f"document data needs a {key!r} dict")
    head = data["document"]
    if head.get("type") not in DOCUMENT_TYPES:
        raise DocumentDataError(f"document.type must be one of {', '.join(DOCUMENT_TYPES)}")
    if head.get("language") not in LANGUAGES:
        raise DocumentDataError(f"document.language must be one of {', '.join(LANGUAGES)}")
    for key in ("issue_date", "due_date", "period_start", "period_end"):
        value = head.get(key)
        if value is not None and not (isinstance(value, str) and _DATE_RE.match(value)):
            raise DocumentDataError(f"document.{key} must be an ISO date string, got {value!r}")
    _walk(data, "")


def _walk(value: Any, path: str) -> None:
    if isinstance(value, float):
        raise DocumentDataError(f"{path} is a float; money and numbers must be decimal strings")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise DocumentDataError(f"{path}: keys must be strings")
            sub = f"{path}.{key}" if path else key
            is_number_field = key in MONEY_KEYS and not isinstance(item, dict | list | None)
            if is_number_field and not (isinstance(item, str) and _DECIMAL_RE.match(item)):
                raise DocumentDataError(f"{sub} must be a decimal string, got {item!r}")
            _walk(item, sub)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, f"{path}[{index}]")
    elif not (value is None or isinstance(value, str | bool | int)):
        raise DocumentDataError(f"{path} has type {type(value).__name__}, which is not JSON")


# --- samples: realistic German ISP documents for previews and tests -------------------------


def _issuer() -> Party:
    return {
        "name": "MusterNet",
        "legal_name": "MusterNet GmbH",
        "address_lines": ["Glasfaserweg 12"],
        "postcode": "80331",
        "city": "München",
        "country": "DE",
        "vat_id": "DE123456789",
        "email": "rechnung@musternet.de",
        "phone": "+49 89 1234560",
        "iban": "DE89370400440532013000",
        "bic": "COBADEFF",
        "bank_name": "Commerzbank",
        "registration": "Amtsgericht München HRB 123456",
        "tax_number": "143/123/45678",
    }


def _recipient() -> Party:
    return {
        "name": "Anna Schmidt",
        "legal_name": "Anna Schmidt",
        "address_lines": ["Lindenstraße 7", "2. OG links"],
        "postcode": "80469",
        "city": "München",
        "country": "DE",
        "vat_id": "",
        "email": "anna.schmidt@example.org",
        "phone": "",
        "customer_reference": "10042",
    }


def sample_invoice(*, language: Literal["en", "de"] = "de") -> InvoiceData:
    """A direct monthly invoice: internet plan, router rental, installation, net prices."""
    return {
        "issuer": _issuer(),
        "recipient": _recipient(),
        "document": {
            "type": "invoice",
            "number": "202501000123",
            "issue_date": "2025-03-01",
            "due_date": "2025-03-15",
            "period_start": "2025-03-01",
            "period_end": "2025-03-31",
            "currency": "EUR",
            "language": language,
            "prices_include_tax": False,
            "notes": "",
            "payment_reference": "202501000123 / 10042",
        },
        "sections": [],
        "lines": [
            {
                "description": "Glasfaser 250 (250/50 Mbit/s)",
                "period_start": "2025-03-01",
                "period_end": "2025-03-31",
                "quantity": "1",
                "unit_price": "39.90",
                "amount": "39.90",
                "tax_rate": "19.00",
            },
            {
                "description": "WLAN-Router Miete",
                "period_start": "2025-03-01",
                "period_end": "2025-03-31",
                "quantity": "1",
                "unit_price": "4.99",
                "amount": "4.99",
                "tax_rate": "19.00",
            },
            {
                # From 12 March: 5.00 x 20/31 days = 3.2258 -> 3.23.
                "description": "Feste IPv4-Adresse",
                "period_start": "2025-03-12",
                "period_end": "2025-03-31",
                "quantity": "1",
                "unit_price": "5.00",
                "amount": "3.23",
                "tax_rate": "19.00",
                "adjustment": {"days": 20, "period_days": 31},
            },
            {
                "description": "Einmalige Installation",
                "quantity": "1",
                "unit_price": "49.00",
                "amount": "49.00",
                "tax_rate": "19.00",
            },
        ],
        "tax_breakdown": [{"rate": "19.00", "category": "S", "net": "97.12", "tax": "18.45"}],
        "totals": {
            "net": "97.12",
            "tax": "18.45",
            "total": "115.57",
            "paid": "0.00",
            "due": "115.57",
        },
    }


def sample_invoice_gross(*, language: Literal["en", "de"] = "de") -> InvoiceData:
    """An own-invoicing partner whose prices include VAT: tax = round(gross × r / (1 + r))."""
    data = sample_invoice(language=language)
    data["issuer"] = {
        **_issuer(),
        "name": "Stadtnetz Nord",
        "legal_name": "Stadtnetz Nord UG (haftungsbeschränkt)",
        "address_lines": ["Hafenstraße 3"],
        "postcode": "20457",
        "city": "Hamburg",
        "vat_id": "DE987654321",
        "email": "buchhaltung@stadtnetz-nord.de",
        "iban": "DE02120300000000202051",
        "bic": "BYLADEM1001",
        "bank_name": "Deutsche Kreditbank",
        "registration": "Amtsgericht Hamburg HRB 765432",
    }
    data["document"]["number"] = "SN-2025-00077"
    data["document"]["prices_include_tax"] = True
    data["document"]["payment_reference"] = "SN-2025-00077"
    data["document"]["notes"] = "Vielen Dank für Ihr Vertrauen."
    data["lines"] = [
        {
            "description": "Stadtnetz 100 (100/20 Mbit/s)",
            "period_start": "2025-03-01",
            "period_end": "2025-03-31",
            "quantity": "1",
            "unit_price": "29.99",
            "amount": "29.99",
            "tax_rate": "19.00",
        },
        {
            "description": "Telefon-Flatrate Festnetz",
            "period_start": "2025-03-01",
            "period_end": "2025-03-31",
            "quantity": "1",
            "unit_price": "5.00",
            "amount": "5.00",
            "tax_rate": "19.00",
        },
    ]
    # gross 34.99 at 19 %: tax = round(34.99 × 19 / 119) = 5.59, net = 29.40
    data["tax_breakdown"] = [{"rate": "19.00", "category": "S", "net": "29.40", "tax": "5.59"}]
    data["totals"] = {
        "net": "29.40",
        "tax": "5.59",
        "total": "34.99",
        "paid": "10.00",
        "due": "24.99",
    }
    return data


def sample_multi_rate_invoice(*, language: Literal["en", "de"] = "de") -> InvoiceData:
    """Lines at 19 %, 7 % and an exempt line (E) on one invoice."""
    data = sample_invoice(language=language)
    data["document"]["number"] = "202501000124"
    data["document"]["payment_reference"] = "202501000124"
    data["lines"] = [
        {
            "description": "Glasfaser 500 (500/100 Mbit/s)",
            "period_start": "2025-03-01",
            "period_end": "2025-03-31",
            "quantity": "1",
            "unit_price": "49.90",
            "amount": "49.90",
            "tax_rate": "19.00",
        },
        {
            "description": "Fachzeitschrift Netzwerk (Abo)",
            "period_start": "2025-03-01",
            "period_end": "2025-03-31",
            "quantity": "2",
            "unit_price": "6.50",
            "amount": "13.00",
            "tax_rate": "7.00",
        },
        {
            "description": "Porto Rechnungsversand",
            "quantity": "1",
            "unit_price": "0.95",
            "amount": "0.95",
            "tax_rate": "0.00",
            "tax_category": "E",
        },
    ]
    data["tax_breakdown"] = [
        {"rate": "19.00", "category": "S", "net": "49.90", "tax": "9.48"},
        {"rate": "7.00", "category": "S", "net": "13.00", "tax": "0.91"},
        {
            "rate": "0.00",
            "category": "E",
            "net": "0.95",
            "tax": "0.00",
            "exemption_reason": "Durchlaufender Posten",
        },
    ]
    data["totals"] = {
        "net": "63.85",
        "tax": "10.39",
        "total": "74.24",
        "paid": "0.00",
        "due": "74.24",
    }
    return data


def sample_credit_note(*, language: Literal["en", "de"] = "de") -> InvoiceData:
    """A partial credit note for the router rental of sample_invoice()."""
    data = sample_invoice(language=language)
    head = data["document"]
    head["type"] = "credit_note"
    head["number"] = "GS-2025-000009"
    head["issue_date"] = "2025-03-20"
    head["original_number"] = "202501000123"
    head["original_issue_date"] = "2025-03-01"
    head["payment_reference"] = "GS-2025-000009"
    head["notes"] = "Gutschrift wegen Störung vom 10.03. bis 20.03."
    head.pop("due_date", None)
    data["lines"] = [
        {
            "description": "Gutschrift Glasfaser 250, Störung 10.03.–20.03.",
            "period_start": "2025-03-10",
            "period_end": "2025-03-20",
            "quantity": "1",
            "unit_price": "14.16",
            "amount": "14.16",
            "tax_rate": "19.00",
        }
    ]
    data["tax_breakdown"] = [{"rate": "19.00", "category": "S", "net": "14.16", "tax": "2.69"}]
    data["totals"] = {
        "net": "14.16",
        "tax": "2.69",
        "total": "16.85",
        "paid": "0.00",
        "due": "16.85",
    }
    return data


def sample_aggregated_invoice(*, language: Literal["en", "de"] = "de") -> InvoiceData:
    """The operator's invoice to a reseller's account: one section per sub-customer."""
    data = sample_invoice(language=language)
    data["recipient"] = {
        "name": "Funkwerk Oberland",
        "legal_name": "Funkwerk Oberland KG",
        "address_lines": ["Bahnhofstraße 21"],
        "postcode": "83646",
        "city": "Bad Tölz",
        "country": "DE",
        "vat_id": "DE811223344",
        "email": "buchhaltung@funkwerk-oberland.de",
        "phone": "+49 8041 55501",
        "customer_reference": "P-0007",
    }
    data["document"]["type"] = "aggregated_invoice"
    data["document"]["number"] = "202507000042"
    data["document"]["issue_date"] = "2025-04-01"
    data["document"]["due_date"] = "2025-04-15"
    data["document"]["period_start"] = "2025-04-01"
    data["document"]["period_end"] = "2025-04-30"
    data["document"]["payment_reference"] = "202507000042 / P-0007"
    subs = [
        ("S-1", "Bergbauer, Josef (10311)", "Almweg 2, 83661 Lenggries"),
        ("S-2", "Huber Landtechnik GmbH (10312)", "Gewerbering 5, 83646 Bad Tölz"),
        ("S-3", "Maier, Theresa (10315)", "Kirchplatz 1, 83661 Lenggries"),
    ]
    lines: list[Line] = [
        {
            "section": "S-1",
            "description": "Funk 50 (50/10 Mbit/s)",
            "period_start": "2025-04-01",
            "period_end": "2025-04-30",
            "quantity": "1",
            "unit_price": "19.00",
            "amount": "19.00",
            "tax_rate": "19.00",
        },
        {
            "section": "S-2",
            "description": "Business Funk 200 (200/50 Mbit/s)",
            "period_start": "2025-04-01",
            "period_end": "2025-04-30",
            "quantity": "1",
            "unit_price": "59.00",
            "amount": "59.00",
            "tax_rate": "19.00",
        },
        {
            "section": "S-2",
            "description": "Feste IPv4-Adressen /29",
            "period_start": "2025-04-01",
            "period_end": "2025-04-30",
            "quantity": "1",
            "unit_price": "15.00",
            "amount": "15.00",
            "tax_rate": "19.00",
        },
        {
            "section": "S-3",
            "description": "Funk 50 (50/10 Mbit/s), anteilig ab 16.04.",
            "period_start": "2025-04-16",
            "period_end": "2025-04-30",
            "quantity": "1",
            "unit_price": "9.50",
            "amount": "9.50",
            "tax_rate": "19.00",
        },
    ]
    data["lines"] = lines
    data["sections"] = [
        {"key": key, "title": title, "subtitle": sub, "subtotal": total}
        for (key, title, sub), total in zip(subs, ("19.00", "74.00", "9.50"), strict=True)
    ]
    data["tax_breakdown"] = [{"rate": "19.00", "category": "S", "net": "102.50", "tax": "19.48"}]
    data["totals"] = {
        "net": "102.50",
        "tax": "19.48",
        "total": "121.98",
        "paid": "0.00",
        "due": "121.98",
    }
    return data


def sample_aggregated_summary(*, language: Literal["en", "de"] = "de") -> InvoiceData:
    """sample_aggregated_invoice() as the summary a large aggregated invoice gets: no lines
    for the template, one row per sub-customer with its number of lines and subtotal."""
    data = sample_aggregated_invoice(language=language)
    head = data["document"]
    head["summary"] = True
    head["detail_file"] = f"{head['number']}-detail.csv"
    head["detail_lines"] = len(data["lines"])
    head["detail_sections"] = len(data["sections"])
    head["sections_listed"] = True
    counts = {"S-1": 1, "S-2": 2, "S-3": 1}
    for section in data["sections"]:
        name, _, reference = section["title"].rpartition(" (")
        section["reference"] = reference.rstrip(")")
        section["name"] = name
        section["line_count"] = counts[section["key"]]
    return data


def sample_commission_statement(*, language: Literal["en", "de"] = "de") -> StatementData:
    """A percentage partner's monthly commission statement (base: paid)."""
    partner = sample_aggregated_invoice()["recipient"]
    partner["iban"] = "DE75512108001245126199"
    partner["bic"] = "SOGEDEFF"
    return {
        "issuer": _issuer(),
        "recipient": partner,
        "document": {
            "type": "commission_statement",
            "number": "PR-2025-03-0007",
            "issue_date": "2025-04-02",
            "period_start": "2025-03-01",
            "period_end": "2025-03-31",
            "currency": "EUR",
            "language": language,
            "prices_include_tax": False,
            "notes": "",
        },
        "entries": [
            {
                "date": "2025-03-04",
                "description": "Zahlung Kunde 10311",
                "reference": "202501000101",
                "base": "33.53",
                "percent": "10.00",
                "amount": "3.35",
            },
            {
                "date": "2025-03-06",
                "description": "Zahlung Kunde 10312",
                "reference": "202501000102",
                "base": "78.15",
                "percent": "12.50",
                "amount": "9.77",
            },
            {
                "date": "2025-03-18",
                "description": "Gutschrift Kunde 10311",
                "reference": "GS-2025-000004",
                "base": "-8.40",
                "percent": "10.00",
                "amount": "-0.84",
            },
        ],
        "totals": {"base": "103.28", "amount": "12.28"},
    }


def sample_customer_statement(*, language: Literal["en", "de"] = "de") -> StatementData:
    """A customer's account statement for a quarter with a running balance."""
    return {
        "issuer": _issuer(),
        "recipient": _recipient(),
        "document": {
            "type": "customer_statement",
            "number": "KA-10042-2025Q1",
            "issue_date": "2025-04-01",
            "period_start": "2025-01-01",
            "period_end": "2025-03-31",
            "currency": "EUR",
            "language": language,
            "prices_include_tax": False,
            "notes": "",
        },
        "entries": [
            {
                "date": "2025-01-01",
                "description": "Rechnung",
                "reference": "202501000011",
                "debit": "53.39",
                "credit": "0.00",
                "balance": "-53.39",
            },
            {
                "date": "2025-01-09",
                "description": "Zahlung SEPA-Lastschrift",
                "reference": "SEPA-7781",
                "debit": "0.00",
                "credit": "53.39",
                "balance": "0.00",
            },
            {
                "date": "2025-03-01",
                "description": "Rechnung",
                "reference": "202501000123",
                "debit": "115.57",
                "credit": "0.00",
                "balance": "-115.57",
            },
            {
                "date": "2025-03-20",
                "description": "Gutschrift",
                "reference": "GS-2025-000009",
                "debit": "0.00",
                "credit": "16.85",
                "balance": "-98.72",
            },
        ],
        "totals": {
            "opening_balance": "0.00",
            "closing_balance": "-98.72",
            "debit": "168.96",
            "credit": "70.24",
        },
    }


def sample_receipt(*, language: Literal["en", "de"] = "de") -> StatementData:
    """A receipt for a bank transfer of 120.00 that paid one invoice of 115.57 and kept
    4.43 as credit; the account owed 115.57 before it and has 4.43 of credit after it."""
    de = language == "de"
    return {
        "issuer": _issuer(),
        "recipient": _recipient(),
        "document": {
            "type": "receipt",
            "number": "R2025-000031",
            "issue_date": "2025-03-09",
            "currency": "EUR",
            "language": language,
            "prices_include_tax": False,
            "notes": "",
            "payment_reference": "SEPA-7781 202501000123",
            "payment_method": "Überweisung" if de else "Bank transfer",
        },
        "entries": [
            {
                "date": "2025-03-01",
                "description": "Rechnung" if de else "Invoice",
                "reference": "202501000123",
                "debit": "115.57",
                "credit": "115.57",
                "balance": "0.00",
            },
        ],
        "totals": {
            "received": "120.00",
            "applied": "115.57",
            "refunded": "0.00",
            "unapplied": "4.43",
            "opening_balance": "-115.57",
            "closing_balance": "4.43",
            "debit": "115.57",
            "credit": "120.00",
        },
    }


SAMPLES = {
    "invoice": sample_invoice,
    "credit_note": sample_credit_note,
    "aggregated_invoice": sample_aggregated_invoice,
    "commission_statement": sample_commission_statement,
    "customer_statement": sample_customer_statement,
    "receipt": sample_receipt,
}


def document_sample(*, document_type: str, language: Literal["en", "de"] = "de") -> dict[str, Any]:
    """A fresh sample document of the given type, for template previews."""
    try:
        factory = SAMPLES[document_type]
    except KeyError:
        raise DocumentDataError(f"no sample for document type {document_type!r}") from None
    return copy.deepcopy(dict(factory(language=language)))


def document_samples(*, document_type: str) -> list[dict[str, Any]]:
    """Every sample a template of the type must render before it is saved: the type's
    sample in both languages, and for aggregated invoices their summary too (docs/
    documents.md, "Summary of a large aggregated invoice")."""
    languages: tuple[Literal["en", "de"], ...] = ("de", "en")
    samples = [document_sample(document_type=document_type, language=lang) for lang in languages]
    if document_type == "aggregated_invoice":
        samples += [dict(sample_aggregated_summary(language=lang)) for lang in languages]
    return samples
