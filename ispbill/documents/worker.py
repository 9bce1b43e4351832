"""The render worker: a separate process that compiles partner templates within hard limits.

Started by ``ispbill.documents.pool`` as ``python -I worker.py <memory bytes>``; it imports
only Typst and Jinja2 (nothing of ispbill, Django or the caller's settings, and it gets an
environment without them), sets its own resource limits before it reads any request, and then
answers requests one at a time on stdin/stdout:

- ``RLIMIT_AS`` (address space) for its whole life: a template that allocates more (a huge
  image, a 100 MB string, a deep recursion) fails to allocate and the process ends;
- ``RLIMIT_CPU`` re-armed before each request to the CPU already used plus the request's CPU
  seconds: a template that computes longer is killed by the kernel (``SIGXCPU``);
- the wall-clock limit is the caller's: it stops waiting and kills the process;
- page and output-size caps are checked here on the result.

A worker that was killed is replaced on the next request; a normal render reuses the warm
compiler (fonts, caches) exactly as the in-process renderer did.

Frames: 8-byte big-endian length of a JSON header, then the blobs the header lists, in order.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import shutil
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")
# The default templates' fonts, shipped with ispbill (scripts/documents_fonts.py): every
# compile can use them beside the system's and the issuer's own fonts.
BUNDLED_FONTS = Path(__file__).resolve().parent / "fonts"
_HEADER = struct.Struct(">Q")
_MAX_HEADER = 64 * 1024 * 1024
_PDF_PAGES_RE = re.compile(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)")
_PDF_PAGE_RE = re.compile(rb"/Type\s*/Page\b(?!s)")


# --- framing (used by both sides) -------------------------------------------------------------


def frame_write(out: IO[bytes], header: dict[str, Any], blobs: list[bytes] | None = None) -> None:
    blobs = blobs or []
    head = json.dumps({**header, "blob_sizes": [len(b) for b in blobs]}).encode("utf-8")
    out.write(_HEADER.pack(len(head)))
    out.write(head)
    for blob in blobs:
        out.write(blob)
    out.flush()


def _read_exact(source: IO[bytes], size: int) -> bytes:
    chunks = []
    while size:
        chunk = source.read(size)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def frame_read(source: IO[bytes]) -> tuple[dict[str, Any], list[bytes]]:
    (size,) = _HEADER.unpack(_read_exact(source, _HEADER.size))
    if size > _MAX_HEADER:
        raise ValueError("frame header too large")
    header = json.loads(_read_exact(source, size))
    blobs = [_read_exact(source, n) for n in header.pop("blob_sizes", [])]
    return header, blobs


def pdf_page_count(pdf: bytes) -> int:
    """The page count of a PDF written by Typst: the page tree's ``/Count`` (the largest, as
    the root counts all pages), else the number of page objects."""
    counts = [int(m.group(1)) for m in _PDF_PAGES_RE.finditer(pdf)]
    return max(counts) if counts else len(_PDF_PAGE_RE.findall(pdf))


# --- Jinja2 emails (the sandbox, importable by the caller for the same rules) ------------------

MAX_FORMAT_WIDTH = 1_000


class OutputLimitError(Exception):
    """A template tried to build a string beyond the output limit."""


def _spec_numbers(spec: str) -> list[int]:
    # Every number in a format spec (width, precision): "%50000000d", "{:>50000000}".
    return [int(n) for n in re.findall(r"\d+", spec)]


def _check_width(numbers: list[int], what: str) -> None:
    if any(n > MAX_FORMAT_WIDTH for n in numbers):
        raise OutputLimitError(f"{what}: widths and precisions are limited to {MAX_FORMAT_WIDTH}")


_PERCENT_SPEC_RE = re.compile(r"%[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


def percent_format_checked(fmt: str, args: Any) -> str:
    """``fmt % args`` with every width and precision at most MAX_FORMAT_WIDTH (a ``*`` width
    is refused: it would take the width from the data)."""
    for match in _PERCENT_SPEC_RE.finditer(fmt):
        if "*" in (match.group(1) or "", match.group(2) or ""):
            raise OutputLimitError("`%` formatting: `*` widths are not allowed in emails")
        _check_width([int(g) for g in match.groups() if g], "`%` formatting")
    return fmt % args


def jinja_environment(max_chars: int) -> Any:
    """The sandboxed Jinja2 environment of email templates, with every string-building
    operation bounded by ``max_chars``: ``*`` and ``**``, ``%`` formatting and ``str.format``
    (widths), the ``format``/``center``/``indent``/``wordwrap`` filters and the padding
    methods of strings (``ljust``, ``rjust``, ``center``, ``zfill``, ``expandtabs``)."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter

    class _Formatter(SandboxedFormatter):
        def format_field(self, value: Any, format_spec: str) -> Any:
            _check_width(_spec_numbers(format_spec), "`format`")
            return super().format_field(value, format_spec)

    padding = {"ljust", "rjust", "center", "zfill", "expandtabs"}

    class _Environment(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**", "%"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "%":
                if isinstance(left, str):
                    return percent_format_checked(left, right)
                return left % right
            if operator == "**":
                if isinstance(right, int) and (
                    abs(right) > 100
                    or (isinstance(left, int) and left.bit_length() * abs(right) > 10_000)
                ):
                    raise OutputLimitError("`**` is limited to small numbers in emails")
                return left**right
            if isinstance(left, int) and isinstance(right, str | list | tuple):
                left, right = right, left
            if (
                isinstance(left, str | list | tuple)
                and isinstance(right, int)
                and len(left) * right > max_chars
            ):
                raise OutputLimitError("the email would be too long")
            return left * right

        def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
            # ``str.format``/``format_map``, with every width and precision bounded.
            if super().wrap_str_format(value) is None:
                return None
            text: str = value.__self__
            is_map = value.__name__ == "format_map"
            formatter = _Formatter(self)

            def wrapper(*args: Any, **kwargs: Any) -> str:
                if is_map:
                    if kwargs or len(args) != 1:
                        raise TypeError("format_map() takes exactly one argument")
                    return str(formatter.vformat(text, (), args[0]))
                return str(formatter.vformat(text, args, kwargs))

            return wrapper

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            name = getattr(__obj, "__name__", "")
            if isinstance(getattr(__obj, "__self__", None), str) and name in padding:
                _check_width([a for a in args if isinstance(a, int)], f"`{name}`")
            return super().call(__context, __obj, *args, **kwargs)

    env = _Environment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    builtin = dict(env.filters)

    def _bounded(name: str, positions: tuple[int, ...]) -> Callable[..., Any]:
        inner = builtin[name]

        def run(*args: Any, **kwargs: Any) -> Any:
            _check_width(
                [a for i, a in enumerate(args) if i in positions and isinstance(a, int)]
                + [v for v in kwargs.values() if isinstance(v, int)],
                f"the `{name}` filter",
            )
            return inner(*args, **kwargs)

        return run

    def _format(value: Any, *args: Any, **kwargs: Any) -> str:
        if args and kwargs:
            raise OutputLimitError("the `format` filter takes positional or named arguments")
        return percent_format_checked(str(value), kwargs or args)

    env.filters.update(
        format=_format,
        center=_bounded("center", (1,)),
        indent=_bounded("indent", (1,)),
        wordwrap=_bounded("wordwrap", (2,)),
    )
    return env


# --- the worker process ------------------------------------------------------------------------


class _Typst:
    """One private Typst root and a warm compiler (one per set of issuer fonts)."""

    def __init__(self) -> None:
        import typst

        self.typst = typst
        self.root = Path(tempfile.mkdtemp(prefix="ispbill-doc-"))
        self.packages = Path(tempfile.mkdtemp(prefix="ispbill-typst-no-packages-"))
        self.files: dict[str, bytes] = {}
        self.compiler: Any = None
        self.fonts_key: str | None = None

    def _fill(self, files: dict[str, bytes]) -> None:
        for name in self.files.keys() - files.keys():
            (self.root / name).unlink(missing_ok=True)
        for name, content in files.items():
            if self.files.get(name) != content:
                (self.root / name).write_bytes(content)
        self.files = dict(files)

    def _compiler(self, files: dict[str, bytes]) -> Any:
        fonts = sorted(
            (name, hashlib.sha256(content).hexdigest())
            for name, content in files.items()
            if name.lower().endswith(FONT_SUFFIXES)
        )
        key = json.dumps(fonts)
        if self.compiler is None or key != self.fonts_key:
            isolation: dict[str, Any] = {
                "package_path": str(self.packages),
                "package_cache_path": str(self.packages),
            }
            font_paths = [str(BUNDLED_FONTS)] if BUNDLED_FONTS.is_dir() else []
            if fonts:
                # Only the font files, in a folder of their own: Typst reads nothing else there.
                fonts_dir = self.root.parent / (self.root.name + "-fonts")
                shutil.rmtree(fonts_dir, ignore_errors=True)
                fonts_dir.mkdir()
                for name, _ in fonts:
                    (fonts_dir / name).write_bytes(files[name])
                font_paths.insert(0, str(fonts_dir))
            self.compiler = self.typst.Compiler(font_paths=font_paths, **isolation)
            self.fonts_key = key
        return self.compiler

    def compile(self, header: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], bytes]:
        files = dict(zip(header["names"], blobs, strict=True))
        compiler = self._compiler(files)
        self._fill(files)
        options: dict[str, Any] = {"format": "pdf"}
        if header.get("timestamp"):
            options["timestamp"] = datetime.fromisoformat(header["timestamp"]).astimezone(UTC)
        if header.get("pdf_standards"):
            options["pdf_standards"] = header["pdf_standards"]
        try:
            pdf = compiler.compile(
                input=str(self.root / "main.typ"), root=str(self.root), **options
            )
        except self.typst.TypstError as exc:
            return {
                "ok": False,
                "kind": "template",
                "message": getattr(exc, "message", "") or str(exc),
                "diagnostic": getattr(exc, "diagnostic", "") or "",
                "hints": [h for h in (getattr(exc, "hints", None) or []) if h],
            }, b""
        finally:
            for name in header.get("transient", ()):
                if self.files.pop(name, None) is not None:
                    (self.root / name).unlink(missing_ok=True)
        if not isinstance(pdf, bytes):
            return {"ok": False, "kind": "template", "message": "Typst returned no PDF"}, b""
        pages = pdf_page_count(pdf)
        if pages > header["max_pages"]:
            return {
                "ok": False,
                "kind": "limit",
                "message": f"the document has {pages} pages; at most {header['max_pages']} "
                "are allowed",
            }, b""
        if len(pdf) > header["max_bytes"]:
            return {
                "ok": False,
                "kind": "limit",
                "message": f"the PDF is larger than {header['max_bytes'] // 1_000_000} MB",
            }, b""
        return {"ok": True, "pages": pages}, pdf


