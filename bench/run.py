"""`make bench`: every benchmark, one after the other, then a summary of their figures.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ispbill_bench .venv/bin/python bench/run.py

Each benchmark prints its own figures and saves them under bench/results/; docs/performance.md
records them with the machine they were measured on. ``--quick`` runs the small sizes only."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"


def _pg_url(name: str) -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ispbill_bench")
    return base.rsplit("/", 1)[0] + "/" + name


def steps(quick: bool) -> list[tuple[str, list[str], dict[str, str]]]:
    py = sys.executable
    billing = str(BENCH / "billing_run.py")
    out: list[tuple[str, list[str], dict[str, str]]] = [
        ("billing, 10,000, SQLite", [py, billing, "--customers", "10000", "--sqlite"], {}),
        (
            "billing, 10,000, PostgreSQL",
            [py, billing, "--customers", "10000"],
            {"DATABASE_URL": _pg_url("ispbill_bench")},
        ),
    ]
    if not quick:
        out += [
            (
                "billing, 100,000, PostgreSQL",
                [py, billing, "--customers", "100000"],
                {"DATABASE_URL": _pg_url("ispbill_bench")},
            ),
            (
                "billing, 100,000, PostgreSQL, 2 Celery worker processes",
                [py, billing, "--customers", "100000", "--celery", "2", "--repeat", "3"],
                {"DATABASE_URL": _pg_url("ispbill_bench")},
            ),
        ]
    usage, services = str(BENCH / "usage.py"), 10_000 if quick else 100_000
    out.append(
        (
            f"usage collection, {services:,} services × 1 day of radacct, PostgreSQL",
            [py, usage, "--services", str(services)],
            {"DATABASE_URL": _pg_url("ispbill_bench")},
        )
    )
    out += [
        ("PDF rendering", [py, str(BENCH / "pdf.py"), "-n", "100" if quick else "300"], {}),
        ("customer import, 10,000", [py, str(BENCH / "bench_import.py")], {"DATABASE_URL": ""}),
    ]
    if not quick:
        out.append(
            (
                "API reads at 1,000,000 invoices",
                [py, str(BENCH / "read_api.py")],
                {"DATABASE_URL": _pg_url("ispbill_readbench")},
            )
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="the small sizes only")
    args = parser.parse_args()
    failed = []
    for title, argv, env in steps(args.quick):
        script = Path(argv[1])
        if not script.exists():
            print(f"== {title}: {script.name} is missing", flush=True)
            failed.append(title)
            continue
        print(f"== {title}", flush=True)
        full_env = dict(os.environ)
        for key, value in env.items():
            if value:
                full_env[key] = value
            else:
                full_env.pop(key, None)
        t0 = time.monotonic()
        rc = subprocess.call(argv, env=full_env, cwd=BENCH.parent)
        print(f"== {title}: exit {rc} after {time.monotonic() - t0:.0f} s", flush=True)
        if rc:
            failed.append(title)
    print("\nResults in bench/results/:")
    for path in sorted(RESULTS.glob("*.json")):
        data = json.loads(path.read_text())
        keys = [
            k
            for k in (
                "billing_seconds",
                "collect_seconds",
                "baseline_seconds_same_rows",
                "ratio_to_baseline",
                "peak_rss_mb",
                "invoices_per_second_per_core",
                "p95_ms",
            )
            if k in data
        ]
        print(f"  {path.name}: " + ", ".join(f"{k}={data[k]}" for k in keys))
    if failed:
        print("failed: " + "; ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
