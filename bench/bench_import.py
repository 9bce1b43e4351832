"""Customer import benchmark: a CSV of N customers with one service each, checked (dry run)
and imported, on a fresh database.

    .venv/bin/python bench/bench_import.py --customers 10000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ispbill_bench_import \\
        .venv/bin/python bench/bench_import.py

Without DATABASE_URL a new SQLite file in /tmp is used; a DATABASE_URL must name an empty
database of its own. Prints the figures and saves them to
bench/results/import.json."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ispbill.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=10_000)
    args = parser.parse_args()
    if "DATABASE_URL" not in os.environ:
        path = Path(tempfile.mkdtemp()) / "bench_import.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", interactive=False, verbosity=0)

    from ispbill.catalog.models import Tariff, TaxRate
    from ispbill.core.tenancy import system_scope
    from ispbill.customers.models import Customer
    from ispbill.dataio.customer_import import COLUMNS, customers_import
    from ispbill.partners.models import Partner

    with system_scope():
        home = Partner.objects.get(is_home=True)
        rate, _ = TaxRate.objects.get_or_create(partner=home, name="VAT 19", rate_bp=1900)
        Tariff.objects.get_or_create(
            partner=home, name="Bench 100", defaults={"price_minor": 2990, "tax_rate": rate}
        )
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        for i in range(args.customers):
            writer.writerow(
                {
                    "reference": f"B{i:07d}",
                    "name": f"Bench Customer {i}",
                    "email": f"b{i}@example.net",
                    "street": f"Street {i}",
                    "postcode": "10115",
                    "city": "Berlin",
                    "billing_day": str(1 + i % 28),
                    "tariff": "Bench 100",
                    "service_start": "2026-01-01",
                }
            )
        text = out.getvalue()
        began = time.perf_counter()
        dry = customers_import(csv_text=text, dry_run=True)
        dry_seconds = time.perf_counter() - began
        began = time.perf_counter()
        result = customers_import(csv_text=text, dry_run=False)
        seconds = time.perf_counter() - began
        assert not result.errors, result.errors[:5]
        assert Customer.objects.filter(reference__startswith="B").count() == args.customers
        assert not dry.errors
    figures = {
        "database": connection.vendor,
        "customers": args.customers,
        "dry_run_seconds": round(dry_seconds, 2),
        "import_seconds": round(seconds, 2),
        "customers_per_second": round(args.customers / seconds),
    }
    print(
        f"{connection.vendor}: {args.customers} customers checked in {dry_seconds:.2f} s "
        f"(dry run), imported with their services in {seconds:.2f} s "
        f"({figures['customers_per_second']} customers/s)"
    )
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "import.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
