"""Every render is bounded: time, CPU, memory, pages, size (docs/documents.md, "Limits").

Each hostile template is stopped within its limit, the worker that ran it is replaced, and the
next document renders at once. Assets are checked by content and never run as code."""

from __future__ import annotations

import contextlib
import io
import struct
import time
import zlib

import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen

from ispbill.documents import data as D
from ispbill.documents import render as render_module
from ispbill.documents.assets import asset_content_refusal
from ispbill.documents.pool import limits_override, worker_state
from ispbill.documents.render import (
    DocumentRenderError,
    DocumentRenderLimitError,
    DocumentTemplateError,
    document_pdf_render,
    document_template_validate,
)
from tests.documents.conftest import pdf_text

HEAD = '#let d = json("data.json")\n'
# Short limits keep the tests quick; the defaults are larger (RenderLimits).
FAST = {"seconds": 3.0, "cpu_seconds": 3.0}


def big_png(width: int, height: int) -> bytes:
    """A valid grey PNG of ``width`` x ``height`` zero pixels: tiny on disk, huge decoded."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    packer = zlib.compressobj(9)
    row = b"\0" * (width + 1)
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def tiny_font() -> bytes:
    """A real TrueType font (one glyph), built with fontTools."""
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder([".notdef", "A"])
    builder.setupCharacterMap({ord("A"): "A"})
    pen = TTGlyphPen(None)
    pen.moveTo((0, 0))
    pen.lineTo((500, 700))
    pen.lineTo((1000, 0))
    pen.closePath()
    glyph = pen.glyph()
    builder.setupGlyf({".notdef": TTGlyphPen(None).glyph(), "A": glyph})
    builder.setupHorizontalMetrics({".notdef": (500, 0), "A": (1000, 0)})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Tiny Test", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    out = io.BytesIO()
    builder.save(out)
    return out.getvalue()


def _renders_quickly_afterwards() -> None:
    start = time.perf_counter()
    pdf = document_pdf_render(data=D.sample_invoice(), facturx=True)
    assert pdf.startswith(b"%PDF")
    assert time.perf_counter() - start < 2.0


HOSTILE = {
    "200,000 pages": "#for i in range(200000) { pagebreak() }",
    "a long computation": "#let x = 0\n#for i in range(30000) { for j in range(30000) { x += 1 } }",
    "a 100 MB string printed": '#let s = "x" * 100000000\n#s',
    "a 1 GB string": '#let s = "x" * 1000000000\n#s.len()',
    "a huge array": "#let a = range(200000000)\n#a.len()",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_template_is_stopped_within_its_limit(name: str) -> None:
    start = time.perf_counter()
    with limits_override(**FAST), pytest.raises(DocumentRenderLimitError) as caught:
        document_pdf_render(data=D.sample_invoice(), template_source=HEAD + HOSTILE[name])
    elapsed = time.perf_counter() - start
    assert elapsed < FAST["seconds"] + 2.0
    assert caught.value.limit in {"time", "cpu", "memory", "output"}
    assert "limited to" in caught.value.message
    _renders_quickly_afterwards()


def test_the_page_cap_refuses_a_long_document_with_its_figures() -> None:
    with limits_override(pages=20), pytest.raises(DocumentRenderLimitError) as caught:
        document_pdf_render(
            data=D.sample_invoice(), template_source="#for i in range(30) { pagebreak() }"
        )
    assert caught.value.limit == "output"
    assert "31 pages; at most 20" in caught.value.message


def test_deep_recursion_is_an_error_not_a_crash() -> None:
    source = HEAD + "#let f(n) = if n == 0 { 0 } else { 1 + f(n - 1) }\n#f(100000)"
    with limits_override(**FAST), pytest.raises(DocumentTemplateError) as caught:
        document_pdf_render(data=D.sample_invoice(), template_source=source)
    assert caught.value.line == 2
    _renders_quickly_afterwards()


def test_validation_refuses_the_200000_page_template_with_a_clear_message() -> None:
    start = time.perf_counter()
    with limits_override(**FAST), pytest.raises(DocumentRenderLimitError) as caught:
        document_template_validate("#for i in range(200000) { pagebreak() }")
    assert time.perf_counter() - start < FAST["seconds"] + 2.0
    assert "pages" in str(caught.value) or "longer than" in str(caught.value)


def test_a_huge_image_is_refused_by_content_and_bounded_even_unchecked(monkeypatch) -> None:
    image = big_png(20000, 20000)  # 400 megapixels, 0.4 MB as PNG
    refusal = asset_content_refusal("logo.png", image)
    assert refusal is not None and "at most 16 megapixels" in refusal
    assert "5000 x 5000 pixels" in (asset_content_refusal("logo.png", big_png(5000, 5000)) or "")
    with pytest.raises(DocumentRenderError, match="megapixels"):
        document_pdf_render(
            data=D.sample_invoice(),
            template_source='#image("logo.png")',
            assets={"logo.png": image},
        )
    # Without the content check (an asset written around it), the render is still bounded.
    monkeypatch.setattr(render_module, "asset_content_refusal", lambda name, content: None)
    start = time.perf_counter()
    with limits_override(**FAST), contextlib.suppress(DocumentRenderError):
        document_pdf_render(
            data=D.sample_invoice(),
            template_source='#image("logo.png")',
            assets={"logo.png": image},
        )
    assert time.perf_counter() - start < FAST["seconds"] + 2.0
    _renders_quickly_afterwards()


def test_the_worker_gets_none_of_the_callers_environment(monkeypatch) -> None:
    from ispbill.documents import pool

    env = pool._worker_env()
    assert "DATABASE_URL" not in env and "SECRET_KEY" not in env
    assert env["MALLOC_ARENA_MAX"] == "2"
    assert worker_state()["pid"] > 0


# --- assets by content ------------------------------------------------------------------------

EVIL_FONT = b'true\n#let x = eval("1 + 1")\n#import "@preview/tablex:0.0.8": *\n'


def test_a_font_that_is_typst_code_is_refused_by_content() -> None:
    assert asset_content_refusal("evil.ttf", EVIL_FONT) == "the file is not a TrueType font"
    assert asset_content_refusal("evil.otf", b"OTTO" + EVIL_FONT) is not None
    assert asset_content_refusal("tiny.ttf", tiny_font()) is None
    with pytest.raises(DocumentRenderError, match="not a TrueType font"):
        document_pdf_render(
            data=D.sample_invoice(),
            template_source=HEAD + "Hello",
            assets={"evil.ttf": EVIL_FONT},
        )


@pytest.mark.parametrize(
    "source",
    [
        '#include "evil.ttf"',
        '#import "evil.ttf": *',
        '#read("evil.ttf")',
        '#let r = read\n#r("evil.ttf")',
        '#include "logo.png"',
        '#include "data.json"',
        '#read("data.json")',
        '#include "sub/parts.typ"',
        '#import "@preview/tablex:0.0.8": *',
    ],
)
def test_include_import_and_read_take_only_the_templates_own_parts(source: str) -> None:
    # Even a real font under that name: an asset is never included or read as code.
    with pytest.raises(DocumentTemplateError) as caught:
        document_pdf_render(
            data=D.sample_invoice(),
            template_source=HEAD + source,
            assets={"evil.ttf": tiny_font()},
        )
    assert "own parts" in caught.value.message or "not allowed" in caught.value.message


def test_a_real_font_asset_is_used_and_parts_can_be_read() -> None:
    parts = b"#let greet = [Hello from a part]"
    source = (
        HEAD + '#import "parts.typ": greet\n#greet\n#read("parts.typ").len()\n'
        '#text(font: "Tiny Test")[A]'
    )
    pdf = document_pdf_render(
        data=D.sample_invoice(),
        template_source=source,
        assets={"parts.typ": parts, "tiny.ttf": tiny_font()},
    )
    assert "Hello from a part" in pdf_text(pdf)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("logo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "not a PNG image"),
        ("logo.jpg", b"\xff\xd8\xff" + b"#include x" * 10, "not a JPEG image"),
        ("logo.svg", b"<svg><a href='file:///etc/passwd'/></svg>", "may not reference"),
        ("logo.svg", b"<html><svg></svg></html>", "not an SVG image"),
        ("font.otf", b"OTTO" + b"\0" * 100, "not a OpenType font"),
    ],
)
def test_images_and_fonts_are_decoded_not_sniffed(name: str, content: bytes, message: str) -> None:
    refusal = asset_content_refusal(name, content)
    assert refusal is not None and message in refusal
