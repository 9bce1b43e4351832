"""Billing-run benchmark: N customers (a mix of all partner modes) billed for one date on
PostgreSQL, end to end, beside a COPY of the same number of rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ispbill_bench \\
        .venv/bin/python bench/billing_run.py --customers 100000

Prints the figures and saves them to bench/results/billing.json. The database named in
DATABASE_URL is dropped and recreated.

``--outbox-compare`` measures what the event outbox costs the run (docs/webhooks.md,
"Scale"): rounds alternate between the run as shipped (an ``invoice.issued`` event per
invoice and a delivery row per event for one operator endpoint, written set-based with the
invoices) and the same run with the outbox's receivers disconnected; each round starts from
a new database. Sending is left out of both (the deliveries stay pending: the drain rate is
bench/webhook_drain.py's). In-process runs only: Celery workers run the shipped code.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ispbill_bench \
        .venv/bin/python bench/billing_run.py --customers 10000 --outbox-compare --repeat 6"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ispbill.settings")
RUN_DATE = date(2026, 4, 5)


def _db_admin(url: str) -> tuple[str, str]:
    base, name = url.rsplit("/", 1)
    return base + "/postgres", name


def recreate_database(url: str) -> None:
    if url.startswith("sqlite"):
        path = Path(url.split(":///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    admin, name = _db_admin(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> None:
    import django

    django.setup()


# The customer columns the benchmarks write (bench/read_api.py writes the same).
CUSTOMER_COLUMNS = [
    "partner_id",
    "reference",
    "name",
    "company",
    "email",
    "phone",
    "street",
    "postcode",
    "city",
    "country",
    "vat_id",
    "language",
    "status",
    "created_at",
    "payment_period",
]


def copy_rows(cur, table: str, columns: list[str], rows) -> int:  # type: ignore[no-untyped-def]
    """Write rows with COPY on PostgreSQL, with executemany INSERTs on SQLite."""
    from django.db import connection

    n = 0
    if connection.vendor == "postgresql":
        with cur.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                n += 1
        return n
    rows = list(rows)
    marks = ", ".join(["?"] * len(columns))
    cur.cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
    return len(rows)


def populate(n_customers: int) -> dict[str, int]:
    """Partners, tariffs, customers and services, written with COPY."""
    from django.db import connection

    from ispbill.catalog.models import PartnerPrice, Tariff, TaxRate
    from ispbill.core.tenancy import system_scope
    from ispbill.customers.models import Customer
    from ispbill.partners.models import Partner

    with system_scope():
        home = Partner.objects.get(is_home=True)
        vat = TaxRate.objects.create(partner=home, name="VAT 19%", rate_bp=1900)
        tariffs = [
            Tariff.objects.create(
                partner=home, name=f"Fiber {i}", price_minor=p, tax_rate=vat, period_months=m
            )
            for i, (p, m) in enumerate([(2990, 1), (3990, 1), (6990, 1), (24900, 3), (500, 1)])
        ]
        pct = Partner.objects.create(
            name="Pct", mode="percentage", commission_bp=1250, commission_base="invoiced"
        )
        own = Partner.objects.create(
            name="Own",
            mode="own_invoicing",
            billing_day=5,
            invoice_number_pattern="OWN{year}{next|7}",
        )
        agg = Partner.objects.create(
            name="Agg", mode="aggregated", aggregation_day=5, aggregation_cycle=1, discount_bp=2000
        )
        own_vat = TaxRate.objects.create(partner=own, name="VAT", rate_bp=1900)
        own_tariff = Tariff.objects.create(
            partner=own, name="Own 100", price_minor=3450, tax_rate=own_vat
        )
        for p in (pct, agg):
            p.account = Customer.objects.create(partner=home, reference=f"P{p.pk}", name=p.name)
            p.save()
        PartnerPrice.objects.create(partner=agg, tariff=tariffs[0], price_minor=2100)
    partners = [home.pk, pct.pk, own.pk, agg.pk]
    with connection.cursor() as cur:
        t0 = time.monotonic()
        copy_rows(
            cur,
            "customers_customer",
            [*CUSTOMER_COLUMNS, "blocked_with_partner"],
            (
                (
                    partners[i % 4],
                    f"B{i:07d}",
                    f"Customer {i}",
                    "",
                    f"c{i}@example.net",
                    "",
                    "Street 1",
                    "20457",
                    "Hamburg",
                    "DE",
                    "",
                    "de",
                    "active",
                    "2026-01-01T00:00:00Z",
                    "",
                    False,
                )
                for i in range(n_customers)
            ),
        )
        cur.execute(
            "SELECT id, partner_id FROM customers_customer WHERE reference LIKE %s ORDER BY id",
            ["B%"],
        )
        customers = cur.fetchall()
        service_rows = []
        day5 = {own.pk, agg.pk}
        for idx, (cid, pid) in enumerate(customers):
            tariff_id = own_tariff.pk if pid == own.pk and idx % 2 else tariffs[idx % 4].pk
            # Billed through March; one customer in ten started mid-March and is new this run.
            start = ("2026-03-05" if pid in day5 else "2026-03-01") if idx % 10 else "2026-03-17"
            rows = [(pid, cid, tariff_id, "Internet", start)]
            if idx % 10 < 3:
                rows.append((pid, cid, tariffs[4].pk, "Static IP", start))
            for r in rows:
                service_rows.append((*r[:4], 1, 0, r[4], "active", "2026-01-01T00:00:00Z"))
        n_services = copy_rows(
            cur,
            "subscriptions_service",
            [
                "partner_id",
                "customer_id",
                "tariff_id",
                "description",
                "quantity",
                "discount_bp",
                "start_date",
                "status",
                "created_at",
            ],
            service_rows,
        )
        # Everyone was billed on the March billing date: the run bills one date each.
        cur.execute(
            "UPDATE customers_customer SET billed_through = CASE WHEN partner_id IN (%s, %s) "
            "THEN %s ELSE %s END",
            [own.pk, agg.pk, date(2026, 3, 5), date(2026, 3, 1)],
        )
        cur.execute(
            "UPDATE subscriptions_service SET charged_through = CASE "
            "WHEN start_date = %s THEN NULL "
            "WHEN partner_id IN (%s, %s) THEN %s ELSE %s END",
            [date(2026, 3, 17), own.pk, agg.pk, date(2026, 4, 5), date(2026, 4, 1)],
        )
        cur.execute("ANALYZE")
        setup_seconds = time.monotonic() - t0
    return {
        "customers": len(customers),
        "services": n_services,
        "populate_seconds": round(setup_seconds, 1),
    }


OUTBOX_RECEIVERS = (
    ("ispbill.invoicing.signals", "invoices_issued", "ispbill_events_invoices"),
    ("ispbill.invoicing.signals", "credit_note_issued", "ispbill_events_credit_note"),
    ("ispbill.payments.signals", "payment_received", "ispbill_events_payment"),
    ("ispbill.payments.signals", "payment_returned", "ispbill_events_payment_returned"),
    ("ispbill.customers.signals", "customers_status_changed", "ispbill_events_customers"),
    ("ispbill.subscriptions.signals", "services_changed", "ispbill_events_services"),
    ("ispbill.subscriptions.signals", "service_created", "ispbill_events_service_created"),
    ("ispbill.subscriptions.signals", "service_stopped", "ispbill_events_service_stopped"),
    ("ispbill.billing.signals", "billing_run_finished", "ispbill_events_billing_run"),
    ("ispbill.commission.signals", "commission_statement_changed", "ispbill_events_commission"),
)


def outbox_switch(enabled: bool) -> None:
    """In the run's process: never send deliveries (the run is measured, not the HTTP);
    without the outbox, disconnect every receiver that writes events."""
    import importlib

    from ispbill.events import services as event_services

    event_services._send_soon = lambda: None  # type: ignore[assignment]
    if enabled:
        return
    for module, name, uid in OUTBOX_RECEIVERS:
        signal = getattr(importlib.import_module(module), name)
        if not signal.disconnect(dispatch_uid=uid):
            raise SystemExit(f"receiver {uid} not found: update OUTBOX_RECEIVERS")


def bill_phase() -> None:
    """Run in a child process so its peak RSS is the run's own."""
    setup_django()
    from django.db import connection

    outbox = os.environ.get("BENCH_OUTBOX")
    if outbox:
        outbox_switch(outbox == "on")

    from ispbill.billing.models import BillingRun
    from ispbill.billing.run import billing_run_start
    from ispbill.core.tenancy import system_scope

    profile_path = os.environ.get("BENCH_PROFILE")
    profiler = None
    if profile_path:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    postgres = connection.vendor == "postgresql"
    if postgres:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_current_wal_lsn()")
            wal_start = cur.fetchone()[0]
    t0 = time.monotonic()
    with system_scope():
        summary = billing_run_start(run_date=RUN_DATE, started_by="bench")
        if summary.status == "running":  # dispatched to Celery workers: wait for the chord
            while True:
                run = BillingRun.objects.get(pk=summary.run_id)
                if run.status != "running":
                    break
                time.sleep(0.2)
            if run.status != "done":
                raise SystemExit(f"run failed: {run.error}")
    seconds = time.monotonic() - t0
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(str(profile_path))
    with system_scope():
        invoices_issued = BillingRun.objects.get(pk=summary.run_id).invoices_issued
    with connection.cursor() as cur:
        wal_bytes = None
        if postgres:
            cur.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", [wal_start])
            wal_bytes = int(cur.fetchone()[0])
        counts = {}
        for table in (
            "billing_charge",
            "invoicing_invoice",
            "invoicing_invoiceline",
            "invoicing_invoicetax",
            "ledger_journalentry",
            "ledger_posting",
            "partners_commissionaccrual",
            "payments_allocation",
            "events_event",
            "events_delivery",
        ):
            cur.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cur.fetchone()[0]
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": round(seconds, 2),
                "peak_rss_mb": round(peak_kb / 1024, 1),
                "invoices": invoices_issued,
                "rows": counts,
                "wal_bytes": wal_bytes,
            }
        )
    )


