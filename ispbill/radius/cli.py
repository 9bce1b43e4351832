"""``ispbill radius-sync``: rebuild FreeRADIUS's tables from ispbill (imported by ispbill.cli
before Django is set up: nothing Django-bound at module level)."""

from __future__ import annotations

import argparse
from typing import Any


def cmd_radius_sync(args: argparse.Namespace) -> int:
    from django.core.management import call_command

    from ispbill.radius.routers import RADIUS_ALIAS, radius_separate
    from ispbill.radius.sync import radius_rebuild

    if radius_separate():
        # The separate RADIUS database gets FreeRADIUS's tables first (idempotent).
        call_command("migrate", "radius", database=RADIUS_ALIAS, interactive=False, verbosity=0)
    result = radius_rebuild()
    print(
        f"RADIUS tables rebuilt: {result.users} users, {result.rows} user rows, "
        f"{result.group_rows} group rows, {result.nas} NAS."
    )
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "radius-sync", help="rebuild FreeRADIUS's tables (radcheck, radreply, ...) from ispbill"
    )
    p.set_defaults(func=cmd_radius_sync)


def cmd_usage_collect(args: argparse.Namespace) -> int:
    from ispbill.core.tenancy import system_scope
    from ispbill.radius.usage import usage_collect

    with system_scope():
        r = usage_collect()
    print(
        f"Usage collected: {r.sessions} sessions counted, {r.capped} capped, "
        f"{r.restored} restored, {r.overage_charges} overage charges, "
        f"{r.rollovers} rollovers, {r.alerts} alert e-mails."
    )
    return 0


def add_usage_parser(sub: Any) -> None:
    p = sub.add_parser(
        "usage-collect",
        help="count traffic from radacct per service and day, roll over unused volume, apply "
        "caps, charge overage, send usage alerts",
    )
    p.set_defaults(func=cmd_usage_collect)
