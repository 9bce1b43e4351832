"""Read benchmark: listing invoices through the API with 1,000,000 invoices in PostgreSQL.

    .venv/bin/python bench/read_api.py              # create ispbill_readbench, then measure
    .venv/bin/python bench/read_api.py --reuse      # keep the data set (migrations applied)
    .venv/bin/python bench/read_api.py --reuse --explain   # query plans, no load

The data set: partners of every mode (direct home partner, percentage, own-invoicing,
aggregated), about 120,000 customers and 1,000,000 issued invoices over the last twelve
billing months (monthly recurring invoices of direct, percentage and own-invoicing customers,
aggregated invoices to the aggregated partners' accounts, wholesale invoices to the
own-invoicing partners' accounts), written with COPY, then VACUUM ANALYZE. Numbers follow
each issuer's pattern and sequence; payment status, amounts and snapshots are as the
billing run and payments leave them.

The real server (gunicorn, 2 workers on 127.0.0.1, DEBUG off) is driven by locust in
headless mode for a bounded time per scenario:

- operator: one partner's invoices, filtered by status, sorted by issue date (newest first);
- partner: a partner admin's own invoices (scoped; a percentage, an own-invoicing and an
  aggregated partner's admin), with and without a status filter;
- customer: one customer's invoices (``customer_id=``), as the operator and as the
  customer's partner admin list them.

Prints requests/s, median, p95 and p99 per scenario beside the target (p95 < 50 ms) and
saves them to bench/results/read-api.json. The database is dropped and recreated unless
``--reuse`` is given. When locust imports this file (``READBENCH_SCENARIO`` set), it only
defines the load's user class."""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ispbill_readbench"
TARGET_P95_MS = 50.0
TARGET_INVOICES = 1_000_000
MONTHS = 12
VAT_BP = 1900


# -- the load (imported by locust) -------------------------------------------------------------

if os.environ.get("READBENCH_SCENARIO"):
    from locust import FastHttpUser, constant, task

    _PLAN = json.loads(Path(os.environ["READBENCH_PLAN"]).read_text())
    _SCENARIO = os.environ["READBENCH_SCENARIO"]

    class InvoiceListUser(FastHttpUser):
        """One scenario's requests, back to back (no think time)."""

        wait_time = constant(0)

        def on_start(self) -> None:
            self.rng = random.Random()

        @task
        def list_invoices(self) -> None:
            token, query = self.rng.choice(_PLAN[_SCENARIO])
            with self.client.get(
                "/api/v1/invoices?" + query,
                headers={"Authorization": f"Bearer {token}"},
                name=f"invoices [{_SCENARIO}]",
                catch_response=True,
            ) as response:
                if response.status_code != 200:
                    response.failure(f"HTTP {response.status_code}")
                elif b'"items": []' in response.content or b'"items":[]' in response.content:
                    response.failure("empty page")


# -- the data set ------------------------------------------------------------------------------


def _db_admin(url: str) -> tuple[str, str]:
    base, name = url.rsplit("/", 1)
    return base + "/postgres", name