def checkpoint() -> None:
    """PostgreSQL: write out what earlier phases left in memory, so the next phase starts on
    a quiet database and does not pay for them (the billing run for the generator's writes,
    the COPY for the run's). Needs a superuser or pg_checkpoint; else it is skipped."""
    from django.db import DatabaseError, connection

    if connection.vendor != "postgresql":
        return
    try:
        with connection.cursor() as cur:
            cur.execute("CHECKPOINT")
    except DatabaseError as exc:
        print(f"no CHECKPOINT ({exc}); figures are noisier")


def copy_reference(tables: list[str]) -> float:
    """Write the rows the run wrote again, into scratch tables of the same shape (indexes and
    checks included), the fastest way the database takes them: binary COPY on PostgreSQL, one
    executemany INSERT per table on SQLite. The floor for writing those rows."""
    setup_django()
    from django.db import connection, transaction

    checkpoint()
    with connection.cursor() as cur:
        seconds = 0.0
        for source in tables:
            scratch = f"bench_{source}"
            cur.execute(f"DROP TABLE IF EXISTS {scratch}")
            if connection.vendor == "postgresql":
                raw = cur.cursor
                cur.execute(f"CREATE TABLE {scratch} (LIKE {source} INCLUDING ALL)")
                # Binary, as the run writes: the faster of COPY's formats (text costs the
                # server about 5 % more to parse on these tables).
                data = bytearray()
                with raw.copy(f"COPY {source} TO STDOUT (FORMAT BINARY)") as copy:
                    for chunk in copy:
                        data += chunk
                t0 = time.monotonic()
                with raw.copy(f"COPY {scratch} FROM STDIN (FORMAT BINARY)") as copy:
                    copy.write(bytes(data))
                seconds += time.monotonic() - t0
            else:
                cur.execute(
                    "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = %s AND sql "
                    "IS NOT NULL ORDER BY type = 'index'",
                    [source],
                )
                for kind, name, sql in cur.fetchall():
                    sql = sql.replace(f'"{source}"', f'"{scratch}"', 1)
                    if kind == "index":
                        sql = sql.replace(f'"{name}"', f'"bench_{name}"', 1)
                    cur.execute(sql)
                cur.execute(f"SELECT * FROM {source}")
                rows = cur.fetchall()
                marks = ", ".join(["?"] * len(cur.description))
                t0 = time.monotonic()
                with transaction.atomic(), connection.cursor() as ins:
                    ins.cursor.executemany(f"INSERT INTO {scratch} VALUES ({marks})", rows)
                seconds += time.monotonic() - t0
            cur.execute(f"DROP TABLE {scratch}")
        return seconds


