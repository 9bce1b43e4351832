from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


@pytest.fixture
def media(settings, tmp_path: Path) -> Path:
    """A private MEDIA_ROOT: stored PDFs of a test land here."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.RENDER_PDFS_ON_ISSUE = True
    return settings.MEDIA_ROOT


def pdf_text(pdf: bytes) -> str:
    out = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return out.stdout.decode("utf-8")


MINIMAL = """#let d = json("data.json")
#set text(font: "DejaVu Sans", lang: d.document.language)
= MARKER #d.document.fmt.title #d.document.number
#for l in d.at("lines", default: ()) [ #l.description: #l.fmt.amount \\ ]
"""
