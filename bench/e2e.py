"""The end-to-end part of the billing benchmark (``bench/billing_run.py --e2e``): a local SMTP
server that takes the invoice e-mails.

The run e-mails its invoices itself, as an issuer set to "E-mail invoices when issued" (the
default of a new installation) has it: after each chunk commits, tasks of 50 invoices render
and store their PDFs, record one ``EmailDelivery`` each and send them over one SMTP
connection (``invoices_deliver_task``).
"""

from __future__ import annotations

import os
import re
import socket
import threading
from pathlib import Path
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


SMTP_SINK = "/usr/sbin/smtp-sink"


class PostfixSmtpSink:
    """Postfix's ``smtp-sink`` (its SMTP benchmark server, in C) on 127.0.0.1, in a process
    of its own: it accepts every message and throws it away, counting them (``-c``). An
    invoice e-mail costs it about a tenth of the CPU aiosmtpd's Python spends on it, so the
    figure measures ispbill, not the test server. Needs the Debian package ``postfix``
    (installed with "No configuration" it starts no mail system)."""

    def __init__(self) -> None:
        import shutil

        if not shutil.which(SMTP_SINK):
            raise SystemExit(
                f"{SMTP_SINK} is missing: install it with `echo 'postfix "
                "postfix/main_mailer_type select No configuration' | debconf-set-selections "
                "&& apt-get install -y --no-install-recommends postfix`, or use "
                "--smtp-server aiosmtpd"
            )
        self.messages = 0
        self.bytes: int | None = None  # smtp-sink does not count them
        with socket.socket() as probe:  # a free port
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._process: Any = None
        self._out: Any = None

    def start(self) -> int:
        import subprocess
        import tempfile
        import time

        self._out = tempfile.TemporaryFile()  # noqa: SIM115 - read and closed in stop()
        user = [] if os.getuid() else ["-u", "nobody"]  # it refuses to run as root without
        # -c: a running count on stdout; 256: the connections it queues (two workers' batches)
        self._process = subprocess.Popen(
            [SMTP_SINK, *user, "-c", f"127.0.0.1:{self.port}", "256"], stdout=self._out
        )
        time.sleep(0.5)
        if self._process.poll() is not None:
            raise SystemExit(f"{SMTP_SINK} did not start")
        return self.port

    def cpu_seconds(self) -> float:
        """The server's CPU so far (user + system), from /proc."""
        fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.cpu = self.cpu_seconds()
        self._process.terminate()
        self._process.wait()
        self._out.seek(0)
        counts = re.findall(rb"mesg=(\d+)", self._out.read())
        self.messages = int(counts[-1]) if counts else 0
        self._out.close()


def smtp_sink(kind: str) -> SmtpSink | PostfixSmtpSink:
    """The local SMTP server the benchmark's e-mails go to: ``aiosmtpd`` (in a thread of the
    benchmark's process, sharing its cores) or ``smtp-sink`` (Postfix's, in C)."""
    return PostfixSmtpSink() if kind == "smtp-sink" else SmtpSink()
