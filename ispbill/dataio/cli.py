"""``ispbill import-customers``, ``ispbill import-payments``, ``ispbill import-mandates`` and
``ispbill export``.

Django models are imported inside the commands: the parser is built before Django is set up.
The command line acts as the operator (all partners), as background work does."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path


def _read(path: str) -> bytes:
    return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()


def cmd_import_customers(args: argparse.Namespace) -> int:
    from ispbill.core.tenancy import system_scope
    from ispbill.dataio.customer_import import customers_import
    from ispbill.partners.models import Partner

    text = _read(args.file).decode("utf-8-sig")
    with system_scope():
        partner = Partner.objects.filter(pk=args.partner).first() if args.partner else None
        if args.partner and partner is None:
            print(f"error: no partner with id {args.partner}", file=sys.stderr)
            return 2
        result = customers_import(csv_text=text, actor="cli", partner=partner, dry_run=args.dry_run)
    for error in result.errors:
        print(f"ERROR {error}")
    if result.errors:
        print(f"{len(result.errors)} error(s): nothing was imported.", file=sys.stderr)
        return 1
    if args.dry_run:
        print(
            f"Dry run: {len(result.planned)} customers and {result.services_planned} services "
            "would be created; nothing was written."
        )
    else:
        print(
            f"Imported {result.customers_created} customers and {result.services_created} services."
        )
    return 0


def cmd_import_payments(args: argparse.Namespace) -> int:
    from ispbill.core.tenancy import system_scope
    from ispbill.dataio.bank_files import BankFileError, CsvBankFormat, bank_file_parse
    from ispbill.dataio.payment_import import bank_lines_import
    from ispbill.partners.models import Partner

    try:
        fmt = CsvBankFormat.from_mapping(
            args.columns or "",
            date_format=args.date_format,
            decimal_comma=args.decimal_comma,
            default_currency=args.currency,
        )
        parsed = bank_file_parse(_read(args.file), csv_format=fmt)
    except (BankFileError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with system_scope():
        issuer = (
            Partner.objects.filter(pk=args.partner).first()
            if args.partner
            else Partner.objects.get(is_home=True)
        )
        if issuer is None or not issuer.issues_own_documents:
            print("error: --partner must name an own-invoicing partner", file=sys.stderr)
            return 2
        result = bank_lines_import(
            lines=parsed.lines, issuer=issuer, actor="cli", source=Path(args.file).name
        )
    for line, payment in result.booked:
        print(
            f"booked  {line.booking_date} {line.amount:>12} {line.currency} {line.reference}"
            f" -> customer {payment.customer_id}"
        )
    for line, reason in result.queued:
        print(
            f"queued  {line.booking_date} {line.amount:>12} {line.currency} {line.reference}"
            f" ({reason})"
        )
    print(f"{parsed.format}: {result.summary()}.")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ispbill.core.tenancy import system_scope
    from ispbill.dataio.exports import ExportError, export_render, export_table

    fmt = args.format or (Path(args.output).suffix.lstrip(".") if args.output else "csv")
    try:
        with system_scope():
            table = export_table(kind=args.kind, start=args.start, end=args.end)
            data = export_render(table, fmt)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.output or args.output == "-":
        sys.stdout.buffer.write(data)
    else:
        Path(args.output).write_bytes(data)
        print(f"{len(table.rows)} rows written to {args.output}.", file=sys.stderr)
    return 0


def cmd_export_datev(args: argparse.Namespace) -> int:
    from ispbill.core.tenancy import system_scope
    from ispbill.dataio.datev import datev_export
    from ispbill.dataio.exports import ExportError

    try:
        with system_scope():
            result = datev_export(issuer_id=args.issuer, month=args.month)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out == "-":
        sys.stdout.buffer.write(result.data)
    else:
        out = Path(args.out or result.filename)
        out.write_bytes(result.data)
        print(f"{len(result.bookings)} bookings written to {out}.", file=sys.stderr)
    return 0


def cmd_import_mandates(args: argparse.Namespace) -> int:
    from ispbill.core.tenancy import system_scope
    from ispbill.dataio.mandate_import import mandates_import
    from ispbill.partners.models import Partner

    text = (sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()).decode(
        "utf-8-sig"
    )
    with system_scope():
        partner = Partner.objects.filter(pk=args.partner).first() if args.partner else None
        if args.partner and partner is None:
            print(f"error: no partner with id {args.partner}", file=sys.stderr)
            return 2
        result = mandates_import(csv_text=text, partner=partner, dry_run=args.dry_run, actor="cli")
    for error in result.errors:
        print(f"ERROR {error}")
    if result.errors:
        print(f"{len(result.errors)} error(s): nothing was imported.", file=sys.stderr)
        return 1
    if args.dry_run:
        print(f"Dry run: {result.rows} mandates would be created; nothing was written.")
    else:
        print(f"Imported {len(result.created)} mandates.")
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("import-customers", help="import customers and services from a CSV")
    p.add_argument("file", help="CSV file (see docs/data-import-export.md), - for stdin")
    p.add_argument("--dry-run", action="store_true", help="check every row; write nothing")
    p.add_argument("--partner", type=int, help="import every row into this partner")
    p.set_defaults(func=cmd_import_customers)

    p = sub.add_parser("import-payments", help="import a bank statement (camt.053 or CSV)")
    p.add_argument("file", help="camt.053 XML or CSV file")
    p.add_argument("--partner", type=int, help="own-invoicing partner whose account it is")
    p.add_argument(
        "--columns",
        help="CSV columns as field=Column,...: date, amount, currency, reference, "
        "remittance, counterparty, iban",
    )
    p.add_argument("--date-format", default="%Y-%m-%d", help="CSV date format (%%d.%%m.%%Y)")
    p.add_argument("--decimal-comma", action="store_true", help="CSV amounts as 1.234,56")
    p.add_argument("--currency", default="EUR", help="CSV currency when there is no column")
    p.set_defaults(func=cmd_import_payments)

    p = sub.add_parser("export", help="export a period for the accountant (CSV or XLSX)")
    # As ispbill.dataio.exports.EXPORT_KINDS (not imported: Django is not set up yet).
    p.add_argument(
        "kind", choices=["invoices", "credit_notes", "payments", "journal", "trial_balance"]
    )
    p.add_argument("--from", dest="start", type=date.fromisoformat, required=True)
    p.add_argument("--to", dest="end", type=date.fromisoformat, required=True)
    p.add_argument("--format", choices=["csv", "xlsx"], help="default: from -o, else csv")
    p.add_argument("-o", "--output", help="file to write (default: standard output)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "export-datev", help="export one issuer's month as a DATEV Buchungsstapel (EXTF CSV)"
    )
    p.add_argument(
        "--issuer",
        required=True,
        help="partner id of the issuer: the home partner or an own-invoicing partner",
    )
    p.add_argument("--month", required=True, help="YYYY-MM")
    p.add_argument(
        "--out", "-o", help="file to write, - for standard output (default: EXTF_….csv here)"
    )
    p.set_defaults(func=cmd_export_datev)

    p = sub.add_parser("import-mandates", help="import SEPA mandates from a CSV")
    p.add_argument("file", help="CSV file (see docs/payments.md), - for stdin")
    p.add_argument("--dry-run", action="store_true", help="check every row; write nothing")
    p.add_argument("--partner", type=int, help="customers of this partner")
    p.set_defaults(func=cmd_import_mandates)
