"""A local stand-in for api.stripe.com on 127.0.0.1: answers the endpoints ispbill uses with
the example objects of Stripe's published API reference (github.com/stripe/openapi,
``openapi/fixtures3.json``, copied to fixtures/stripe_fixtures3.json), changing only fields
the example already has, and signs webhooks with Stripe's scheme: header ``Stripe-Signature:
t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" under the endpoint secret>``."""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

_ids = itertools.count(1)
FIXTURES = json.loads(
    (Path(__file__).parent / "fixtures" / "stripe_fixtures3.json").read_text(encoding="utf-8")
)


def stripe_object(kind: str, **fields: Any) -> dict[str, Any]:
    """Stripe's published example of ``kind`` with ``fields`` changed; a field the example
    does not have is a mistake of this fake, not something Stripe sends."""
    base = copy.deepcopy(FIXTURES[kind])
    unknown = set(fields) - set(base)
    assert not unknown, f"{kind} has no field(s) {sorted(unknown)} in Stripe's reference"
    base.update(fields)
    return base


def _id(prefix: str) -> str:
    return f"{prefix}_{next(_ids):08d}TESTxyz"


def form_decode(body: str) -> dict[str, Any]:
    """Stripe's form encoding (``a[b][0][c]=v``) back to nested dicts and lists."""
    out: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        node: Any = out
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt = None if last else parts[i + 1]
            container: Any = [] if (nxt is not None and nxt.isdigit()) else {}
            if isinstance(node, list):
                idx = int(part)
                while len(node) <= idx:
                    node.append(None)
                if last:
                    node[idx] = value
                else:
                    if node[idx] is None:
                        node[idx] = container
                    node = node[idx]
            else:
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, container)
    return out


class FakeStripe:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str, dict[str, Any]]] = []  # method, path, key, params
        self.sessions: dict[str, dict[str, Any]] = {}
        self.intents: dict[str, dict[str, Any]] = {}
        self.refunds: list[dict[str, Any]] = []
        self.decline_next = False
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeStripe:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- Stripe objects ----------------------------------------------------------------------

    def checkout_session(self, p: dict[str, Any]) -> dict[str, Any]:
        sid = _id("cs_test")
        amount = None
        if p.get("mode") == "payment":
            amount = sum(
                int(li["price_data"]["unit_amount"]) * int(li.get("quantity", 1))
                for li in p["line_items"]
            )
        obj = stripe_object(
            "checkout.session",
            id=sid,
            amount_subtotal=amount,
            amount_total=amount,
            cancel_url=p.get("cancel_url"),
            client_reference_id=p.get("client_reference_id"),
            created=int(time.time()),
            currency=p.get("currency")
            or (p["line_items"][0]["price_data"]["currency"] if p.get("line_items") else None),
            customer=p.get("customer"),
            customer_email=p.get("customer_email"),
            expires_at=int(time.time()) + 86400,
            livemode=False,
            metadata=p.get("metadata", {}),
            mode=p.get("mode"),
            payment_intent=None,
            payment_status="unpaid" if p.get("mode") == "payment" else "no_payment_required",
            setup_intent=None,
            status="open",
            success_url=p.get("success_url"),
            url=f"https://checkout.stripe.com/c/pay/{sid}#fidkdWxOYHwnPyd1blpxYHZxWjA0",
        )
        self.sessions[sid] = obj
        return obj

    def complete(self, sid: str) -> dict[str, Any]:
        """The customer paid (or saved a card) on the hosted page."""
        s = self.sessions[sid]
        s["status"] = "complete"
        if s["mode"] == "payment":
            pi = _id("pi")
            s["payment_intent"] = pi
            s["payment_status"] = "paid"
            self.intents[pi] = {"id": pi, "amount": s["amount_total"], "status": "succeeded"}
        else:
            s["setup_intent"] = _id("seti")
            s["payment_status"] = "no_payment_required"
        return s

    def event(self, type_: str, obj: dict[str, Any]) -> bytes:
        event = stripe_object(
            "event",
            id=_id("evt"),
            api_version="2025-03-31.basil",
            created=int(time.time()),
            data={"object": obj},
            livemode=False,
            pending_webhooks=1,
            request={"id": None, "idempotency_key": None},
            type=type_,
        )
        return json.dumps(event).encode()

    @staticmethod
    def sign(payload: bytes, secret: str, at: int | None = None) -> str:
        t = int(time.time()) if at is None else at
        mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
        return f"t={t},v1={mac}"

    def _answer(self, method: str, path: str, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "POST" and path == "/v1/checkout/sessions":
            return 200, self.checkout_session(p)
        if method == "POST" and path == "/v1/customers":
            return 200, stripe_object(
                "customer",
                id=_id("cus"),
                created=int(time.time()),
                email=p.get("email"),
                name=p.get("name"),
                livemode=False,
                metadata=p.get("metadata", {}),
            )
        if method == "GET" and path.startswith("/v1/setup_intents/"):
            seti = path.rsplit("/", 1)[1]
            card = copy.deepcopy(FIXTURES["payment_method"]["card"])
            card.update({"brand": "visa", "last4": "4242", "exp_month": 8, "exp_year": 2030})
            method = stripe_object("payment_method", id=_id("pm"), type="card", card=card)
            return 200, stripe_object(
                "setup_intent",
                id=seti,
                status="succeeded",
                usage="off_session",
                livemode=False,
                payment_method=method,
            )
        if method == "POST" and path == "/v1/payment_intents":
            pi = _id("pi")
            if self.decline_next:
                self.decline_next = False
                return 402, {
                    "error": {
                        "type": "card_error",
                        "code": "card_declined",
                        "decline_code": "insufficient_funds",
                        "message": "Your card has insufficient funds.",
                        "payment_intent": {
                            "id": pi,
                            "object": "payment_intent",
                            "status": "requires_payment_method",
                        },
                    }
                }
            obj = stripe_object(
                "payment_intent",
                id=pi,
                amount=int(p["amount"]),
                amount_received=int(p["amount"]),
                currency=p["currency"],
                customer=p.get("customer"),
                payment_method=p.get("payment_method"),
                status="succeeded",
                livemode=False,
                metadata=p.get("metadata", {}),
            )
            self.intents[pi] = obj
            return 200, obj
        if method == "POST" and path == "/v1/refunds":
            pi = p.get("payment_intent", "")
            if pi not in self.intents:
                return 404, {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "resource_missing",
                        "message": f"No such payment_intent: '{pi}'",
                        "param": "payment_intent",
                    }
                }
            obj = stripe_object(
                "refund",
                id=_id("re"),
                amount=int(p["amount"]),
                currency="eur",
                payment_intent=pi,
                status="succeeded",
                metadata={},
            )
            self.refunds.append(obj)
            return 200, obj
        return 404, {
            "error": {
                "type": "invalid_request_error",
                "message": f"Unrecognized request URL ({path}).",
            }
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                path, _, query = self.path.partition("?")
                params = form_decode(body or query)
                auth = self.headers.get("Authorization", "")
                key = auth.removeprefix("Bearer ")
                fake.requests.append((method, path, key, params))
                if not key.startswith(("sk_test_", "rk_test_")):
                    status, obj = (
                        401,
                        {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}},
                    )
                else:
                    status, obj = fake._answer(method, path, params)
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Request-Id", "req_test")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        return Handler
