from __future__ import annotations

import io

import pytest
from pypdf import PdfReader


def pdf_text(pdf: bytes) -> str:
    """All text of a PDF, with whitespace collapsed (pdftotext-like)."""
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    return " ".join(text.split())


@pytest.fixture
def extract_text():  # type: ignore[no-untyped-def]
    return pdf_text
