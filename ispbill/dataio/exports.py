"""Exports for accountants: invoices, credit notes, payments, the journal and the trial
balance of a period, as CSV or XLSX.

Rows are read through the partner-scoped managers, so a partner user's export holds only its
partner's rows; the journal and trial balance hold the books (issuers) of the open scope.
Amounts are decimal strings in CSV ("1234.50"); XLSX cells are numbers written from the
exact decimal text, never from a float."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Q, Sum
from django.db.models.functions import Coalesce

from ispbill.core.errors import DomainError
from ispbill.core.money import currency_exponent
from ispbill.core.spreadsheet import csv_writer, xlsx_cell
from ispbill.core.tenancy import current_partner_ids
from ispbill.invoicing.models import CreditNote, Invoice
from ispbill.ledger.models import AccountCode, JournalEntry, Posting
from ispbill.partners.models import Partner
from ispbill.payments.models import Payment

EXPORT_KINDS: dict[str, str] = {
    "invoices": "Invoices",
    "credit_notes": "Credit notes",
    "payments": "Payments",
    "journal": "Ledger journal",
    "trial_balance": "Trial balance",
}
FORMATS = ("csv", "xlsx")


class ExportError(DomainError):
    """An export that cannot be made as asked; the message says why."""

    code = "export"


def decimal_amount(minor: int, currency: str) -> Decimal:
    """Minor units as an exact Decimal with the currency's decimals (1234 EUR -> 12.34)."""
    exponent = currency_exponent(currency)
    return Decimal(int(minor)).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))


@dataclass
class ExportTable:
    kind: str
    start: date
    end: date
    columns: list[str]
    money_columns: frozenset[str]
    rows: list[list[Any]]

    def filename(self, fmt: str) -> str:
        return f"ispbill-{self.kind}-{self.start.isoformat()}-{self.end.isoformat()}.{fmt}"


def _books() -> dict[int, str]:
    return dict(Partner.objects.values_list("pk", "name"))


def _journal_books() -> Q:
    """The books the open scope may read: all for the operator, the partner's own else."""
    partners = current_partner_ids()
    return Q() if partners is None else Q(partner_id__in=partners)


def _invoices(start: date, end: date) -> ExportTable:
    books = _books()
    rows = []
    qs = (
        Invoice.objects.filter(issue_date__gte=start, issue_date__lte=end)
        .select_related("customer")
        .order_by("issue_date", "issuer_id", "number")
    )
    for inv in qs.iterator(chunk_size=2000):
        c = inv.currency
        rows.append(
            [
                inv.number,
                books.get(inv.issuer_id, ""),
                books.get(inv.partner_id, ""),
                inv.customer.reference,
                inv.customer.name,
                inv.kind,
                inv.issue_date.isoformat(),
                inv.due_date.isoformat(),
                c,
                decimal_amount(inv.net_minor, c),
                decimal_amount(inv.tax_minor, c),
                decimal_amount(inv.total_minor, c),
                decimal_amount(inv.allocated_minor, c),
                decimal_amount(inv.credited_minor, c),
                decimal_amount(inv.open_minor, c),
                inv.status,
            ]
        )
    columns = [
        "number",
        "issuer",
        "partner",
        "customer_reference",
        "customer_name",
        "kind",
        "issue_date",
        "due_date",
        "currency",
        "net",
        "tax",
        "total",
        "paid",
        "credited",
        "open",
        "status",
    ]
    money = frozenset({"net", "tax", "total", "paid", "credited", "open"})
    return ExportTable("invoices", start, end, columns, money, rows)


def _credit_notes(start: date, end: date) -> ExportTable:
    books = _books()
    rows = []
    qs = (
        CreditNote.objects.filter(issue_date__gte=start, issue_date__lte=end)
        .select_related("customer", "invoice")
        .order_by("issue_date", "issuer_id", "number")
    )
    for cn in qs.iterator(chunk_size=2000):
        c = cn.currency
        rows.append(
            [
                cn.number,
                cn.invoice.number,
                books.get(cn.issuer_id, ""),
                books.get(cn.partner_id, ""),
                cn.customer.reference,
                cn.customer.name,
                cn.issue_date.isoformat(),
                c,
                decimal_amount(cn.net_minor, c),
                decimal_amount(cn.tax_minor, c),
                decimal_amount(cn.total_minor, c),
                cn.reason,
            ]
        )
    columns = [
        "number",
        "invoice_number",
        "issuer",
        "partner",
        "customer_reference",
        "customer_name",
        "issue_date",
        "currency",
        "net",
        "tax",
        "total",
        "reason",
    ]
    return ExportTable(
        "credit_notes", start, end, columns, frozenset({"net", "tax", "total"}), rows
    )


def _payments(start: date, end: date) -> ExportTable:
    books = _books()
    rows = []
    qs = (
        Payment.objects.filter(date__gte=start, date__lte=end)
        .select_related("customer")
        .order_by("date", "id")
    )
    for p in qs.iterator(chunk_size=2000):
        c = p.currency
        rows.append(
            [
                p.date.isoformat(),
                p.reference,
                p.method,
                books.get(p.issuer_id, ""),
                books.get(p.partner_id, ""),
                p.customer.reference,
                p.customer.name,
                c,
                decimal_amount(p.amount_minor, c),
                decimal_amount(p.allocated_minor, c),
                decimal_amount(p.refunded_minor, c),
                decimal_amount(p.unallocated_minor, c),
            ]
        )
    columns = [
        "date",
        "reference",
        "method",
        "issuer",
        "partner",
        "customer_reference",
        "customer_name",
        "currency",
        "amount",
        "allocated",
        "refunded",
        "unallocated",
    ]
    money = frozenset({"amount", "allocated", "refunded", "unallocated"})
    return ExportTable("payments", start, end, columns, money, rows)


