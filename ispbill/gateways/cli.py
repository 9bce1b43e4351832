"""``ispbill autopay`` (charge due invoices with saved cards) and ``ispbill gateway-rekey``
(encrypt the stored gateway secrets under the newest key).

Django models are imported inside the commands: the parser is built before Django is set up."""

from __future__ import annotations

import argparse
from datetime import date


def cmd_autopay(args: argparse.Namespace) -> int:
    from django.utils import timezone

    from ispbill.gateways.services import autopay_run

    on = args.date or timezone.localdate()
    result = autopay_run(on=on, partner_ids=[args.partner] if args.partner else None)
    print(f"{on}: {len(result.paid)} invoice(s) paid by autopay, {len(result.failed)} failed.")
    return 0


def cmd_rekey(args: argparse.Namespace) -> int:
    from ispbill.core.tenancy import system_scope
    from ispbill.events.services import endpoint_secrets_rekey
    from ispbill.gateways.services import gateway_secrets_rekey

    print(f"{gateway_secrets_rekey()} issuer(s) re-encrypted under the newest key.")
    with system_scope():
        endpoints = endpoint_secrets_rekey()
    print(f"{endpoints} webhook endpoint secret(s) re-encrypted under the newest key.")
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("autopay", help="charge due invoices to saved cards (autopay)")
    p.add_argument("--date", type=date.fromisoformat, help="due up to this day (default today)")
    p.add_argument("--partner", type=int, help="only customers of this partner")
    p.set_defaults(func=cmd_autopay)
    p = sub.add_parser(
        "gateway-rekey",
        help="re-encrypt gateway and webhook secrets under GATEWAY_ENCRYPTION_KEYS' first",
    )
    p.set_defaults(func=cmd_rekey)
