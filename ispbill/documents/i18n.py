"""Fixed texts of the default templates, and locale formatting of money, dates and rates.

Templates receive the texts of the document's language as ``text`` and ready-formatted values
as ``view`` (see render.py). Adding a language: add a dict to TEXTS with every key of
TEXTS["en"] and a locale to LOCALES; tests check that the keys match.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import lru_cache

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

LOCALES = {"en": "en_GB", "de": "de_DE"}

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "invoice": "Invoice",
        "credit_note": "Credit note",
        "aggregated_invoice": "Invoice",
        "commission_statement": "Commission statement",
        "customer_statement": "Account statement",
        "receipt": "Payment receipt",
        "number": "Number",
        "issue_date": "Date",
        "due_date": "Due date",
        "period": "Period",
        "customer_reference": "Customer no.",
        "vat_id": "VAT ID",
        "tax_number": "Tax no.",
        "original_invoice": "Credits invoice",
        "pos": "#",
        "description": "Description",
        "quantity": "Qty",
        "unit_price": "Unit price",
        "amount": "Amount",
        "tax_rate": "VAT",
        "subtotal": "Subtotal",
        "net_total": "Net total",
        "vat_on": "VAT {rate} on {net}",
        "exempt": "VAT exempt",
        "total": "Total",
        "total_gross": "Total incl. VAT",
        "included_vat": "Included VAT {rate} on net {net}",
        "paid": "Already paid",
        "amount_due": "Amount due",
        "amount_credited": "Amount credited",
        "pay_until": "Please transfer {amount} by {date} quoting “{reference}”.",
        "pay_now": "Please transfer {amount} quoting “{reference}”.",
        "direct_debit": "We will collect {amount} by SEPA direct debit from your account "
        "{iban} on {date}, under mandate reference {mandate} and creditor identifier "
        "{creditor_id}. Please make sure the account is covered.",
        "credit_refund": "The amount will be refunded or set off against open invoices.",
        "nothing_due": "Nothing is due: this invoice has been paid.",
        "bank_details": "Bank details",
        "account_holder": "Account holder",
        "iban": "IBAN",
        "bic": "BIC",
        "bank": "Bank",
        "scan_to_pay": "Scan to pay",
        "page": "Page",
        "of": "of",
        "email": "Email",
        "phone": "Phone",
        "registration": "Registration",
        "date": "Date",
        "reference": "Reference",
        "base": "Base (net)",
        "percent": "Rate",
        "commission": "Commission",
        "commission_total": "Commission total",
        "debit": "Charged",
        "credit": "Paid / credited",
        "balance": "Balance",
        "opening_balance": "Opening balance",
        "closing_balance": "Closing balance",
        "statement_owed": "A negative balance is owed by you.",
        "commission_payout": "The commission will be paid to your account {iban}.",
        "self_billing": "Self-billing credit note",
        "self_billing_note": "Self-billing: this credit note for your commission is issued by "
        "{issuer} in your name and on your behalf, as agreed.",
        "draft": "Draft",
        "customer": "Customer",
        "invoice_no": "Invoice",
        "commission_net": "Commission (net)",
        "vat": "VAT",
        "statement_total": "Total",
        "no_vat": "No VAT",
        "greeting": "Thank you for your business.",
        "received_on": "Received on",
        "payment_method": "Payment method",
        "payment_reference": "Payment reference",
        "amount_received": "Amount received",
        "invoices_paid": "Invoices paid by this payment",
        "invoice_amount": "Invoice amount",
        "paid_by_payment": "Paid by this payment",
        "still_open": "Still open",
        "applied": "Applied to invoices",
        "unapplied": "Kept as credit",
        "refunded": "Refunded",
        "no_invoices_paid": "This payment paid no invoice; it is kept as credit on your account.",
        "balance_before": "Account balance before this payment",
        "balance_after": "Account balance after this payment",
        "receipt_owed": "You still owe {amount}.",
        "receipt_credit": "Your account has a credit of {amount}.",
        "receipt_settled": "Your account is settled.",
        "method_bank_transfer": "Bank transfer",
        "method_direct_debit": "Direct debit",
        "method_cash": "Cash",
        "method_card": "Card",
        "method_other": "Other",
        "line_days": "{days}/{period_days} days",
        "line_discount": "discount {percent}",
        "line_discount_days": "discount {percent} for {days} days",
        # The summary of a large aggregated invoice (docs/documents.md, "Summary of a large
        # aggregated invoice").
        "sub_customer": "Sub-customer",
        "lines": "Lines",
        "summary_title": "Summary by sub-customer",
        "summary_count": "This invoice covers {lines} lines for {sections} sub-customers.",
        "detail_note": "The line detail per sub-customer is in the file {file}, attached to the "
        "invoice e-mail and available for download with the invoice.",
        "detail_rate_line": "Services for {sections} sub-customers, VAT {rate} "
        "(line detail: {file})",
    },
    "de": {
        "invoice": "Rechnung",
        "credit_note": "Gutschrift",
        "aggregated_invoice": "Sammelrechnung",
        "commission_statement": "Provisionsabrechnung",
        "customer_statement": "Kontoauszug",
        "receipt": "Zahlungsbestätigung",
        "number": "Nummer",
        "issue_date": "Datum",
        "due_date": "Fällig am",
        "period": "Zeitraum",
        "customer_reference": "Kundennr.",
        "vat_id": "USt-IdNr.",
        "tax_number": "Steuernr.",
        "original_invoice": "Zu Rechnung",
        "pos": "Pos.",
        "description": "Beschreibung",
        "quantity": "Menge",
        "unit_price": "Einzelpreis",
        "amount": "Betrag",
        "tax_rate": "USt.",
        "subtotal": "Zwischensumme",
        "net_total": "Summe netto",
        "vat_on": "USt. {rate} auf {net}",
        "exempt": "Umsatzsteuerfrei",
        "total": "Gesamtbetrag",
        "total_gross": "Gesamtbetrag inkl. USt.",
        "included_vat": "Enthaltene USt. {rate} auf netto {net}",
        "paid": "Bereits bezahlt",
        "amount_due": "Zu zahlen",
        "amount_credited": "Gutgeschriebener Betrag",
        "pay_until": "Bitte überweisen Sie {amount} bis zum {date} unter Angabe von „{reference}“.",
        "pay_now": "Bitte überweisen Sie {amount} unter Angabe von „{reference}“.",
        "direct_debit": "Wir ziehen {amount} am {date} per SEPA-Lastschrift von Ihrem Konto "
        "{iban} ein, Mandatsreferenz {mandate}, Gläubiger-Identifikationsnummer "
        "{creditor_id}. Bitte sorgen Sie für Deckung.",
        "credit_refund": "Der Betrag wird erstattet oder mit offenen Rechnungen verrechnet.",
        "nothing_due": "Diese Rechnung ist bereits bezahlt.",
        "bank_details": "Bankverbindung",
        "account_holder": "Kontoinhaber",
        "iban": "IBAN",
        "bic": "BIC",
        "bank": "Bank",
        "scan_to_pay": "Scannen und bezahlen",
        "page": "Seite",
        "of": "von",
        "email": "E-Mail",
        "phone": "Telefon",
        "registration": "Handelsregister",
        "date": "Datum",
        "reference": "Beleg",
        "base": "Basis (netto)",
        "percent": "Satz",
        "commission": "Provision",
        "commission_total": "Provision gesamt",
        "debit": "Belastung",
        "credit": "Zahlung / Gutschrift",
        "balance": "Saldo",
        "opening_balance": "Anfangssaldo",
        "closing_balance": "Endsaldo",
        "statement_owed": "Ein negativer Saldo ist von Ihnen zu zahlen.",
        "commission_payout": "Die Provision wird auf Ihr Konto {iban} überwiesen.",
        "self_billing": "Gutschrift",
        "self_billing_note": "Gutschrift im Sinne des § 14 Abs. 2 UStG: von {issuer} "
        "im Namen und für Rechnung des Leistenden ausgestellt, wie vereinbart.",
        "draft": "Entwurf",
        "customer": "Kunde",
        "invoice_no": "Rechnung",
        "commission_net": "Provision (netto)",
        "vat": "USt.",
        "statement_total": "Gesamtbetrag",
        "no_vat": "Keine USt.",
        "greeting": "Vielen Dank für Ihren Auftrag.",
        "received_on": "Eingegangen am",
        "payment_method": "Zahlungsart",
        "payment_reference": "Verwendungszweck",
        "amount_received": "Erhaltener Betrag",
        "invoices_paid": "Mit dieser Zahlung beglichene Rechnungen",
        "invoice_amount": "Rechnungsbetrag",
        "paid_by_payment": "Davon mit dieser Zahlung",
        "still_open": "Noch offen",
        "applied": "Auf Rechnungen verrechnet",
        "unapplied": "Als Guthaben verbucht",
        "refunded": "Erstattet",
        "no_invoices_paid": "Diese Zahlung hat keine Rechnung beglichen; sie bleibt als Guthaben "
        "auf Ihrem Konto.",
        "balance_before": "Kontostand vor dieser Zahlung",
        "balance_after": "Kontostand nach dieser Zahlung",
        "receipt_owed": "Es bleiben {amount} zu zahlen.",
        "receipt_credit": "Ihr Konto weist ein Guthaben von {amount} auf.",
        "receipt_settled": "Ihr Konto ist ausgeglichen.",
        "method_bank_transfer": "Überweisung",
        "method_direct_debit": "Lastschrift",
        "method_cash": "Barzahlung",
        "method_card": "Kartenzahlung",
        "method_other": "Sonstige",
        "line_days": "{days}/{period_days} Tage",
        "line_discount": "Rabatt {percent}",
        "line_discount_days": "Rabatt {percent} für {days} Tage",
        "sub_customer": "Unterkunde",
        "lines": "Positionen",
        "summary_title": "Übersicht nach Unterkunden",
        "summary_count": "Diese Rechnung umfasst {lines} Positionen für {sections} Unterkunden.",
        "detail_note": "Die Einzelpositionen je Unterkunde stehen in der Datei {file}, die der "
        "Rechnungs-E-Mail beiliegt und mit der Rechnung heruntergeladen werden kann.",
        "detail_rate_line": "Leistungen für {sections} Unterkunden, USt. {rate} "
        "(Einzelpositionen: {file})",
    },
}


def document_texts(language: str) -> dict[str, str]:
    """The fixed texts for a language; unknown languages fall back to English."""
    return TEXTS.get(language, TEXTS["en"])


def _locale(language: str) -> str:
    return LOCALES.get(language, "en_GB")


@lru_cache(maxsize=4096)
def money_format(amount: str, currency: str, language: str) -> str:
    """ "1234.5", "EUR", "de" -> "1.234,50 €" (exact: parsed as Decimal, never float)."""
    return str(format_currency(Decimal(amount), currency, locale=_locale(language)))


@lru_cache(maxsize=4096)
def decimal_format(value: str, language: str) -> str:
    """A quantity: "1" -> "1", "0.5" -> "0,5" in German; up to 4 decimals."""
    return str(format_decimal(Decimal(value), format="#,##0.####", locale=_locale(language)))


@lru_cache(maxsize=512)
def percent_format(rate: str, language: str) -> str:
    """A percentage given as "19.00" -> "19 %" (de) or "19%" (en); "12.50" keeps ",5"."""
    number = format_decimal(Decimal(rate), format="#,##0.##", locale=_locale(language))
    return f"{number}\u00a0%" if language == "de" else f"{number}%"


@lru_cache(maxsize=4096)
def date_format(value: str, language: str) -> str:
    """ISO "2025-03-15" -> "15.03.2025" (de) or "15 Mar 2025" (en)."""
    day = date.fromisoformat(value)
    if language == "de":
        return day.strftime("%d.%m.%Y")
    return str(format_date(day, format="d MMM y", locale=_locale(language)))


def line_adjustment_text(adjustment: dict[str, int] | None, language: str) -> str:
    """Why a line's amount is not quantity x unit price, in ``language``: "12/30 days",
    "discount 10 %", or both ("12/30 Tage, Rabatt 10 %"); "" for a plain line. The keys are
    those of billing/rating.py ``charge_adjustment``."""
    if not adjustment:
        return ""
    text = document_texts(language)
    parts = []
    if adjustment.get("period_days"):
        parts.append(
            text["line_days"].format(
                days=adjustment.get("days", 0), period_days=adjustment["period_days"]
            )
        )
    if adjustment.get("discount_bp"):
        percent = percent_format(str(Decimal(adjustment["discount_bp"]) / 100), language)
        if adjustment.get("discount_days"):
            parts.append(
                text["line_discount_days"].format(percent=percent, days=adjustment["discount_days"])
            )
        else:
            parts.append(text["line_discount"].format(percent=percent))
    return ", ".join(parts)
