"""Keeps secrets out of logs: bearer tokens, API tokens and Authorization headers."""

from __future__ import annotations

import logging
import re
from typing import Any

_PATTERNS = [
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)([^'\"\s,}]+(?:\s+[^'\"\s,}]+)?)"),
    re.compile(r"(?i)(bearer\s+)([A-Za-z0-9._~+/=-]+)"),
    re.compile(r"(ispb_[0-9a-f]{8}_)([A-Za-z0-9-]+)"),
]
MASK = "********"


def redact(text: str) -> str:
    """``text`` with every token-looking secret replaced by a mask."""
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


class SecretRedactionFilter(logging.Filter):
    """A logging filter that masks tokens in the formatted message."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


def install_record_factory() -> None:
    """Mask secrets in every record at creation, whichever handler receives it."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_ispbill_redacting", False):
        return
    redacting_filter = SecretRedactionFilter()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redacting_filter.filter(record)
        return record

    factory._ispbill_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
