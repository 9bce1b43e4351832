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
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ispbill.settings")
RUN_DATE = date(2026, 4, 5)


def _db_admin(url: str) -> tuple[str, str]:
    base, name = url.rsplit("/", 1)
    return base + "/postgres", name


def recreate_database(url: str, *, template: str | None = None) -> None:
    """Drop the database and create it empty, or as a copy of ``template`` (PostgreSQL)."""
    if url.startswith("sqlite"):
        path = Path(url.split(":///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    admin, name = _db_admin(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if template:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        else:
            conn.execute(f'CREATE DATABASE "{name}"')


def data_template(url: str, args: argparse.Namespace) -> tuple[str, dict[str, Any] | None]:
    """``--keep-data``: the name of the database that keeps this data set (size, shape and
    seed) once written, and what was written then (None: not written yet). Writing a
    million customers' realistic set takes a quarter of an hour; every later round copies
    the kept database instead (``CREATE DATABASE … TEMPLATE``, a file copy)."""
    import psycopg

    admin, name = _db_admin(url)
    template = f"{name}_keep_{args.data}_{args.customers}_{args.seed}"
    with psycopg.connect(admin, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [template],
        ).fetchone()
    if row is None or not row[0]:
        return template, None
    return template, json.loads(row[0])


def data_keep(url: str, template: str, populated: dict[str, Any]) -> None:
    """Keep the database just written as ``template``, with what was written as its comment."""
    import psycopg

    admin, name = _db_admin(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{template}" TEMPLATE "{name}"')
        comment = json.dumps(populated).replace("'", "''")
        conn.execute(f"COMMENT ON DATABASE \"{template}\" IS '{comment}'")


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


# NOT NULL columns added after the generators were written, with their model defaults.
COPY_DEFAULTS: dict[str, dict[str, Any]] = {"customers_customer": {"blocked_with_partner": False}}


def copy_rows(cur, table: str, columns: list[str], rows) -> int:  # type: ignore[no-untyped-def]
    """Write rows with COPY on PostgreSQL, with executemany INSERTs on SQLite. Columns of
    ``COPY_DEFAULTS`` the caller does not give get their model default (Django sets
    defaults in Python, not in the table)."""
    from django.db import connection

    extra = {k: v for k, v in COPY_DEFAULTS.get(table, {}).items() if k not in columns}
    if extra:
        columns = [*columns, *extra]
        tail = tuple(extra.values())
        rows = (tuple(row) + tail for row in rows)

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
            CUSTOMER_COLUMNS,
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


# The tables a billing run writes.
RUN_TABLES = (
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
)
# Tables that get rows with ids drawn during the run after its end (the outbox's events).
LATER_ROWS_TABLES = ("events_event", "events_delivery")


OUTBOX_RECEIVERS = (
    ("ispbill.invoicing.signals", "invoices_numbered", "ispbill_events_invoices"),
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
    from django.db.models import Max, Min, Q
    from django.db.models.fields.json import KT

    outbox = os.environ.get("BENCH_OUTBOX")
    if outbox:
        outbox_switch(outbox == "on")

    from ispbill.billing.models import BillingRun
    from ispbill.billing.run import billing_run_start
    from ispbill.core.tenancy import system_scope
    from ispbill.invoicing.models import EmailDelivery, Invoice

    profile_path = os.environ.get("BENCH_PROFILE")
    profiler = None
    if profile_path:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    postgres = connection.vendor == "postgresql"
    floors = {}  # the rows there before the run (the realistic data's March run wrote some)
    with connection.cursor() as cur:
        for table in RUN_TABLES:
            cur.execute(f"SELECT COALESCE(max(id), 0) FROM {table}")
            floors[table] = cur.fetchone()[0]
    if postgres:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_current_wal_lsn()")
            wal_start = cur.fetchone()[0]
    if os.environ.get("BENCH_E2E"):
        # As a new installation has it: every issuer e-mails its invoices once issued (a
        # data set kept from before the setting has it off, as an upgrade leaves it).
        from ispbill.partners.models import Partner

        with system_scope():
            Partner.objects.update(email_invoices_on_issue=True)
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
    wal_bytes = None
    if postgres:  # the run's WAL, before the PDFs and e-mails of --e2e
        with connection.cursor() as cur:
            cur.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", [wal_start])
            wal_bytes = int(cur.fetchone()[0])
    with system_scope():
        invoices_issued = BillingRun.objects.get(pk=summary.run_id).invoices_issued
    expand_seconds = None
    if outbox == "on":
        # The run records its invoice events as one batch per chunk; the sender makes them
        # into events and deliveries after each commit (left out here with the sending).
        # Timed apart, after the run: the outbox's work that happens outside the run.
        from ispbill.events.services import event_batches_expand

        t_expand = time.monotonic()
        with system_scope():
            event_batches_expand()
        expand_seconds = round(time.monotonic() - t_expand, 2)
    documents: dict[str, Any] = {}
    if os.environ.get("BENCH_E2E"):
        # End to end: the run e-mails its invoices itself (each issuer's "E-mail invoices
        # when issued", on by default): wait until every PDF is stored and every e-mail has
        # left for the SMTP server.
        with system_scope():
            run_invoices = Invoice.objects.filter(billing_run_id=summary.run_id)
            # Polled every 2 s with cheap counts: the e-mails of the run's invoices by their
            # id range, not a join (which, every 0.5 s, took most of a core of the machine
            # being measured at 78,000 e-mails).
            bounds = run_invoices.aggregate(lo=Min("pk"), hi=Max("pk"))
            run_mail = EmailDelivery.objects.filter(
                invoice_id__gte=bounds["lo"], invoice_id__lte=bounds["hi"]
            )
            # A task records its e-mails after its PDFs: count the e-mails still to record.
            addressed = (
                run_invoices.annotate(to=KT("customer_snapshot__email")).exclude(to="").count()
            )
            while True:
                pending_pdfs = run_invoices.filter(pdf="", pdf_error="").count()
                pending_mail = run_mail.filter(Q(status="queued")).count()
                pending_mail += max(0, addressed - run_mail.count())
                if not pending_pdfs and not pending_mail:
                    break
                if time.monotonic() - t0 > float(os.environ.get("BENCH_E2E_TIMEOUT", "3600")):
                    raise SystemExit(f"timeout: {pending_pdfs} PDFs, {pending_mail} e-mails")
                time.sleep(2)
            documents["all_out_seconds"] = round(time.monotonic() - t0, 2)
            documents["emails_recorded"] = run_mail.count()
            documents["pdfs_stored"] = run_invoices.exclude(pdf="").count()
            documents["pdf_errors"] = run_invoices.exclude(pdf_error="").count()
            # By the id range too: a join to the run's invoices, planned on statistics from
            # before the run, once took minutes here (the run now analyzes its tables).
            documents["emails_sent"] = run_mail.filter(status="sent").count()
            documents["emails_failed"] = run_mail.filter(status="failed").count()
    with connection.cursor() as cur:
        counts = {}
        ceilings = {}  # the largest id at the run's end: rows written later are not the run's
        for table in RUN_TABLES:
            cur.execute(
                f"SELECT count(*), COALESCE(max(id), 0) FROM {table} WHERE id > %s",
                [floors[table]],
            )
            counts[table], ceilings[table] = cur.fetchone()
        # The outbox makes a run's event batches into events after the run, in the workers,
        # with ids drawn during the run (below the ceiling): the events there at its end
        # are the run's, by id (a few, one per run; more with --outbox-compare's "on").
        present = {}
        for table in LATER_ROWS_TABLES:
            cur.execute(f"SELECT id FROM {table} WHERE id > %s ORDER BY id", [floors[table]])
            present[table] = [row[0] for row in cur.fetchall()]
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": round(seconds, 2),
                "peak_rss_mb": round(peak_kb / 1024, 1),
                "invoices": invoices_issued,
                "rows": counts,
                "floors": floors,
                "ceilings": ceilings,
                "present": present,
                "wal_bytes": wal_bytes,
                "events_expand_seconds": expand_seconds,
                "documents": documents,
            }
        )
    )


# PostgreSQL settings that change the figures, recorded with each result (a result measured
# with one of them changed says so).
POSTGRES_SETTINGS = (
    "shared_buffers",
    "max_wal_size",
    "checkpoint_timeout",
    "synchronous_commit",
    "fsync",
    "full_page_writes",
    "wal_compression",
    "work_mem",
)


def postgres_settings() -> dict[str, str] | None:
    """The server's values of ``POSTGRES_SETTINGS`` (None on SQLite)."""
    setup_django()
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cur:
        cur.execute(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)",
            [list(POSTGRES_SETTINGS)],
        )
        return dict(cur.fetchall())


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


