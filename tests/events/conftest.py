"""A real HTTP receiver on 127.0.0.1 (a free port, a thread) that records what it is sent
and answers with the status codes it is told to, then 200."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    base: str
    requests: list[Received] = field(default_factory=list)
    fail_with: list[int] = field(default_factory=list)  # answered in turn, then 200

    def url(self, path: str = "/hook") -> str:
        return f"{self.base}{path}"

    def accepted(self, path: str | None = None) -> list[Received]:
        """What was answered 2xx (the receiver's view: what it processed)."""
        return [
            r
            for r in self.requests
            if r.headers.get("x-answered") == "200" and (path is None or r.path == path)
        ]


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True  # partners' endpoints on 127.0.0.1 here
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            rec = state["r"]
            code = rec.fail_with.pop(0) if rec.fail_with else 200
            headers = {k.lower(): v for k, v in self.headers.items()}
            headers["x-answered"] = str(code)
            rec.requests.append(Received(self.path, headers, body))
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["r"] = Receiver(base=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state["r"]
    finally:
        server.shutdown()
        server.server_close()


from tests.api.conftest import billed, seed  # noqa: E402, F401  (the API tests' world)
