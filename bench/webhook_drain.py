"""Webhook drain rate: how fast pending deliveries are sent to a receiver on 127.0.0.1
(docs/webhooks.md, "Scale").

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ispbill_bench \\
        .venv/bin/python bench/webhook_drain.py --events 5000 --senders 1 2

A new database (the one named in DATABASE_URL is dropped and recreated) gets one operator
endpoint and ``--events`` ``invoice.issued`` events written by ``events_write`` (as a
billing run writes them: one insert of events, one of deliveries). A receiver in its own
process (a threaded HTTP server that verifies nothing and answers 200) takes them, and
``--senders`` processes call ``deliveries_send_due`` in a loop, as Celery workers do,
until nothing is pending. For each number of senders: deliveries per second from the first
call to the last delivery. ``--objects`` spreads the events over that many objects (events
of one object are sent in order, one at a time); default: one object per event.

Prints the figures and saves them to bench/results/webhook-drain.json."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ispbill.settings")

from bench.billing_run import recreate_database, setup_django  # noqa: E402


def serve(port_out: Any, counter: Any) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with counter.get_lock():
                counter.value += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_out.value = server.server_address[1]
    server.serve_forever()


def sender(limit: int) -> None:
    """One sender process: send what is due until nothing is pending."""
    setup_django()
    from django.db import connections

    connections.close_all()
    from ispbill.core.tenancy import system_scope
    from ispbill.events.models import Delivery, DeliveryStatus
    from ispbill.events.services import deliveries_send_due

    with system_scope():
        while True:
            stats = deliveries_send_due(limit=limit)
            if stats.attempted == 0:
                if not Delivery._base_manager.filter(status=DeliveryStatus.PENDING).exists():
                    return
                time.sleep(0.01)  # the rest is locked by another sender


def prepare(url: str, events: int, objects: int, receiver_url: str) -> None:
    from django.core.management import call_command
    from django.db import connections, transaction

    connections.close_all()
    recreate_database(url)
    call_command("migrate", verbosity=0)
    from ispbill.core.tenancy import system_scope
    from ispbill.events import services
    from ispbill.events.services import NewEvent, endpoint_create, events_write

    services._send_soon = lambda: None  # type: ignore[assignment]  # the senders send
    with system_scope(), transaction.atomic():
        endpoint_create(partner_id=None, url=receiver_url)
        payload = {
            "invoice_id": 0,
            "number": "RE-2026-0000001",
            "kind": "regular",
            "customer_id": 0,
            "issuer_id": 1,
            "billing_run_id": 1,
            "issue_date": "2026-04-05",
            "due_date": "2026-04-19",
            "net": {"amount": "29.90", "currency": "EUR"},
            "tax": {"amount": "5.68", "currency": "EUR"},
            "total": {"amount": "35.58", "currency": "EUR"},
        }
        events_write(
            NewEvent("invoice.issued", None, "invoice", i % objects, dict(payload, invoice_id=i))
            for i in range(events)
        )
    connections.close_all()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--objects", type=int, default=0, help="default: one per event")
    parser.add_argument("--senders", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--limit", type=int, default=200, help="per deliveries_send_due call")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        print("Set DATABASE_URL to a PostgreSQL database (it is dropped and recreated).")
        return 2
    objects = args.objects or args.events
    setup_django()
    port = multiprocessing.Value("i", 0)
    counter = multiprocessing.Value("l", 0)
    server = multiprocessing.Process(target=serve, args=(port, counter), daemon=True)
    server.start()
    while not port.value:
        time.sleep(0.01)
    receiver_url = f"http://127.0.0.1:{port.value}/hook"
    runs = []
    try:
        for n in args.senders:
            prepare(url, args.events, objects, receiver_url)
            with counter.get_lock():
                counter.value = 0
            t0 = time.monotonic()
            procs = [multiprocessing.Process(target=sender, args=(args.limit,)) for _ in range(n)]
            for p in procs:
                p.start()
            for p in procs:
                p.join()
            seconds = time.monotonic() - t0
            from django.db import connections

            connections.close_all()
            from ispbill.core.tenancy import system_scope
            from ispbill.events.models import Delivery, DeliveryStatus

            with system_scope():
                delivered = Delivery._base_manager.filter(status=DeliveryStatus.SUCCEEDED).count()
            one = {
                "senders": n,
                "events": args.events,
                "objects": objects,
                "delivered": delivered,
                "received": counter.value,
                "seconds": round(seconds, 2),
                "deliveries_per_second": round(delivered / seconds, 1),
            }
            runs.append(one)
            print(json.dumps(one))
            if delivered != args.events or counter.value != args.events:
                print("not every event was delivered exactly once")
                return 1
    finally:
        server.terminate()
    result = {
        "database": "postgresql",
        "machine": f"{os.cpu_count()} cores",
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "receiver": "ThreadingHTTPServer on 127.0.0.1, own process, answers 200",
        "runs": runs,
    }
    print(json.dumps(result, indent=2))
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "webhook-drain.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
