"""Usage benchmark: one day of FreeRADIUS accounting for N internet services counted into
per-day usage (``ispbill usage-collect``), beside a COPY of the same radacct rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ispbill_bench \\
        .venv/bin/python bench/usage.py --services 100000 [--repeat 3]

Prints the figures and saves them to bench/results/usage-N.json (docs/performance.md,
docs/usage.md). The database named in DATABASE_URL is dropped and recreated.

The day's accounting, seeded and fixed (radacct holds one row per session, which FreeRADIUS
updates at each Interim-Update and at the Stop):

- 60 % of the services have one long session that started days ago and is still up: its
  last Interim-Update at 23:55; the collection of the evening before already counted its
  totals up to then (a watermark), so only the day's delta is new.
- 20 % had a session started the day before that stopped during the day (across midnight,
  watermark of the evening before), and a new session since, still up.
- 15 % had two short sessions that started and stopped during the day, and one still up.
- 5 % were offline all day (no rows).

Traffic per service and day is heavy-tailed (median about 1 GB, one in fifty over 20 GB),
downloads about 8× uploads; the long sessions' totals pass 4 GiB (Gigawords), stored as
FreeRADIUS's default queries store them (the full 64-bit totals). Half the services have a
tariff with an included volume and throttle; one service in 200 reaches it on this day
(its credential is capped: the RADIUS rows are rewritten; no NAS answers CoA here)."""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ispbill.settings")

from billing_run import (  # noqa: E402 (after the path is set)
    CUSTOMER_COLUMNS,
    checkpoint,
    copy_rows,
    recreate_database,
    setup_django,
)

DAY = date(2026, 4, 14)
GB = 10**9
RADACCT_COLUMNS = [
    "acctsessionid",
    "acctuniqueid",
    "username",
    "realm",
    "nasipaddress",
    "nasportid",
    "nasporttype",
    "acctstarttime",
    "acctupdatetime",
    "acctstoptime",
    "acctinterval",
    "acctsessiontime",
    "acctauthentic",
    "connectinfo_start",
    "connectinfo_stop",
    "acctinputoctets",
    "acctoutputoctets",
    "calledstationid",
    "callingstationid",
    "acctterminatecause",
    "servicetype",
    "framedprotocol",
    "framedipaddress",
]


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def _day_bytes(rng: random.Random) -> int:
    """A day's traffic of one service: log-normal, median about 1 GB."""
    return int(min(rng.lognormvariate(20.7, 1.2), 80 * GB))


