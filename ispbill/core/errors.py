"""One family for every refusal of the domain (docs/development.md, "Errors").

``DomainError`` carries a ``code`` (a stable word for programs), a ``message`` written for
the user (what was wrong and what to do) and ``fields``, the offending fields by name
(``{"billing_day": "Choose a day from 1 to 28."}``), so the web forms and the API show each
message beside its field. Each app's error (``PaymentError``, ``CreditNoteError``, ...)
derives from it with its own code; the API answers it once as 422 (``api/errors.py``), the
web once as form errors (``web/forms/fields.py``, ``errors_to_form``). Any other exception
is a bug: the API answers 500 and logs it."""

from __future__ import annotations

from typing import ClassVar

__all__ = ["DomainError", "DomainValidationError", "NotAllowed"]


class DomainError(ValueError):
    """A refusal of the domain; a ValueError so that code catching ValueError around parsing
    keeps working, but answered by its own handlers, never by a blanket ValueError one."""

    code: ClassVar[str] = "invalid"

    def __init__(
        self, message: str = "", *, fields: dict[str, str] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields or {})
        if code is not None:
            self.code = code  # type: ignore[misc]


class DomainValidationError(DomainError):
    """Input a service refuses, with the fields it names."""

    @classmethod
    def for_fields(cls, fields: dict[str, str], *, code: str = "invalid") -> DomainValidationError:
        """One error for several fields; the message lists them."""
        message = " ".join(f"{name}: {text}" for name, text in fields.items())
        return cls(message, fields=fields, code=code)


class NotAllowed(PermissionError):
    """An action the acting user's role or partner may not take (answered as 403)."""