def recreate_database(url: str) -> None:
    import psycopg

    admin, name = _db_admin(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_exists(url: str) -> bool:
    import psycopg

    admin, name = _db_admin(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        return bool(conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone())


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ispbill.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def billing_months(today: date) -> list[date]:
    """The first days of the last MONTHS months, oldest first (this month included)."""
    months = []
    year, month = today.year, today.month
    for _ in range(MONTHS):
        months.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def _payment_state(
    key: int, age: int, total: int, issue: date
) -> tuple[str, int, int, date | None]:
    """(status, allocated, credited, paid_at) as payments and credit notes leave them:
    the current month mostly open, older months mostly paid, a few credited or in arrears."""
    draw = (key * 2654435761) % 1000
    open_share = {0: 700, 1: 120}.get(age, 15)
    if draw < open_share:
        return "unpaid", 0, 0, None
    if draw < open_share + 25:
        half = total // 2
        return "partially_paid", half, 0, None
    if draw < open_share + 35:
        return "credited", 0, total, None
    return "paid", total, 0, issue + timedelta(days=3 + draw % 12)


def populate(customers_total: int) -> dict[str, object]:
    """Partners, customers and invoices (COPY), number sequences; returns the ids the load
    uses."""
    from billing_run import CUSTOMER_COLUMNS, copy_rows
    from django.db import connection
    from psycopg.types.json import Jsonb

    from ispbill.core.numbering import render_number, sequence_period_key
    from ispbill.core.tenancy import system_scope
    from ispbill.customers.models import CUSTOMER_ROW_FIELDS, Customer, CustomerRow
    from ispbill.invoicing.models import NumberSequence
    from ispbill.invoicing.snapshots import customer_snapshot, issuer_snapshot
    from ispbill.partners.models import Partner

    t0 = time.monotonic()
    with system_scope():
        home = Partner.objects.get(is_home=True)
        home.legal_name = "Main Fiber GmbH"
        home.street, home.postcode, home.city = "Hafenstrasse 1", "20457", "Hamburg"
        home.vat_id, home.email = "DE123456789", "billing@main.example"
        home.iban, home.bic = "DE89370400440532013000", "COBADEFF"
        home.save()
        partners: list[Partner] = [home]
        for i in range(3):
            partners.append(
                Partner.objects.create(
                    name=f"Percent {i + 1}", mode="percentage", commission_bp=1000 + 250 * i
                )
            )
        for i in range(3):
            partners.append(
                Partner.objects.create(
                    name=f"Own {i + 1}",
                    legal_name=f"Own Net {i + 1} GmbH",
                    mode="own_invoicing",
                    billing_day=5,
                    invoice_number_pattern=f"O{i + 1}-{{year}}-{{next|7}}",
                    street=f"Ringstrasse {i + 1}",
                    postcode="10115",
                    city="Berlin",
                    vat_id=f"DE98765432{i}",
                    email=f"billing@own{i + 1}.example",
                )
            )
        for i in range(2):
            partners.append(
                Partner.objects.create(
                    name=f"Aggregated {i + 1}",
                    mode="aggregated",
                    aggregation_day=1,
                    aggregation_cycle=1,
                    discount_bp=2000,
                )
            )
        for p in partners[1:]:
            p.account = Customer.objects.create(
                partner=home, reference=f"P{p.pk}", name=p.name, email=f"partner{p.pk}@example"
            )
            p.save()
    # Customers: a third the home partner's, the rest spread over the resellers.
    weights = [36, 10, 10, 10, 8, 8, 8, 5, 5]
    owners = [p for p, w in zip(partners, weights, strict=True) for _ in range(w)]
    street_names = ["Hauptstrasse", "Bahnhofstrasse", "Gartenweg", "Schulstrasse", "Lindenallee"]
    cities = [("20457", "Hamburg"), ("10115", "Berlin"), ("80331", "München"), ("50667", "Köln")]
    with connection.cursor() as cur:
        columns = CUSTOMER_COLUMNS

        def customer_rows():  # type: ignore[no-untyped-def]
            for i in range(customers_total):
                postcode, city = cities[i % len(cities)]
                yield (
                    owners[i % len(owners)].pk,
                    f"K{i:07d}",
                    f"Customer {i}",
                    f"Company {i} GmbH" if i % 9 == 0 else "",
                    f"customer{i}@example.net",
                    f"+49 40 {i:07d}",
                    f"{street_names[i % len(street_names)]} {1 + i % 120}",
                    postcode,
                    city,
                    "DE",
                    f"DE{100000000 + i}" if i % 9 == 0 else "",
                    "de" if i % 3 else "en",
                    "active",
                    "2025-01-01T00:00:00Z",
                    "",
                )

        copy_rows(cur, "customers_customer", columns, customer_rows())
    with system_scope():
        customers = [
            CustomerRow(*values)
            for values in Customer.objects.order_by("pk").values_list(*CUSTOMER_ROW_FIELDS)
        ]
    customers_seconds = time.monotonic() - t0

    by_id = {p.pk: p for p in partners}
    accounts = {p.account_id: p for p in partners[1:]}
    # Who invoices whom: the home partner its own and the percentage partners' customers,
    # an own-invoicing partner its customers; aggregated sub-customers get no invoice.
    billed = []
    for row in customers:
        cid, pid = row.pk, row.partner_id
        if cid in accounts:
            continue
        mode = by_id[pid].mode
        if mode == "aggregated":
            continue
        issuer = by_id[pid] if mode == "own_invoicing" else home
        billed.append((row, issuer))
    months = billing_months(date.today())
    n_accounts = sum(1 for p in partners if p.mode in ("aggregated", "own_invoicing"))
    # Start months: a growing ISP; the first months are trimmed to land on the target.
    start = [i % 6 for i in range(len(billed))]
    excess = sum(MONTHS - s for s in start) + n_accounts * MONTHS - TARGET_INVOICES
    if excess < 0:
        raise SystemExit(f"{customers_total} customers are too few for {TARGET_INVOICES}")
    i = 0
    while excess > 0:
        if start[i % len(start)] < MONTHS - 1:
            start[i % len(start)] += 1
            excess -= 1
        i += 1

    # The billed customers' and the partners' accounts' snapshots, as invoices_issue takes them.
    snapshots = {row.pk: Jsonb(customer_snapshot(row)) for row in customers}
    issuer_snaps = {p.pk: Jsonb(issuer_snapshot(p)) for p in partners}
    counters: dict[tuple[int, str], int] = {}
    home_prices = [2990, 3990, 6990, 4990]
    own_prices = [3450, 4450, 5450]

    def number(issuer: Partner, issue: date, customer_id: int) -> str:
        pattern = issuer.invoice_number_pattern
        key = (issuer.pk, sequence_period_key(pattern, issue))
        value = counters.get(key, 1)
        counters[key] = value + 1
        return render_number(
            pattern,
            issue_date=issue,
            partner_id=issuer.pk,
            customer_id=customer_id,
            next_value=value,
        )

    def invoice_rows():  # type: ignore[no-untyped-def]
        seq = 0
        for m, month in enumerate(months):
            age = MONTHS - 1 - m
            for idx, (row, issuer) in enumerate(billed):
                if start[idx] > m:
                    continue
                cid, pid = row.pk, row.partner_id
                own = issuer.pk != home.pk
                billing_date = month.replace(day=5) if own else month
                prices = own_prices if own else home_prices
                net = prices[cid % len(prices)] + (500 if cid % 10 < 3 else 0)
                seq += 1
                yield _invoice_row(
                    seq=seq,
                    partner_id=pid,
                    issuer=issuer,
                    customer_id=cid,
                    kind="recurring",
                    number=number(issuer, billing_date, cid),
                    billing_date=billing_date,
                    net=net,
                    age=age,
                    issuer_snapshot=issuer_snaps[issuer.pk],
                    customer_snapshot=snapshots[cid],
                )
            # The operator's invoices to the resellers' accounts, one per month each.
            for acc_id, p in accounts.items():
                if p.mode not in ("aggregated", "own_invoicing"):
                    continue
                kind = "aggregated" if p.mode == "aggregated" else "wholesale"
                seq += 1
                yield _invoice_row(
                    seq=seq,
                    partner_id=home.pk,
                    issuer=home,
                    customer_id=acc_id,
                    kind=kind,
                    number=number(home, month, acc_id),
                    billing_date=month,
                    net=2392 * (5000 + 700 * p.pk) // 10,
                    age=age,
                    issuer_snapshot=issuer_snaps[home.pk],
                    customer_snapshot=snapshots[acc_id],
                )

    t1 = time.monotonic()
    with connection.cursor() as cur:
        n_invoices = copy_rows(cur, "invoicing_invoice", INVOICE_COLUMNS, invoice_rows())
    invoices_seconds = time.monotonic() - t1
    with system_scope():
        NumberSequence.objects.bulk_create(
            [
                NumberSequence(
                    issuer_id=issuer_id, doc_type="invoice", period_key=key, next_value=value
                )
                for (issuer_id, key), value in counters.items()
            ]
        )
    t2 = time.monotonic()
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    analyze_seconds = time.monotonic() - t2
    return {
        "partners": len(partners),
        "customers": len(customers),
        "invoices": n_invoices,
        "customers_copy_seconds": round(customers_seconds, 1),
        "invoices_copy_seconds": round(invoices_seconds, 1),
        "vacuum_analyze_seconds": round(analyze_seconds, 1),
    }


INVOICE_COLUMNS = [
    "partner_id",
    "issuer_id",
    "customer_id",
    "kind",
    "number",
    "billing_date",
    "issue_date",
    "due_date",
    "currency",
    "prices_include_tax",
    "net_minor",
    "tax_minor",
    "total_minor",
    "allocated_minor",
    "credited_minor",
    "status",
    "paid_at",
    "notes",
    "pdf",
    "issuer_snapshot",
    "customer_snapshot",
    "created_at",
]


def _invoice_row(  # type: ignore[no-untyped-def]
    *,
    seq: int,
    partner_id: int,
    issuer,
    customer_id: int,
    kind: str,
    number: str,
    billing_date: date,
    net: int,
    age: int,
    issuer_snapshot,
    customer_snapshot,
) -> tuple[object, ...]:
    tax = (net * VAT_BP + 5000) // 10000
    total = net + tax
    status, allocated, credited, paid_at = _payment_state(seq, age, total, billing_date)
    return (
        partner_id,
        issuer.pk,
        customer_id,
        kind,
        number,
        billing_date,
        billing_date,
        billing_date + timedelta(days=issuer.payment_due_days),
        issuer.currency,
        False,
        net,
        tax,
        total,
        allocated,
        credited,
        status,
        paid_at,
        "",
        "",
        issuer_snapshot,
        customer_snapshot,
        f"{billing_date.isoformat()}T03:00:00Z",
    )


# -- users, tokens and the requests of each scenario ------------------------------------------


def load_plan() -> dict[str, list[tuple[str, str]]]:
    """Tokens (made by the API token service) and the queries each scenario sends.

    Portal users have no API access to invoices (the API's roles: a portal token reaches
    its own tokens and ``/me``), so a customer's invoices are listed as the operator and the
    customer's partner admin list them: ``customer_id=...``, which is also the filter a
    portal scope applies."""
    from ispbill.accounts.models import User
    from ispbill.accounts.services import api_token_create, user_create
    from ispbill.core.tenancy import system_scope
    from ispbill.invoicing.models import Invoice
    from ispbill.partners.models import Partner

    def user(username: str, role: str, **kw: object) -> User:
        existing = User.objects.filter(username=username).first()
        return existing or user_create(username=username, role=role, **kw)

    def token(u: User) -> str:
        return api_token_create(user=u, name="read benchmark")[1]

    with system_scope():
        partners = list(Partner.objects.order_by("pk"))
        operator = token(user("bench-operator", "admin"))
        admins = {
            p.pk: token(user(f"bench-admin-{p.pk}", "partner_admin", partner=p))
            for p in partners
            if not p.is_home
        }
        admins[next(p.pk for p in partners if p.is_home)] = operator
        plan: dict[str, list[tuple[str, str]]] = {"operator": [], "partner": [], "customer": []}
        for p in partners:
            if p.mode == "aggregated":
                continue  # its customers are invoiced through its account
            for status in ("unpaid", "paid"):
                plan["operator"].append(
                    (operator, f"partner_id={p.pk}&status={status}&sort=-issue_date")
                )
        for mode in ("percentage", "own_invoicing", "aggregated"):
            p = next(x for x in partners if x.mode == mode)
            for status in ("", "&status=unpaid", "&status=paid"):
                plan["partner"].append((admins[p.pk], f"sort=-issue_date{status}"))
        rng = random.Random(7)
        last = Invoice.objects.order_by("-id").values_list("id", flat=True).first() or 0
        for invoice_id in rng.sample(range(1, last + 1), 40):
            inv = Invoice.objects.filter(pk__gte=invoice_id).order_by("pk").first()
            if inv is None:
                continue
            query = f"customer_id={inv.customer_id}&sort=-issue_date"
            plan["customer"].append((operator, query))
            plan["customer"].append((admins[inv.partner_id], query))
    return plan


# -- the server and the load -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(url: str) -> dict[str, str]:
    sep = "&" if "?" in url else "?"
    return dict(
        os.environ,
        # Persistent connections, as docs/operations.md recommends for production.
        DATABASE_URL=f"{url}{sep}conn_max_age=600",
        DEBUG="false",
        SECRET_KEY="read-benchmark-secret-key-not-for-production-use",
        DJANGO_SETTINGS_MODULE="ispbill.settings",
    )


def start_server(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    server = subprocess.Popen(
        [
            gunicorn,
            "ispbill.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=server_env(url),
    )
    return server


def wait_ready(port: int, token: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/me", headers={"Authorization": f"Bearer {token}"}
            )
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the server did not answer within 60 s")


def warm_up(port: int, queries: list[tuple[str, str]]) -> None:
    for token, query in queries * 3:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/invoices?{query}",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()


def run_load(
    scenario: str, port: int, plan_file: Path, users: int, seconds: int
) -> dict[str, object]:
    locust = str(Path(sys.executable).parent / "locust")
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "stats"
        out = subprocess.run(
            [
                locust,
                "-f",
                __file__,
                "--headless",
                "--users",
                str(users),
                "--spawn-rate",
                str(users),
                "--run-time",
                f"{seconds}s",
                "--host",
                f"http://127.0.0.1:{port}",
                "--csv",
                str(prefix),
                "--only-summary",
                "--loglevel",
                "WARNING",
                "--stop-timeout",
                "5",
            ],
            env=dict(os.environ, READBENCH_SCENARIO=scenario, READBENCH_PLAN=str(plan_file)),
            cwd=ROOT,
            check=False,
            capture_output=True,
            text=True,
        )
        stats = Path(f"{prefix}_stats.csv")
        if not stats.exists():
            raise SystemExit(f"locust wrote no statistics:\n{out.stderr[-3000:]}")
        with stats.open(newline="") as f:
            rows = {r["Name"]: r for r in csv.DictReader(f)}
    row = rows["Aggregated"]
    return {
        "users": users,
        "seconds": seconds,
        "requests": int(row["Request Count"]),
        "failures": int(row["Failure Count"]),
        "requests_per_s": round(float(row["Requests/s"]), 1),
        "median_ms": float(row["50%"]),
        "p95_ms": float(row["95%"]),
        "p99_ms": float(row["99%"]),
        "max_ms": round(float(row["Max Response Time"]), 1),
        "target_p95_ms": TARGET_P95_MS,
        "meets_target": float(row["95%"]) < TARGET_P95_MS,
    }


# -- query plans -------------------------------------------------------------------------------


def explain(plan: dict[str, list[tuple[str, str]]]) -> None:
    """EXPLAIN ANALYZE every query the list endpoint sends for one request per scenario."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    for scenario, queries in plan.items():
        for token, query in queries[:6]:
            with CaptureQueriesContext(connection) as captured:
                response = client.get(
                    f"/api/v1/invoices?{query}", headers={"Authorization": f"Bearer {token}"}
                )
            print(f"== {scenario}: {query} -> {response.status_code}, {len(captured)} queries")
            for q in captured.captured_queries:
                sql = q["sql"]
                if "invoicing_invoice" not in sql:
                    continue
                with connection.cursor() as cur:
                    cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                    print(sql[:300])
                    print("\n".join("   " + r[0] for r in cur.fetchall()))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reuse", action="store_true", help="keep the data set if present")
    parser.add_argument("--customers", type=int, default=120_000)
    parser.add_argument("--seconds", type=int, default=25, help="load time per scenario")
    parser.add_argument("--users", type=int, default=4, help="concurrent users per scenario")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--explain", action="store_true", help="print query plans, no load")
    args = parser.parse_args()
    url = os.environ.get("READBENCH_DATABASE_URL", DEFAULT_URL)
    populated: dict[str, object] | None = None
    fresh = not (args.reuse and database_exists(url))
    if fresh:
        recreate_database(url)
    setup_django(url)
    from django.core.management import call_command
    from django.db import connection

    t0 = time.monotonic()
    call_command("migrate", verbosity=0)
    migrate_seconds = time.monotonic() - t0
    if fresh:
        populated = populate(args.customers)
        print(f"populated: {json.dumps(populated)}")
    else:
        with connection.cursor() as cur:
            cur.execute("ANALYZE invoicing_invoice")
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM invoicing_invoice")
        n_invoices = cur.fetchone()[0]
    print(f"invoices: {n_invoices:,} (migrate {migrate_seconds:.1f} s)")
    plan = load_plan()
    if args.explain:
        explain(plan)
        return 0
    connection.close()

    port = free_port()
    server = start_server(url, port, args.workers)
    results: dict[str, object] = {}
    try:
        wait_ready(port, plan["operator"][0][0])
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(plan, f)
            plan_file = Path(f.name)
        for scenario in ("operator", "partner", "customer"):
            warm_up(port, plan[scenario])
            load = os.getloadavg()[0]
            figures = run_load(scenario, port, plan_file, args.users, args.seconds)
            figures["load_average_before"] = round(load, 2)
            results[scenario] = figures
            mark = "meets" if figures["meets_target"] else "MISSES"
            print(
                f"{scenario:9s} {figures['requests_per_s']:7.1f} req/s  "
                f"median {figures['median_ms']:5.0f} ms  p95 {figures['p95_ms']:5.0f} ms "
                f"(target < {TARGET_P95_MS:.0f} ms: {mark})  p99 {figures['p99_ms']:5.0f} ms  "
                f"failures {figures['failures']}"
            )
        plan_file.unlink()
    finally:
        server.terminate()
        server.wait(timeout=30)
    out = {
        "invoices": n_invoices,
        "server": f"gunicorn, {args.workers} sync workers, 127.0.0.1, DEBUG off",
        "load_tool": f"locust (headless), {args.users} users per scenario, no think time",
        "machine": "2 cores, 24 GiB, PostgreSQL 15 on loopback",
        "measured_on": date.today().isoformat(),
        "populated": populated,
        "scenarios": results,
    }
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(exist_ok=True)
    saved = results_dir / "read-api.json"
    if populated is None and saved.exists():  # a reused data set: keep how it was written
        out["populated"] = json.loads(saved.read_text()).get("populated")
    saved.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