def sessions(n: int, seed: int = 22) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The radacct rows of the day, and the watermarks the collection of the evening before
    left (acctuniqueid, bytes in, bytes out)."""
    rng = random.Random(seed)
    rows: list[tuple[Any, ...]] = []
    marks: list[tuple[Any, ...]] = []
    yesterday = DAY - timedelta(days=1)

    def row(
        uid: str,
        user: str,
        start: datetime,
        update: datetime | None,
        stop: datetime | None,
        total_in: int,
        total_out: int,
        ip: str,
    ) -> None:
        last = stop or update or start
        rows.append(
            (
                uid,
                uid,
                user,
                "",
                f"10.0.{len(rows) % 4}.1",
                f"ether{rng.randint(1, 48)}",
                "Ethernet",
                start,
                update,
                stop,
                300,
                int((last - start).total_seconds()),
                "RADIUS",
                "",
                "",
                total_in,
                total_out,
                "bras",
                f"02:00:{rng.randint(0, 255):02x}:{rng.randint(0, 255):02x}:00:01",
                "User-Request" if stop else "",
                "Framed-User",
                "PPP",
                ip,
            )
        )

    for i in range(n):
        user = f"u{i:07d}"
        ip = f"100.{64 + i // 65536}.{(i // 256) % 256}.{i % 256}"
        shape = i % 20
        today = _day_bytes(rng)
        up_share = 1 / 9
        if shape < 12:  # one long session, up for days: only the day's delta is new
            before = _day_bytes(rng) * rng.randint(2, 9)  # Gigawords: past 4 GiB
            b_in, b_out = int(before * up_share), before - int(before * up_share)
            t_in, t_out = int(today * up_share), today - int(today * up_share)
            uid = f"L{i}"
            start = _at(DAY - timedelta(days=rng.randint(2, 9)), rng.randint(0, 23))
            row(uid, user, start, _at(DAY, 23, 55), None, b_in + t_in, b_out + t_out, ip)
            marks.append((uid, b_in, b_out))
        elif shape < 16:  # across midnight, stopped; then a new session still up
            before = _day_bytes(rng)
            b_in, b_out = int(before * up_share), before - int(before * up_share)
            part = today // 3
            p_in, p_out = int(part * up_share), part - int(part * up_share)
            uid = f"M{i}"
            start = _at(yesterday, rng.randint(12, 22))
            stop = _at(DAY, rng.randint(0, 8), rng.randint(0, 59))
            row(uid, user, start, stop, stop, b_in + p_in, b_out + p_out, ip)
            marks.append((uid, b_in, b_out))
            rest = today - part
            r_in = int(rest * up_share)
            row(
                f"N{i}",
                user,
                stop + timedelta(minutes=2),
                _at(DAY, 23, 55),
                None,
                r_in,
                rest - r_in,
                ip,
            )
        elif shape < 19:  # two short sessions during the day, one still up
            cut = [today // 4, today // 4, today - 2 * (today // 4)]
            hour = rng.randint(0, 5)
            for k, volume in enumerate(cut):
                v_in = int(volume * up_share)
                start = _at(DAY, hour + 6 * k, rng.randint(0, 30))
                stop = start + timedelta(hours=4) if k < 2 else None
                update = stop or _at(DAY, 23, 55)
                row(f"S{i}-{k}", user, start, update, stop, v_in, volume - v_in, ip)
        # shape 19: offline all day
    return rows, marks


def populate(n: int) -> dict[str, Any]:
    """Partners, tariffs, customers, services and credentials (COPY), the day's radacct rows
    and the evening before's watermarks."""
    from django.db import connection

    from ispbill.catalog.models import Tariff, TaxRate
    from ispbill.core.tenancy import system_scope
    from ispbill.customers.models import Customer
    from ispbill.partners.models import Partner

    with system_scope():
        home = Partner.objects.get(is_home=True)
        vat = TaxRate.objects.create(partner=home, name="VAT 19%", rate_bp=1900)
        capped = Tariff.objects.create(
            partner=home,
            name="Air 50, 20 GB",
            kind="internet",
            price_minor=2990,
            tax_rate=vat,
            download_kbps=50000,
            upload_kbps=10000,
            included_gb=20,
            cap_action="throttle",
            throttle_download_kbps=1000,
            throttle_upload_kbps=512,
            overage_price_minor=200,
        )
        flat = Tariff.objects.create(
            partner=home,
            name="Fiber 100",
            kind="internet",
            price_minor=3990,
            tax_rate=vat,
            download_kbps=100000,
            upload_kbps=20000,
        )
        agg = Partner.objects.create(
            name="Agg", mode="aggregated", aggregation_day=5, aggregation_cycle=1, discount_bp=2000
        )
        agg.account = Customer.objects.create(partner=home, reference="PAGG", name="Agg")
        agg.save()
    partners = [home.pk, agg.pk]
    t0 = time.monotonic()
    with connection.cursor() as cur:
        copy_rows(
            cur,
            "customers_customer",
            [*CUSTOMER_COLUMNS, "blocked_with_partner"],
            (
                (
                    partners[i % 2],
                    f"U{i:07d}",
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
                for i in range(n)
            ),
        )
        cur.execute(
            "SELECT id, partner_id FROM customers_customer WHERE reference LIKE %s ORDER BY id",
            ["U%"],
        )
        customers = cur.fetchall()
        copy_rows(
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
            (
                (
                    pid,
                    cid,
                    (capped if i % 2 else flat).pk,
                    "Internet",
                    1,
                    0,
                    "2026-01-01",
                    "active",
                    "2026-01-01T00:00:00Z",
                )
                for i, (cid, pid) in enumerate(customers)
            ),
        )
        cur.execute(
            "SELECT s.id, s.partner_id, c.reference FROM subscriptions_service s"
            " JOIN customers_customer c ON c.id = s.customer_id"
            " WHERE c.reference LIKE %s ORDER BY s.id",
            ["U%"],
        )
        copy_rows(
            cur,
            "radius_radiuscredential",
            [
                "partner_id",
                "service_id",
                "kind",
                "username",
                "password",
                "provisioned_username",
                "capped",
                "created_at",
            ],
            (
                (pid, sid, "pppoe", "u" + ref[1:], "pw", "u" + ref[1:], "", "2026-01-01T00:00:00Z")
                for sid, pid, ref in cur.fetchall()
            ),
        )
        rows, marks = sessions(n)
        copy_rows(cur, "radacct", RADACCT_COLUMNS, rows)
        copy_rows(cur, "radius_usagewatermark", ["acctuniqueid", "bytes_in", "bytes_out"], marks)
        cur.execute("ANALYZE")
    return {
        "services": len(customers),
        "radacct_rows": len(rows),
        "radacct_stopped": sum(1 for r in rows if r[9] is not None),
        "watermarks_before": len(marks),
        "populate_seconds": round(time.monotonic() - t0, 1),
    }


def copy_radacct() -> float:
    """The same radacct rows written again with binary COPY into a table of radacct's shape
    (its indexes included): the floor for handling that many accounting rows."""
    from django.db import connection

    checkpoint()
    with connection.cursor() as cur:
        raw = cur.cursor
        cur.execute("DROP TABLE IF EXISTS bench_radacct")
        cur.execute("CREATE TABLE bench_radacct (LIKE radacct INCLUDING ALL)")
        data = bytearray()
        with raw.copy("COPY radacct TO STDOUT (FORMAT BINARY)") as copy:
            for chunk in copy:
                data += chunk
        t0 = time.monotonic()
        with raw.copy("COPY bench_radacct FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(bytes(data))
        seconds = time.monotonic() - t0
        cur.execute("DROP TABLE bench_radacct")
    return seconds


_ORIGINALS: dict[str, Any] = {}


def _phases_timed(module: Any) -> dict[str, float]:
    """Time the collection's three steps (counting, caps, overage) inside ``usage_collect``:
    it calls them by their module names, so wrapping those names times each step."""
    spent: dict[str, float] = {}
    for name in ("_collect", "_caps", "usage_overage_charge"):
        inner = _ORIGINALS.setdefault(name, getattr(module, name))

        def timed(*a: Any, _inner: Any = inner, _name: str = name, **kw: Any) -> Any:
            t0 = time.monotonic()
            try:
                return _inner(*a, **kw)
            finally:
                spent[_name] = time.monotonic() - t0

        setattr(module, name, timed)
    return spent


def measure(n: int, url: str) -> dict[str, Any]:
    """One round: a new database, the day's accounting, the collection, then the COPY."""
    from django.core.management import call_command
    from django.db import connection, connections

    from ispbill.core.tenancy import system_scope
    from ispbill.radius import usage

    connections.close_all()
    recreate_database(url)
    call_command("migrate", verbosity=0)
    populated = populate(n)
    print(f"populated: {populated}", flush=True)
    checkpoint()
    now = _at(DAY + timedelta(days=1), 0, 30)
    phases = _phases_timed(usage)
    with system_scope():
        t0 = time.monotonic()
        result = usage.usage_collect(now=now)
        seconds = time.monotonic() - t0
        first = dict(phases)
        t0 = time.monotonic()
        again = usage.usage_collect(now=now)
        again_seconds = time.monotonic() - t0
    with connection.cursor() as cur:
        cur.execute("SELECT COUNT(*), COALESCE(SUM(bytes_in + bytes_out), 0) FROM radius_usageday")
        days, volume = cur.fetchone()
    assert again.sessions == 0, "a second read must count nothing"
    copy_seconds = copy_radacct()
    return {
        "services": populated["services"],
        "radacct_rows": populated["radacct_rows"],
        "radacct_stopped": populated["radacct_stopped"],
        "database": connection.vendor,
        "machine": f"{os.cpu_count()} cores",
        "collect_seconds": round(seconds, 2),
        "sessions_counted": result.sessions,
        "usage_days_written": int(days),
        "volume_tb": round(int(volume) / 1e12, 2),
        "capped": result.capped,
        "phases_seconds": {k: round(v, 2) for k, v in first.items()},
        "again_seconds": round(again_seconds, 2),
        "baseline": "COPY of the same radacct rows",
        "baseline_seconds_same_rows": round(copy_seconds, 2),
        "ratio_to_baseline": round(seconds / copy_seconds, 2) if copy_seconds else None,
    }


MEDIAN_KEYS = ("collect_seconds", "baseline_seconds_same_rows", "ratio_to_baseline")


def main() -> int:
    import logging

    # Capped services are told by CoA; no NAS answers here (each would log a warning).
    logging.getLogger("ispbill.radius.coa").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=100_000)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds (each from a new database, collection and COPY side by side); medians",
    )
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        print("Set DATABASE_URL to a PostgreSQL database (it is dropped and recreated).")
        return 2
    if args.repeat < 1:
        print("--repeat must be at least 1")
        return 2
    setup_django()
    rounds = []
    for n in range(1, args.repeat + 1):
        one = measure(args.services, url)
        rounds.append(one)
        print(" ".join([f"round {n}:", *(f"{k} {one[k]}" for k in MEDIAN_KEYS)]), flush=True)
    result = dict(rounds[0])
    if len(rounds) > 1:
        for key in MEDIAN_KEYS:
            result[key] = round(statistics.median(r[key] for r in rounds), 2)
        result["rounds"] = [{key: r[key] for key in MEDIAN_KEYS} for r in rounds]
    result["settings"] = "PostgreSQL default settings on loopback; shared machine (see docs)"
    print(json.dumps(result, indent=2))
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / f"usage-{result['services']}.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
