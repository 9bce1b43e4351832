"""``ispbill collect`` (the collection run: batches and their pain.008 files),
and ``ispbill collect-returns`` (camt.054 / pain.002); ``ispbill import-mandates`` is with
the other imports in ispbill/dataio/cli.py.

Django models are imported inside the commands: the parser is built before Django is set up.
The command line acts as the operator (all partners)."""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta
from pathlib import Path


def _today() -> date:
    from django.utils import timezone

    return timezone.localdate()


def cmd_collect(args: argparse.Namespace) -> int:
    from ispbill.core.errors import DomainValidationError
    from ispbill.core.money import Money
    from ispbill.core.tenancy import system_scope
    from ispbill.sepa.collection import DAYS_AHEAD, collection_plan, collection_run

    on = args.date or _today()
    until = args.until or on + timedelta(days=DAYS_AHEAD)
    if until < on:
        print("error: --until is before the run date", file=sys.stderr)
        return 2
    issuer_ids = [args.partner] if args.partner else None
    with system_scope():
        if args.dry_run:
            plan = collection_plan(on=on, until=until, issuer_ids=issuer_ids)
            for p in plan.plans:
                print(
                    f"issuer {p.issuer.pk} {p.issuer.name}: {p.collection_date} "
                    f"{len(p.debits)} debits {p.total}"
                )
                for d in p.debits:
                    numbers = ", ".join(inv.number for inv, _ in d.invoices)
                    print(
                        f"  {d.sequence} {d.mandate.reference:<20} "
                        f"{Money.from_minor(d.amount_minor, 'EUR')}  {numbers}"
                    )
            for inv, why in plan.skipped:
                print(f"skipped {inv.number}: {why}")
            print(f"Dry run: {len(plan.plans)} batch(es); nothing was written.")
            return 0
        try:
            created = collection_run(on=on, until=until, issuer_ids=issuer_ids, actor="cli")
        except DomainValidationError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
        for batch in created:
            path = Path(args.output_dir) / f"{batch.message_id}.xml"
            path.write_text(batch.xml, encoding="utf-8")
            total = Money.from_minor(batch.total_minor, batch.currency)
            print(
                f"batch {batch.pk} {batch.message_id}: {batch.collection_date} "
                f"{batch.count} debits {total} -> {path}"
            )
    if not created:
        print("Nothing to collect.")
    return 0


def cmd_collect_returns(args: argparse.Namespace) -> int:
    from ispbill.core.errors import DomainValidationError
    from ispbill.core.tenancy import system_scope
    from ispbill.sepa.returns import returns_file_import

    data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    with system_scope():
        try:
            result = returns_file_import(data=data, actor="cli")
        except DomainValidationError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
    for r in result.booked:
        print(f"returned {r.debit.end_to_end_id} {r.reason_code} {r.reason} on {r.booking_date}")
    for e2e in result.duplicates:
        print(f"already booked {e2e}")
    for e2e in result.unknown:
        print(f"unknown {e2e}")
    print(
        f"{result.format}: {len(result.booked)} booked, {len(result.duplicates)} already "
        f"booked, {len(result.unknown)} unknown."
    )
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("collect", help="SEPA direct debit: create batches and pain.008 files")
    p.add_argument("--date", type=date.fromisoformat, help="run date (default today)")
    p.add_argument(
        "--until",
        type=date.fromisoformat,
        help="collect invoices notified up to this day (default run date + 5 days)",
    )
    p.add_argument("--partner", type=int, help="only this issuer's invoices")
    p.add_argument("--dry-run", action="store_true", help="show the batches; write nothing")
    p.add_argument("-o", "--output-dir", default=".", help="where the pain.008 files go")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("collect-returns", help="SEPA returns from a camt.054 or pain.002 file")
    p.add_argument("file", help="camt.054/camt.053/pain.002 XML, - for stdin")
    p.set_defaults(func=cmd_collect_returns)