def measure(args: argparse.Namespace, url: str, outbox: str | None = None) -> dict[str, Any] | None:
    """One round: a new database, the data set, the billing run (in a child process, with
    Celery workers if asked), then the COPY of the rows it wrote. ``outbox``: "on" (with
    one operator endpoint, so each event gets a delivery row) or "off" (receivers
    disconnected); None: as shipped, no endpoint."""
    from django.core.management import call_command
    from django.db import connections

    connections.close_all()
    recreate_database(url)
    call_command("migrate", verbosity=0)
    populated = populate(args.customers)
    print(f"populated: {populated}")
    if outbox == "on":
        from ispbill.core.tenancy import system_scope
        from ispbill.events.models import WebhookEndpoint

        with system_scope():  # created directly: a closed port, never sent to here
            WebhookEndpoint.objects.create(url="http://127.0.0.1:9/bench", secret="unused")
    # The workers run this tree's code, whatever the virtualenv's install points at.
    env = dict(os.environ, RENDER_PDFS_ON_ISSUE="false", PYTHONPATH=str(ROOT))
    if outbox:
        env["BENCH_OUTBOX"] = outbox
    worker = None
    if args.celery:
        redis = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
        import redis as redis_client

        redis_client.Redis.from_url(redis).flushdb()  # a bench-only database: no stale tasks
        env.update(CELERY_BROKER_URL=redis, CELERY_RESULT_BACKEND=redis)
        worker = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "ispbill"),
                "worker",
                "--concurrency",
                str(args.celery),
                # BENCH_WORKER_LOGLEVEL=info: each task's start and end, for a timeline.
                "--loglevel",
                os.environ.get("BENCH_WORKER_LOGLEVEL", "warning"),
            ],
            env=env,
            cwd=ROOT,
        )
        time.sleep(6)
    checkpoint()
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--phase", "bill"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=1800,
        )
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
    if out.returncode:
        print(out.stdout, out.stderr)
        return None
    bill = json.loads(out.stdout.strip().splitlines()[-1])
    copy_seconds = copy_reference([t for t, n in bill["rows"].items() if n])
    rows_written = sum(bill["rows"].values())
    database = "sqlite" if url.startswith("sqlite") else "postgresql"
    return {
        "customers": populated["customers"],
        "services": populated["services"],
        "database": database,
        "mode": f"celery x{args.celery}" if args.celery else "in-process",
        "machine": f"{os.cpu_count()} cores",
        "billing_seconds": bill["seconds"],
        "customers_per_second": round(populated["customers"] / bill["seconds"]),
        "rows_per_second": round(rows_written / bill["seconds"]),
        "peak_rss_mb": bill["peak_rss_mb"],
        "invoices": bill["invoices"],
        "rows_written": bill["rows"],
        "rows_written_total": rows_written,
        "wal_mb": round(bill["wal_bytes"] / 1e6, 1) if bill.get("wal_bytes") else None,
        "baseline": "COPY" if database == "postgresql" else "executemany INSERT",
        "baseline_seconds_same_rows": round(copy_seconds, 2),
        "ratio_to_baseline": round(bill["seconds"] / copy_seconds, 2) if copy_seconds else None,
        "targets": {"billing_seconds": 30, "ratio_to_baseline": 2, "peak_rss_mb": 500},
        "outbox": outbox or "as shipped",
    }


