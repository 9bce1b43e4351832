"""Bounded rendering: every Typst compile and every email template runs in a worker process
(``worker.py``) with a wall-clock limit, a CPU limit, a memory limit, a page cap and an output
cap (docs/documents.md, "Limits").

Each thread of the caller keeps one warm worker and reuses it, so a normal render costs about
what it cost in-process (docs/documents.md, "Performance"); a worker that breaks a limit is
killed and the next request starts a fresh one. The caller gets RenderLimitError, saying which
limit, and decides what follows (refuse the template, fall back to the default).
"""

from __future__ import annotations

import atexit
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ispbill.documents import worker as _worker_module
from ispbill.documents.worker import frame_read, frame_write

__all__ = [
    "LIMITS",
    "RenderLimitError",
    "RenderLimits",
    "WorkerReplyError",
    "limits_override",
    "worker_request",
    "worker_state",
    "workers_cpu_seconds",
]

_WORKER_PATH = str(Path(_worker_module.__file__).resolve())


@dataclass(frozen=True)
class RenderLimits:
    """The bounds of one render. Defaults: docs/documents.md, "Limits"."""

    seconds: float = 10.0  # wall clock of one PDF
    cpu_seconds: float = 10.0  # CPU of one PDF
    memory_mb: int = 1024  # address space of the worker process
    pages: int = 500  # pages of one PDF
    pdf_mb: int = 20  # bytes of one PDF
    email_seconds: float = 2.0  # wall clock and CPU of one email
    email_chars: int = 100_000  # characters of one rendered email


LIMITS = RenderLimits()
_limits = [LIMITS]


class limits_override:
    """Use other limits inside a ``with`` block (tests, benchmarks, one-off operations)."""

    def __init__(self, **changes: Any) -> None:
        self.changes = changes

    def __enter__(self) -> RenderLimits:
        _limits.append(replace(_limits[-1], **self.changes))
        return _limits[-1]

    def __exit__(self, *exc: object) -> None:
        _limits.pop()


def limits_current() -> RenderLimits:
    return _limits[-1]


class RenderLimitError(Exception):
    """A render broke a limit (time, CPU, memory, pages, size); ``limit`` names it."""

    def __init__(self, message: str, *, limit: str) -> None:
        super().__init__(message)
        self.message = message
        self.limit = limit


class WorkerReplyError(Exception):
    """The worker answered with an error of the template itself; ``reply`` holds it."""

    def __init__(self, reply: dict[str, Any]) -> None:
        super().__init__(reply.get("message", "the template failed"))
        self.reply = reply


def _worker_env() -> dict[str, str]:
    # Nothing of the caller's environment (database URL, secrets): only what Python, Typst
    # and glibc need, and one malloc arena per thread at most two (the address-space limit
    # counts reserved arenas).
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "MALLOC_ARENA_MAX": "2",
        "RAYON_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        # Typst's package downloader would honour a proxy: one that answers nothing. Package
        # imports are refused before compiling; this is the second layer.
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
        "http_proxy": "http://127.0.0.1:9",
    }
    return env


class _Worker:
    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self.process = subprocess.Popen(
            [sys.executable, "-I", _WORKER_PATH, str(memory_mb * 1024 * 1024)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=_worker_env(),
            close_fds=True,
            cwd="/",
        )
        self.pid = os.getpid()
        self.sent_assets: dict[str, bytes] = {}
        _all.add(self)

    def alive(self) -> bool:
        return self.pid == os.getpid() and self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        _all.discard(self)

    def cpu_seconds(self) -> float:
        # Nanoseconds on CPU of each of its threads (schedstat), live: finer than the clock
        # ticks of /proc/<pid>/stat.
        total = 0
        try:
            for task in Path(f"/proc/{self.process.pid}/task").iterdir():
                total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
        return total / 1e9

    def request(
        self, header: dict[str, Any], blobs: list[bytes], *, seconds: float
    ) -> tuple[dict[str, Any], list[bytes]]:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        deadline = time.monotonic() + seconds
        try:
            frame_write(stdin, header, blobs)
        except (BrokenPipeError, OSError):
            raise self._died(header) from None
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([stdout], [], [], max(0.0, remaining))
        if not ready:
            self.kill()
            raise RenderLimitError(
                f"the template took longer than {seconds:g} s to render", limit="time"
            )
        try:
            # The reply is written in one go once the render is done.
            return frame_read(stdout)
        except (EOFError, ValueError, OSError):
            raise self._died(header) from None

    def _died(self, header: dict[str, Any]) -> RenderLimitError:
        self.kill()
        code = self.process.returncode
        if code == -signal.SIGXCPU:
            return RenderLimitError(
                f"the template used more than {header.get('cpu_seconds', 0):g} s of CPU to render",
                limit="cpu",
            )
        return RenderLimitError(
            f"the template needed more than {self.memory_mb} MB of memory to render "
            f"(the renderer stopped with code {code})",
            limit="memory",
        )


_local = threading.local()
_all: set[_Worker] = set()


@atexit.register
def _workers_stop() -> None:
    for worker in list(_all):
        if worker.pid == os.getpid():
            worker.kill()


def _worker(memory_mb: int) -> _Worker:
    worker: _Worker | None = getattr(_local, "worker", None)
    if worker is None or not worker.alive() or worker.memory_mb != memory_mb:
        if worker is not None and worker.pid == os.getpid():
            worker.kill()
        worker = _Worker(memory_mb)
        _local.worker = worker
    return worker


def worker_request(
    header: dict[str, Any], blobs: list[bytes], *, seconds: float, memory_mb: int
) -> tuple[dict[str, Any], list[bytes]]:
    """Send one request to this thread's worker and return its successful reply.

    Raises RenderLimitError when a limit is broken (the worker is then replaced) and
    WorkerReplyError when the template itself failed."""
    worker = _worker(memory_mb)
    reply, blobs_out = worker.request(header, blobs, seconds=seconds)
    if reply.get("kind") == "memory":
        worker.kill()
        raise RenderLimitError(
            f"the template needed more than {memory_mb} MB of memory to render", limit="memory"
        )
    if not reply.get("ok"):
        if reply.get("kind") == "limit":
            raise RenderLimitError(reply.get("message", "a limit was reached"), limit="output")
        raise WorkerReplyError(reply)
    return reply, blobs_out


def worker_state() -> dict[str, Any]:
    """This thread's worker: its pid, its Typst root, the root's mode and the files in it."""
    limits = limits_current()
    reply, _ = worker_request(
        {"op": "ping"}, [], seconds=limits.seconds, memory_mb=limits.memory_mb
    )
    return reply


def workers_cpu_seconds() -> float:
    """CPU seconds used so far by this process's live workers (for benchmarks)."""
    return sum(w.cpu_seconds() for w in list(_all) if w.pid == os.getpid())