class _Jinja:
    def __init__(self) -> None:
        self.envs: dict[int, Any] = {}

    @lru_cache(maxsize=32)  # noqa: B019 - one instance for the process's life
    def _template(self, source: str, max_chars: int) -> Any:
        env = self.envs.get(max_chars)
        if env is None:
            env = self.envs[max_chars] = jinja_environment(max_chars)
        return env.from_string(source)

    def render(self, header: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], bytes]:
        from jinja2 import TemplateError, TemplateSyntaxError

        source = blobs[0].decode("utf-8")
        context = json.loads(blobs[1])
        max_chars = int(header["max_chars"])
        try:
            template = self._template(source, max_chars)
        except TemplateSyntaxError as exc:
            return {"ok": False, "kind": "template", "message": exc.message or str(exc),
                    "line": exc.lineno}, b""  # fmt: skip
        try:
            text = template.render(context)
        except OutputLimitError as exc:
            return {"ok": False, "kind": "limit", "message": str(exc), "line": _line()}, b""
        except TemplateError as exc:
            message = getattr(exc, "message", None) or str(exc)
            return {"ok": False, "kind": "template", "message": message, "line": _line()}, b""
        except (MemoryError, RecursionError):
            raise
        except Exception as exc:  # a template's own error (1 / 0, a bad filter argument)
            return {"ok": False, "kind": "template", "message": f"{type(exc).__name__}: {exc}",
                    "line": _line()}, b""  # fmt: skip
        if len(text) > max_chars:
            return {
                "ok": False,
                "kind": "limit",
                "message": f"the email is longer than {max_chars} characters",
            }, b""
        return {"ok": True}, text.encode("utf-8")


