"""The error every write service raises for input it refuses.

``fields`` names the offending fields (``{"billing_day": "Choose a day from 1 to 28."}``) so
the web forms and the API can show each message beside its field."""

from __future__ import annotations

__all__ = ["DomainValidationError", "NotAllowed"]


class DomainValidationError(ValueError):
    """Input a service refuses. ``message`` says what was wrong and what to do."""

    def __init__(
        self, message: str, *, fields: dict[str, str] | None = None, code: str = "invalid"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields or {})
        self.code = code

    @classmethod
    def for_fields(cls, fields: dict[str, str], *, code: str = "invalid") -> DomainValidationError:
        """One error for several fields; the message lists them."""
        message = " ".join(f"{name}: {text}" for name, text in fields.items())
        return cls(message, fields=fields, code=code)


class NotAllowed(PermissionError):
    """An action the acting user's role or partner may not take (answered as 403)."""
