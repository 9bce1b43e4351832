"""Logging filters for the console (settings.LOGGING)."""

from __future__ import annotations

import logging


class RefusalWithoutTraceback(logging.Filter):
    """A request the app refused on purpose (a 4xx: permission denied, not found) is one
    line in the log, not a traceback: Django's ``django.request`` logger attaches the
    exception of a 403 to its warning. Server errors (5xx) keep their traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