def outbox_compare(args: argparse.Namespace, url: str) -> int:
    """Alternate rounds with and without the outbox (on, off, off, on, on, off, ...: each
    mode as often first as second, so drift on a shared machine hits both alike); report
    the medians and the overhead of the outbox on the run."""
    if args.celery:
        print("--outbox-compare runs in-process (workers run the shipped code)")
        return 2
    order = ["on", "off", "off", "on"]
    seconds: dict[str, list[float]] = {"on": [], "off": []}
    rounds = []
    for n in range(args.repeat):
        mode = order[n % 4]
        one = measure(args, url, outbox=mode)
        if one is None:
            return 1
        seconds[mode].append(one["billing_seconds"])
        rounds.append(
            {
                "outbox": mode,
                "billing_seconds": one["billing_seconds"],
                "events": one["rows_written"].get("events_event", 0),
                "deliveries": one["rows_written"].get("events_delivery", 0),
            }
        )
        print(f"round {n + 1}: {rounds[-1]}")
    if not seconds["on"] or not seconds["off"]:
        print("--repeat at least 2 (one round each way)")
        return 2
    on, off = statistics.median(seconds["on"]), statistics.median(seconds["off"])
    result = {
        "customers": one["customers"],
        "database": one["database"],
        "machine": one["machine"],
        "invoices": one["invoices"],
        "median_seconds_with_outbox": round(on, 2),
        "median_seconds_without_outbox": round(off, 2),
        "overhead_percent": round((on - off) / off * 100, 1),
        "target_overhead_percent": 10,
        "rounds": rounds,
        "note": "sending left out (drain rate: bench/webhook_drain.py); one operator "
        "endpoint, so each event also gets a delivery row",
    }
    print(json.dumps(result, indent=2))
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    suffix = "-sqlite" if result["database"] == "sqlite" else ""
    (results / f"outbox-{result['customers']}{suffix}.json").write_text(
        json.dumps(result, indent=2) + "\n"
    )
    return 0


