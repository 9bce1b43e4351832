"""The ``ispbill`` console command."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ispbill.settings")
    import django

    django.setup()


def cmd_migrate(args: argparse.Namespace) -> int:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1 if args.verbose else 0)
    print("Database is up to date.")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ispbill.demo import DEMO_PASSWORD, demo_load

    result = demo_load()
    if result.created:
        print(
            f"Demo data loaded: {result.partners} partners, {result.customers} customers, "
            f"{result.services} services."
        )
    else:
        print("Demo data is already present; nothing was added.")
    print(f"Users (password for all: {DEMO_PASSWORD}):")
    for username, what in result.users:
        print(f"  {username:<12} {what}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from ispbill.core.invariants import invariants_check

    names, breaches = invariants_check()
    for breach in breaches:
        print(f"BREACH {breach}")
    if breaches:
        print(f"{len(breaches)} breach(es) found in {len(names)} checks.", file=sys.stderr)
        return 1
    print(f"All {len(names)} checks passed: " + ", ".join(names))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from django.conf import settings
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or "gunicorn"
    print(f"ispbill is serving at http://{args.host}:{args.port}/ (Ctrl+C stops it)")
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        print(f"Database: {settings.DATABASES['default']['NAME']}")
    argv = [
        gunicorn,
        "ispbill.wsgi:application",
        "--bind",
        f"{args.host}:{args.port}",
        "--workers",
        str(args.workers),
        "--access-logfile",
        "-",
    ]
    sys.stdout.flush()
    os.execv(gunicorn, argv)  # noqa: S606 - replaces this process with the server
    return 0  # pragma: no cover


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ispbill", description="Billing for ISPs with resellers")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("migrate", help="create or update the database schema")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("demo", help="load demo data (idempotent)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("check", help="verify the ledger and document invariants")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("serve", help="serve the web UI and API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=2)
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup()
    from django.db import DatabaseError

    try:
        return int(args.func(args))
    except DatabaseError as exc:
        print(f"error: the database refused the operation: {exc}", file=sys.stderr)
        print("hint: run 'ispbill migrate' first, and check DATABASE_URL.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