class RunRows(NamedTuple):
    """The rows a run wrote in a table: ids above ``floor`` up to ``ceiling`` (both at the
    run's start and end), or exactly ``ids`` where given (a table filled after the run)."""

    floor: int
    ceiling: int
    ids: list[int] | None = None

    def where(self) -> str:
        if self.ids is not None:
            return f"id IN ({', '.join(str(int(i)) for i in self.ids) or 'NULL'})"
        return f"id > {int(self.floor)} AND id <= {int(self.ceiling)}"


def copy_reference(written: dict[str, RunRows], streams: int = 1) -> float:
    """Write the rows the run wrote again, into scratch tables of the same shape (indexes and
    checks included), the fastest way the database takes them: binary COPY on PostgreSQL, one
    executemany INSERT per table on SQLite. The floor for writing those rows.

    With ``streams`` > 1 (PostgreSQL), as many connections write at the same time, each
    its share of every table (the rows with ``id % streams`` equal to its number), as the
    run's worker processes do: the floor at the run's parallelism. The time is from the
    first stream's start to the last one's end. ``written``: table -> the rows the run
    wrote there."""
    tables = list(written)
    setup_django()
    from django.db import connection, transaction

    checkpoint()
    with connection.cursor() as cur:
        seconds = 0.0
        if connection.vendor == "postgresql":
            import psycopg

            raw = cur.cursor
            parts: list[list[tuple[str, bytes]]] = [[] for _ in range(streams)]
            for source in tables:
                scratch = f"bench_{source}"
                cur.execute(f"DROP TABLE IF EXISTS {scratch}")
                cur.execute(f"CREATE TABLE {scratch} (LIKE {source} INCLUDING ALL)")
                # Binary, as the run writes: the faster of COPY's formats (text costs the
                # server about 5 % more to parse on these tables).
                for n in range(streams):
                    data = bytearray()
                    query = (
                        f"COPY (SELECT * FROM {source} WHERE {written[source].where()} "
                        f"AND id % {streams} = {n}) TO STDOUT (FORMAT BINARY)"
                    )
                    with raw.copy(query) as copy:
                        for chunk in copy:
                            data += chunk
                    parts[n].append((scratch, bytes(data)))
            url = os.environ["DATABASE_URL"]
            conns = [psycopg.connect(url.split("?", 1)[0]) for _ in range(streams)]
            barrier = threading.Barrier(streams + 1)
            ends: list[float] = []

            def stream(conn, work) -> None:  # type: ignore[no-untyped-def]
                barrier.wait()
                with conn.cursor() as c:
                    for scratch, data in work:
                        with c.copy(f"COPY {scratch} FROM STDIN (FORMAT BINARY)") as copy:
                            copy.write(data)
                conn.commit()
                ends.append(time.monotonic())

            threads = [
                threading.Thread(target=stream, args=(conns[n], parts[n])) for n in range(streams)
            ]
            for t in threads:
                t.start()
            barrier.wait()
            t0 = time.monotonic()
            for t in threads:
                t.join()
            seconds = max(ends) - t0
            for conn in conns:
                conn.close()
            for source in tables:
                cur.execute(f"DROP TABLE bench_{source}")
            return seconds
        for source in tables:
            scratch = f"bench_{source}"
            cur.execute(f"DROP TABLE IF EXISTS {scratch}")
            cur.execute(
                "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = %s AND sql "
                "IS NOT NULL AND type IN ('table', 'index') "
                "ORDER BY type = 'index'",
                [source],
            )
            for kind, name, sql in cur.fetchall():
                sql = sql.replace(f'"{source}"', f'"{scratch}"', 1)
                if kind == "index":
                    sql = sql.replace(f'"{name}"', f'"bench_{name}"', 1)
                cur.execute(sql)
            cur.execute(f"SELECT * FROM {source} WHERE {written[source].where()}")
            rows = cur.fetchall()
            marks = ", ".join(["?"] * len(cur.description))
            t0 = time.monotonic()
            with transaction.atomic(), connection.cursor() as ins:
                ins.cursor.executemany(f"INSERT INTO {scratch} VALUES ({marks})", rows)
            seconds += time.monotonic() - t0
            cur.execute(f"DROP TABLE {scratch}")
        return seconds