def _line() -> int | None:
    tb = sys.exc_info()[2]
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _limits_set(memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    # Files it writes: the document's own (template, data, assets of at most a few MB).
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024 * 1024, 64 * 1024 * 1024))


def _cpu_limit_arm(seconds: float) -> None:
    soft = int(_cpu_used() + seconds) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def main() -> None:
    memory_bytes = int(sys.argv[1])
    # The address space limit counts what is reserved, not used: keep glibc from reserving
    # an arena per thread (set in the environment by the pool) before limiting it.
    _limits_set(memory_bytes)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but frames on the real stdout
    typst_state: _Typst | None = None
    jinja_state = _Jinja()
    sys.setrecursionlimit(2_000)
    while True:
        try:
            header, blobs = frame_read(stdin)
        except EOFError:
            return
        _cpu_limit_arm(float(header.get("cpu_seconds", 10)))
        start = time.perf_counter()
        try:
            if header["op"] == "typst":
                if typst_state is None:
                    typst_state = _Typst()
                reply, blob = typst_state.compile(header, blobs)
            elif header["op"] == "jinja":
                reply, blob = jinja_state.render(header, blobs)
            elif header["op"] == "ping":  # what the root holds now (tests)
                root = typst_state.root if typst_state is not None else None
                reply, blob = (
                    {
                        "ok": True,
                        "pid": os.getpid(),
                        "root": str(root) if root else None,
                        "mode": (root.stat().st_mode & 0o777) if root else None,
                        "names": sorted(p.name for p in root.iterdir()) if root else [],
                    },
                    b"",
                )
            else:
                reply, blob = {"ok": False, "kind": "template", "message": "unknown op"}, b""
        except MemoryError:
            frame_write(stdout, {"ok": False, "kind": "memory"})
            os._exit(3)
        except RecursionError:
            reply, blob = {"ok": False, "kind": "limit", "message": "too deep recursion"}, b""
        reply["seconds"] = time.perf_counter() - start
        frame_write(stdout, reply, [blob] if blob else [])


if __name__ == "__main__":
    main()
