"""The line detail of an aggregated or wholesale invoice as CSV: one row per line, in section
order (docs/documents.md, "Summary of a large aggregated invoice"; docs/reseller-modes.md,
"Aggregated invoice").

Every such invoice has one, small ones too; for one whose PDF is a summary it is the
only place its lines are printed, so the invoice e-mail attaches it beside the PDF. It is
built from the invoice's own stored lines (as issued, never from live records, except the
sub-customer's customer number), read in slices of ``DETAIL_CHUNK`` rows and written row by
row, so 100,000 lines never sit in memory together. Amounts are exact decimal text from the
stored minor units (``19.90``), never floats."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from ispbill.core.money import currency_exponent
from ispbill.core.spreadsheet import csv_writer
from ispbill.invoicing.documents import invoice_detail_filename, invoice_is_summary, section_name
from ispbill.invoicing.models import Invoice, InvoiceLine

__all__ = [
    "DETAIL_COLUMNS",
    "invoice_detail_attachment",
    "invoice_detail_csv",
    "invoice_detail_csv_bytes",
    "invoice_has_detail",
    "invoice_pdf_is_summary",
]

DETAIL_COLUMNS = (
    "position",
    "sub_customer_reference",
    "sub_customer",
    "description",
    "period_start",
    "period_end",
    "quantity",
    "unit_price",
    "amount",
    "tax_rate",
    "tax_category",
    "currency",
    # Why ``amount`` is not quantity x unit price, as the line carries it (``adjustment``,
    # billing/rating.py charge_adjustment); empty where it does not apply. Last, so readers
    # of the first twelve columns by position read them as before.
    "prorated_days",
    "period_days",
    "discount_percent",
    "discount_days",
)
DETAIL_CHUNK = 2000
# Above this size the e-mail attaches the CSV in a ZIP file: 105,000 sub-customers' detail is
# about 19.5 MB of CSV (26 MB in base64), more than many mail servers accept, and about a
# tenth of that compressed (docs/documents.md, "Summary of a large aggregated invoice").
DETAIL_ZIP_ABOVE = 5_000_000


def invoice_has_detail(invoice: Invoice) -> bool:
    """Whether the invoice has a line detail file: aggregated and wholesale invoices (an
    invoice to a partner's account, ``Invoice.has_sections``)."""
    return invoice.has_sections


def invoice_pdf_is_summary(invoice: Invoice) -> bool:
    """Whether the invoice's PDF is a summary whose lines are only in the CSV file (an
    aggregated or wholesale invoice of more than AGGREGATED_DETAIL_MAX_LINES lines): its
    e-mail attaches the CSV too."""
    if not invoice_has_detail(invoice):
        return False
    return invoice_is_summary(invoice, InvoiceLine.objects.filter(invoice_id=invoice.pk).count())


def _decimal(minor: int, exponent: int) -> Decimal:
    """``1990`` with exponent 2 -> ``Decimal("19.90")``; ``-5`` -> ``Decimal("-0.05")``:
    exact, from the integer the invoice stores, written as that text."""
    sign = "-" if minor < 0 else ""
    digits = str(abs(minor)).rjust(exponent + 1, "0")
    if exponent == 0:
        return Decimal(sign + digits)
    return Decimal(f"{sign}{digits[:-exponent]}.{digits[-exponent:]}")


def _adjustment_cells(adjustment: dict[str, int] | None) -> tuple[Any, ...]:
    """``prorated_days``, ``period_days``, ``discount_percent``, ``discount_days`` of a line's
    adjustment (the keys of billing/rating.py charge_adjustment): ``{"days": 21,
    "period_days": 31, "discount_bp": 1000}`` -> ``(21, 31, Decimal("10.00"), "")``."""
    if not adjustment:
        return ("", "", "", "")
    period_days = adjustment.get("period_days")
    discount_bp = adjustment.get("discount_bp")
    return (
        adjustment.get("days", 0) if period_days else "",
        period_days or "",
        _decimal(int(discount_bp), 2) if discount_bp else "",
        (adjustment.get("discount_days") or "") if discount_bp else "",
    )


def invoice_detail_csv(invoice: Invoice) -> Iterator[str]:
    """The CSV text of an aggregated or wholesale invoice's lines, in pieces of DETAIL_CHUNK
    rows (header first).

    Columns: ``DETAIL_COLUMNS``. ``amount`` and ``unit_price`` are net, or gross for an issuer
    whose prices include VAT, as on the invoice; ``tax_rate`` is a percentage ("19.00");
    ``sub_customer`` the name as the section printed it at issue; ``prorated_days`` of
    ``period_days`` the part of its period a prorated line charges ("21/31 days" on the
    invoice page), ``discount_percent`` ("10.00") the line's discount, for
    ``discount_days`` of the charged days when it covered fewer ("for 10 days")."""
    # Text cells quoted and neutralised against formulas, numbers bare (core/spreadsheet.py).
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    writer.writerow(DETAIL_COLUMNS)
    exponent = currency_exponent(invoice.currency)
    rows = (
        InvoiceLine.objects.filter(invoice_id=invoice.pk)
        .order_by("position")
        .values_list(
            "position",
            "section",
            "section_customer__reference",
            "description",
            "period_start",
            "period_end",
            "quantity",
            "unit_price_minor",
            "amount_minor",
            "tax_rate_bp",
            "tax_category",
            "adjustment",
        )
    )
    for n, (
        position,
        section,
        reference,
        description,
        start,
        end,
        quantity,
        unit_minor,
        amount_minor,
        rate_bp,
        category,
        adjustment,
    ) in enumerate(rows.iterator(chunk_size=DETAIL_CHUNK), 1):
        writer.writerow(
            (
                position,
                reference or "",
                section_name(section, reference or ""),
                description,
                start,
                end,
                quantity,
                _decimal(unit_minor, exponent),
                _decimal(amount_minor, exponent),
                _decimal(rate_bp, 2),
                category,
                invoice.currency,
                *_adjustment_cells(adjustment),
            )
        )
        if n % DETAIL_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def invoice_detail_csv_bytes(invoice: Invoice) -> bytes:
    """The whole CSV as UTF-8 bytes (the e-mail attachment)."""
    out = io.StringIO()
    for row in invoice_detail_csv(invoice):
        out.write(row)
    return out.getvalue().encode("utf-8")


def invoice_detail_attachment(invoice: Invoice) -> tuple[str, bytes, str]:
    """The e-mail attachment of the line detail: (file name, content, MIME type). The CSV
    itself, or above DETAIL_ZIP_ABOVE bytes a ZIP file holding it (``<name>.csv.zip``)."""
    name = invoice_detail_filename(invoice)
    content = invoice_detail_csv_bytes(invoice)
    if len(content) <= DETAIL_ZIP_ABOVE:
        return name, content, "text/csv"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, content)
    return f"{name}.zip", out.getvalue(), "application/zip"