def _journal(start: date, end: date) -> ExportTable:
    books = _books()
    entries = {
        e.pk: e
        for e in JournalEntry.objects.filter(
            _journal_books(), date__gte=start, date__lte=end
        ).iterator(chunk_size=5000)
    }
    rows = []
    postings = (
        Posting.objects.filter(_journal_books(), entry_id__in=list(entries))
        .select_related("customer")
        .order_by("entry_id", "id")
        if entries
        else Posting.objects.none()
    )
    for p in postings.iterator(chunk_size=5000):
        e = entries[p.entry_id]
        amount = decimal_amount(abs(p.amount_minor), p.currency)
        zero = decimal_amount(0, p.currency)
        rows.append(
            [
                e.pk,
                e.date.isoformat(),
                books.get(e.partner_id, ""),
                e.kind,
                e.description,
                f"{e.source_type}:{e.source_id}",
                p.account,
                p.customer.reference if p.customer is not None else "",
                books.get(p.counterparty_id, "") if p.counterparty_id else "",
                p.currency,
                amount if p.amount_minor > 0 else zero,
                amount if p.amount_minor < 0 else zero,
            ]
        )
    columns = [
        "entry",
        "date",
        "book",
        "kind",
        "description",
        "source",
        "account",
        "customer_reference",
        "counterparty",
        "currency",
        "debit",
        "credit",
    ]
    return ExportTable("journal", start, end, columns, frozenset({"debit", "credit"}), rows)


def trial_balance_rows(start: date, end: date) -> list[dict[str, Any]]:
    """Per book, currency and account: opening balance, debits and credits of the period,
    closing balance; in minor units. One aggregate query."""
    before = Q(entry__date__lt=start)
    within = Q(entry__date__gte=start, entry__date__lte=end)
    rows = (
        Posting.objects.filter(_journal_books(), entry__date__lte=end)
        .values("partner_id", "currency", "account")
        .annotate(
            opening=Coalesce(Sum("amount_minor", filter=before), 0),
            debit=Coalesce(Sum("amount_minor", filter=within & Q(amount_minor__gt=0)), 0),
            credit=Coalesce(Sum("amount_minor", filter=within & Q(amount_minor__lt=0)), 0),
        )
        .order_by("partner_id", "currency", "account")
    )
    order = {code.value: i for i, code in enumerate(AccountCode)}
    out: list[dict[str, Any]] = [
        {
            "book_id": r["partner_id"],
            "currency": r["currency"],
            "account": r["account"],
            "opening": int(r["opening"]),
            "debit": int(r["debit"]),
            "credit": -int(r["credit"]),
            "closing": int(r["opening"]) + int(r["debit"]) + int(r["credit"]),
        }
        for r in rows
    ]
    out.sort(key=lambda r: (r["book_id"], r["currency"], order.get(r["account"], 99)))
    return out


def _trial_balance(start: date, end: date) -> ExportTable:
    books = _books()
    labels = dict(AccountCode.choices)
    rows = []
    for r in trial_balance_rows(start, end):
        c = r["currency"]
        rows.append(
            [
                books.get(r["book_id"], ""),
                c,
                r["account"],
                str(labels.get(r["account"], r["account"])),
                decimal_amount(r["opening"], c),
                decimal_amount(r["debit"], c),
                decimal_amount(r["credit"], c),
                decimal_amount(r["closing"], c),
            ]
        )
    columns = [
        "book",
        "currency",
        "account",
        "account_name",
        "opening",
        "debit",
        "credit",
        "closing",
    ]
    money = frozenset({"opening", "debit", "credit", "closing"})
    return ExportTable("trial_balance", start, end, columns, money, rows)


_BUILDERS = {
    "invoices": _invoices,
    "credit_notes": _credit_notes,
    "payments": _payments,
    "journal": _journal,
    "trial_balance": _trial_balance,
}


def export_table(*, kind: str, start: date, end: date) -> ExportTable:
    """The rows of one export for the period [start, end], in the open scope."""
    if kind not in _BUILDERS:
        raise ExportError(f"Unknown export {kind!r}; choose one of {', '.join(EXPORT_KINDS)}.")
    if end < start:
        raise ExportError("The period ends before it starts.")
    return _BUILDERS[kind](start, end)


def export_csv_lines(table: ExportTable) -> Iterator[str]:
    """The CSV text line by line (for streaming responses); text cells neutralised
    (ispbill/core/spreadsheet.py), amounts bare decimals."""
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    for row in _with_header(table):
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _with_header(table: ExportTable) -> Iterable[list[Any]]:
    yield list(table.columns)
    yield from table.rows


def export_csv(table: ExportTable) -> str:
    return "".join(export_csv_lines(table))


def export_xlsx(table: ExportTable) -> bytes:
    """An XLSX workbook of one sheet; amounts are numeric cells from exact decimals, text is
    string cells (never formulas)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=EXPORT_KINDS[table.kind][:31])

    header = []
    for name in table.columns:
        cell = xlsx_cell(sheet, name)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    money_index = {i for i, name in enumerate(table.columns) if name in table.money_columns}
    for row in table.rows:
        cells = []
        for i, value in enumerate(row):
            cell = xlsx_cell(sheet, value)
            if i in money_index and isinstance(value, Decimal):
                decimals = -int(value.as_tuple().exponent)
                cell.number_format = "0." + "0" * decimals if decimals > 0 else "0"
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def export_render(table: ExportTable, fmt: str) -> bytes:
    if fmt == "csv":
        return export_csv(table).encode("utf-8")
    if fmt == "xlsx":
        return export_xlsx(table)
    raise ExportError(f"Unknown format {fmt!r}; choose csv or xlsx.")
