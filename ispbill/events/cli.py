"""``ispbill webhooks-deliver``: send the webhook deliveries that are due (first attempts and
retries); for cron without a Celery beat (``ispbill scheduler`` also sends them every minute).

Django models are imported inside the commands: the parser is built before Django is set up."""

from __future__ import annotations

import argparse


def cmd_deliver(args: argparse.Namespace) -> int:
    from ispbill.core.tenancy import system_scope
    from ispbill.events.services import deliveries_send_due

    with system_scope():
        stats = deliveries_send_due(limit=args.limit)
    print(
        f"{stats.attempted} delivery attempt(s): {stats.succeeded} delivered, "
        f"{stats.failed} to retry, {stats.given_up} given up"
        + (f"; endpoint(s) disabled: {stats.disabled}" if stats.disabled else "")
    )
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("webhooks-deliver", help="send the webhook deliveries that are due")
    p.add_argument(
        "--limit", type=int, default=200, help="at most this many per endpoint (default 200)"
    )
    p.set_defaults(func=cmd_deliver)