class RssSampler:
    """Peak resident memory of the run's processes, sampled every 0.2 s from /proc (psutil):
    the dispatcher, the Celery main process, each worker process and the PDF render worker
    processes below them."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots
        self.peaks: dict[str, float] = {}
        self.cpu: dict[str, float] = {}  # CPU seconds at the last sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        import psutil

        while not self._stop.is_set():
            for label, pid in list(self.roots.items()):
                try:
                    root = psutil.Process(pid)
                    procs = [(label, root)]
                    for child in root.children(recursive=True):
                        nested = child.ppid() != pid or label == "dispatcher"
                        name = "render worker" if nested else "worker"
                        procs.append((f"{label} {name} {child.pid}", child))
                    for name, proc in procs:
                        mb = proc.memory_info().rss / 1e6
                        self.peaks[name] = max(self.peaks.get(name, 0.0), mb)
                        cpu = proc.cpu_times()
                        self.cpu[name] = cpu.user + cpu.system
                except psutil.Error:
                    continue
            self._stop.wait(0.2)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        return {k: round(v, 1) for k, v in sorted(self.peaks.items())}

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds (user and system) of each process, as last sampled."""
        return {k: round(v, 1) for k, v in sorted(self.cpu.items())}


def ispbill_check(env: dict[str, str]) -> dict[str, Any]:
    """``ispbill check`` after the run: its time and whether every invariant held."""
    t0 = time.monotonic()
    out = subprocess.run(
        [str(Path(sys.executable).parent / "ispbill"), "check"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return {
        "seconds": round(time.monotonic() - t0, 1),
        "exit": out.returncode,
        "output": (out.stdout + out.stderr).strip().splitlines()[-3:],
    }


def data_populate(args: argparse.Namespace, url: str) -> dict[str, Any]:
    """A new database with the data set: written now, or copied from the kept one
    (``--keep-data``). Returns what was written."""
    from django.core.management import call_command
    from django.db import connections

    connections.close_all()
    kept: dict[str, Any] | None = None
    template = ""
    if args.keep_data and not url.startswith("sqlite"):
        template, kept = data_template(url, args)
    if kept is not None:
        recreate_database(url, template=template)
        call_command("migrate", verbosity=0)  # the kept set may predate a migration
        populated = dict(kept, copied_from=template)
    else:
        recreate_database(url)
        call_command("migrate", verbosity=0)
        t_populate = time.monotonic()
        if args.data == "realistic":
            from realistic import populate_realistic

            populated = populate_realistic(args.customers, seed=args.seed)
        else:
            populated = populate(args.customers)
        populated["populate_seconds"] = round(time.monotonic() - t_populate, 1)
        if args.keep_data and not url.startswith("sqlite"):
            connections.close_all()
            data_keep(url, template, populated)
    return populated


def measure(args: argparse.Namespace, url: str, outbox: str | None = None) -> dict[str, Any] | None:
    """One round: a new database, the data set, the billing run (in a child process, with
    Celery workers if asked), then the COPY of the rows it wrote. ``outbox``: "on" (with
    one operator endpoint, so each event gets a delivery row) or "off" (receivers
    disconnected); None: as shipped, no endpoint."""
    from django.db import connections

    populated = data_populate(args, url)
    print(f"populated: {populated}", flush=True)
    if outbox == "on":
        from ispbill.core.tenancy import system_scope
        from ispbill.events.models import WebhookEndpoint

        with system_scope():  # created directly: a closed port, never sent to here
            WebhookEndpoint.objects.create(url="http://127.0.0.1:9/bench", secret="unused")
    connections.close_all()
    # The workers run this tree's code, whatever the virtualenv's install points at.
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'bench'}")
    if args.e2e:
        # The defaults: rendered and stored on issue, e-mailed on issue.
        env.pop("RENDER_PDFS_ON_ISSUE", None)
        env.pop("EMAIL_INVOICES_ON_ISSUE", None)
        env["BENCH_E2E"] = "1"
    else:
        env["RENDER_PDFS_ON_ISSUE"] = "false"
        env["EMAIL_INVOICES_ON_ISSUE"] = "false"
    if outbox:
        env["BENCH_OUTBOX"] = outbox
    sink = None
    if args.e2e:
        from e2e import smtp_sink

        sink = smtp_sink(args.smtp_server)
        env["EMAIL_URL"] = f"smtp://127.0.0.1:{sink.start()}"
        env["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="ispbill-bench-media-")
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
    sampler = None
    try:
        child = subprocess.Popen(
            [sys.executable, __file__, "--phase", "bill"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        roots = {"dispatcher": child.pid}
        if worker is not None:
            roots["celery"] = worker.pid
        sampler = RssSampler(roots).start()
        stdout, stderr = child.communicate(timeout=7200)
    finally:
        rss = sampler.stop() if sampler is not None else {}
        cpu = sampler.cpu_seconds() if sampler is not None else {}
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=60)
        if sink is not None:
            sink.stop()
    if child.returncode:
        print(stdout, stderr)
        return None
    bill = json.loads(stdout.strip().splitlines()[-1])
    checked = ispbill_check(env) if args.check else None
    # The rows there at the run's end, no more: the outbox's events written after it (in
    # the workers, before they stopped) are not part of the run's time, nor of its floor.
    written = {
        t: RunRows(bill["floors"][t], bill["ceilings"][t], bill["present"].get(t))
        for t, n in bill["rows"].items()
        if n
    }
    streams = max(1, args.celery) if not url.startswith("sqlite") else 1
    copy_seconds = copy_reference(written, streams=streams)
    copy_one = copy_seconds if streams == 1 else copy_reference(written, streams=1)
    rows_written = sum(bill["rows"].values())
    database = "sqlite" if url.startswith("sqlite") else "postgresql"
    result: dict[str, Any] = {
        "data": args.data,
        "customers": populated["customers"],
        "services": populated["services"],
        "populated": populated,
        "database": database,
        "mode": f"celery x{args.celery}" if args.celery else "in-process",
        "settings": {
            "RENDER_PDFS_ON_ISSUE": "true (default)" if args.e2e else "false",
            "EMAIL_INVOICES_ON_ISSUE": "true (default)" if args.e2e else "false",
            "BILLING_CHUNK_SIZE": os.environ.get("BILLING_CHUNK_SIZE", "1000 (default)"),
        },
        "machine": f"{os.cpu_count()} cores",
        "postgresql_settings": postgres_settings(),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "billing_seconds": bill["seconds"],
        "customers_per_second": round(populated["customers"] / bill["seconds"]),
        "rows_per_second": round(rows_written / bill["seconds"]),
        "peak_rss_mb": bill["peak_rss_mb"],
        "peak_rss_mb_per_process": rss,
        # With --e2e: until every PDF and e-mail is out. The SMTP server's is the benchmark's.
        "cpu_seconds_per_process": cpu,
        "invoices": bill["invoices"],
        "rows_written": bill["rows"],
        "rows_written_total": rows_written,
        "wal_mb": round(bill["wal_bytes"] / 1e6, 1) if bill.get("wal_bytes") else None,
        "events_expand_seconds": bill.get("events_expand_seconds"),
        "baseline": "COPY" if database == "postgresql" else "executemany INSERT",
        "copy_streams": streams,
        "baseline_seconds_same_rows": round(copy_seconds, 2),
        "baseline_seconds_one_stream": round(copy_one, 2),
        "ratio_to_baseline": round(bill["seconds"] / copy_seconds, 2) if copy_seconds else None,
        "ratio_to_one_stream": round(bill["seconds"] / copy_one, 2) if copy_one else None,
        "outbox": outbox or "as shipped",
    }
    if checked is not None:
        result["ispbill_check"] = checked
    if args.e2e:
        docs = bill["documents"]
        docs["smtp_server"] = args.smtp_server
        docs["smtp_messages"] = sink.messages if sink else 0
        docs["smtp_mb"] = round(sink.bytes / 1e6, 1) if sink and sink.bytes is not None else None
        if getattr(sink, "cpu", None) is not None:  # smtp-sink: a process of its own
            result["cpu_seconds_per_process"]["smtp-sink"] = round(sink.cpu, 1)
        out_seconds = docs["all_out_seconds"]
        docs["invoices_per_second_all_out"] = round(bill["invoices"] / out_seconds, 1)
        workers = max(1, args.celery)
        docs["invoices_per_second_per_worker"] = round(bill["invoices"] / out_seconds / workers, 1)
        result["end_to_end"] = docs
    return result


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
                "events_expand_seconds": one.get("events_expand_seconds"),
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
        "endpoint, so each event also gets a delivery row; on PostgreSQL a run records its "
        "invoice events as one batch per chunk, made into events and deliveries after the "
        "run (events_expand_seconds, timed apart)",
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
E2E_KEY = "all_out_seconds"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument(
        "--phase",
        choices=["all", "bill", "populate"],
        default="all",
        help="populate: with --keep-data, only write and keep the data set (for a later "
        "measured run on a quiet machine)",
    )
    parser.add_argument(
        "--celery",
        type=int,
        default=0,
        help="fan the run out to this many Celery worker processes (Redis broker)",
    )
    parser.add_argument(
        "--data",
        choices=["simple", "realistic"],
        default="simple",
        help="simple (5 tariffs, the issue 9 shape) or realistic (bench/realistic.py)",
    )
    parser.add_argument("--seed", type=int, default=25, help="the realistic data set's seed")
    parser.add_argument(
        "--e2e",
        action="store_true",
        help="end to end as configured by default: PDFs rendered and stored on issue, every "
        "invoice e-mailed to a local SMTP server (needs --celery)",
    )
    parser.add_argument(
        "--smtp-server",
        choices=["aiosmtpd", "smtp-sink"],
        default="aiosmtpd",
        help="with --e2e, the local SMTP server: aiosmtpd in the benchmark's process, or "
        "Postfix's smtp-sink (C, a process of its own; Debian package postfix)",
    )
    parser.add_argument("--check", action="store_true", help="time `ispbill check` after the run")
    parser.add_argument(
        "--keep-data",
        action="store_true",
        help="PostgreSQL: keep the written data set in a database of its own and copy it in "
        "later rounds and runs with the same --customers, --data and --seed (the kept "
        "database is named after them; drop it to write the set anew)",
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
    if args.e2e and not args.celery:
        print("--e2e needs --celery N (the PDFs and e-mails are Celery tasks)")
        return 2
    if args.repeat < 1:
        print("--repeat must be at least 1")
        return 2
    setup_django()
    if args.phase == "populate":
        if not args.keep_data:
            print("--phase populate needs --keep-data")
            return 2
        populated = data_populate(args, url)
        print(f"kept: {populated}")
        return 0
    if args.outbox_compare:
        return outbox_compare(args, url)
    rounds = []
    for n in range(1, args.repeat + 1):
        one = measure(args, url)
        if one is None:
            return 1
        rounds.append(one)
        figures = [f"{key} {one[key]}" for key in MEDIAN_KEYS]
        if "end_to_end" in one:
            figures.append(f"{E2E_KEY} {one['end_to_end'][E2E_KEY]}")
        print(" ".join([f"round {n}:", *figures]), flush=True)
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
        if "end_to_end" in result:
            for r, out in zip(rounds, result["rounds"], strict=True):
                out[E2E_KEY] = r["end_to_end"][E2E_KEY]
            result["end_to_end"][E2E_KEY] = round(
                statistics.median(r["end_to_end"][E2E_KEY] for r in rounds), 2
            )
    print(json.dumps(result, indent=2))
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    suffix = f"-{args.data}" if args.data != "simple" else ""
    suffix += f"-celery{args.celery}" if args.celery else ""
    suffix += "-e2e" if args.e2e else ""
    suffix += "-sqlite" if result["database"] == "sqlite" else ""
    name = f"billing-{result['customers']}{suffix}.json"
    (results / name).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