MEDIAN_KEYS = ("billing_seconds", "baseline_seconds_same_rows", "ratio_to_baseline")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--phase", choices=["all", "bill"], default="all")
    parser.add_argument(
        "--celery",
        type=int,
        default=0,
        help="fan the run out to this many Celery worker processes (Redis broker)",
    )
    parser.add_argument(
        "--sqlite",
        action="store_true",
        help="run on a new SQLite file instead of the PostgreSQL DATABASE_URL",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds (each from a new database, run and COPY side by side); medians reported",
    )
    parser.add_argument(
        "--outbox-compare",
        action="store_true",
        help="alternate rounds with and without the event outbox; report its overhead",
    )
    args = parser.parse_args()
    if args.sqlite:
        os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.gettempdir()}/ispbill_bench.sqlite3"
    url = os.environ.get("DATABASE_URL", "")
    if args.phase == "bill":
        bill_phase()
        return 0
    if not url.startswith(("postgres", "sqlite")):
        print("Set DATABASE_URL to a PostgreSQL database (it is dropped and recreated),")
        print("or give --sqlite.")
        return 2
    if args.repeat < 1:
        print("--repeat must be at least 1")
        return 2
    setup_django()
    if args.outbox_compare:
        return outbox_compare(args, url)
    rounds = []
    for n in range(1, args.repeat + 1):
        one = measure(args, url)
        if one is None:
            return 1
        rounds.append(one)
        print(" ".join([f"round {n}:", *(f"{key} {one[key]}" for key in MEDIAN_KEYS)]))
    result = dict(rounds[0])
    if len(rounds) > 1:
        # Both figures vary from round to round on a shared machine (each round measures the
        # run and its COPY side by side): the medians, and every round.
        for key in MEDIAN_KEYS:
            result[key] = round(statistics.median(r[key] for r in rounds), 2)
        result["peak_rss_mb"] = max(r["peak_rss_mb"] for r in rounds)
        result["customers_per_second"] = round(result["customers"] / result["billing_seconds"])
        result["rows_per_second"] = round(result["rows_written_total"] / result["billing_seconds"])
        result["rounds"] = [{key: r[key] for key in MEDIAN_KEYS} for r in rounds]
    print(json.dumps(result, indent=2))
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    suffix = f"-celery{args.celery}" if args.celery else ""
    suffix += "-sqlite" if result["database"] == "sqlite" else ""
    name = f"billing-{result['customers']}{suffix}.json"
    (results / name).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
