"""The end-to-end part of the billing benchmark (``bench/billing_run.py --e2e``): a local SMTP
server that takes the invoice e-mails.

The run e-mails its invoices itself, as an issuer set to "E-mail invoices when issued" (the
default of a new installation) has it: after each chunk commits, tasks of 50 invoices render
and store their PDFs, record one ``EmailDelivery`` each and send them over one SMTP
connection (``invoices_deliver_task``).
"""

from __future__ import annotations

import socket
import threading
from typing import Any


class SmtpSink:
    """An SMTP server on 127.0.0.1 that accepts every message and counts them (aiosmtpd,
    in a thread of the benchmark's process)."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages = 0
        self.bytes = 0
        self._lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                with sink._lock:
                    sink.messages += 1
                    sink.bytes += len(envelope.content)
                return "250 OK"

        # Invoice e-mails with their PDF are about 80 kB; aiosmtpd's default limit is 32 MB.
        with socket.socket() as probe:  # a free port
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> int:
        self._controller.start()
        return self.port

    def stop(self) -> None:
        self._controller.stop()
