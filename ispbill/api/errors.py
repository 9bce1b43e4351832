"""Every API error is JSON ``{"detail": ..., "code": ..., "fields": {...}}`` with a 4xx status.

``install_exception_handlers(api)`` maps validation errors, domain errors, permission and
scope errors, missing objects and database conflicts to their status; nothing a client
sends may surface as a 5xx. Domain errors are mapped once, by their base ``DomainError``
(422 with its ``code``, message and ``fields``); a plain ValueError is a bug, answered 500."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django_scopes.exceptions import ScopeError
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from ispbill.core.errors import DomainError, NotAllowed
from ispbill.invoicing.models import ImmutableDocumentError
from ispbill.payments.services import DuplicatePayment

log = logging.getLogger(__name__)

__all__ = ["ERROR_RESPONSES", "ApiError", "ErrorOut", "install_exception_handlers"]


class ErrorOut(Schema):
    detail: str
    code: str
    fields: dict[str, str] = {}


class ApiError(Exception):
    """Raised by handlers for an error with a given status (for example 409 or 422)."""

    def __init__(
        self, status: int, detail: str, *, code: str, fields: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.fields = dict(fields or {})


# Documented on every operation so the schema says what an error looks like.
ERROR_RESPONSES: dict[int, Any] = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    422: ErrorOut,
}


def _field_name(loc: Any) -> str:
    """``("body", "payload", "amount")`` -> ``"amount"``; ``("query", "limit")`` -> ``"limit"``."""
    parts = [str(p) for p in (loc or ())]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie", "form"):
        parts = parts[1:]
    if len(parts) > 1 and parts[0] in ("payload", "data", "filters", "params", "body"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def _validation_fields(errors: list[dict[str, Any]]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for err in errors:
        name = _field_name(err.get("loc"))
        if err.get("type") == "extra_forbidden":
            message = "Unknown field: this request does not accept it."
        else:
            message = str(err.get("msg") or "Invalid value.")
        fields.setdefault(name, message)
    return fields


def install_exception_handlers(api: NinjaAPI) -> None:
    def respond(
        request: HttpRequest,
        status: int,
        detail: str,
        code: str,
        fields: dict[str, str] | None = None,
    ) -> HttpResponse:
        body = {"detail": detail, "code": code, "fields": fields or {}}
        return api.create_response(request, body, status=status)

    @api.exception_handler(RequestDataTooBig)
    def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
        detail = (
            f"The request body is larger than {limit:,} bytes; send less at once "
            "(lists are limited per request, e.g. 1,000 payments per import)."
        )
        return respond(request, 413, detail, "payload_too_large")

    @api.exception_handler(TooManyFieldsSent)
    def _too_many_fields(request: HttpRequest, exc: TooManyFieldsSent) -> HttpResponse:
        return respond(request, 400, "The request has too many fields.", "bad_request")

    @api.exception_handler(NinjaValidationError)
    def _invalid_input(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        fields = _validation_fields(list(exc.errors))
        detail = "The request is not valid: " + "; ".join(f"{k}: {v}" for k, v in fields.items())
        return respond(request, 422, detail, "validation_error", fields)

    @api.exception_handler(AuthenticationError)
    def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        detail = "Send a valid API token: Authorization: Bearer <token>."
        return respond(request, 401, detail, "not_authenticated")

    @api.exception_handler(HttpError)
    def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        status = exc.status_code if 400 <= exc.status_code < 500 else 400
        return respond(request, status, str(exc) or "Bad request.", "bad_request")

    @api.exception_handler(ApiError)
    def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        return respond(request, exc.status, exc.detail, exc.code, exc.fields)

    @api.exception_handler(PermissionDenied)
    def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return respond(request, 403, "Your role does not allow this action.", "forbidden")

    @api.exception_handler(NotAllowed)
    def _not_allowed(request: HttpRequest, exc: NotAllowed) -> HttpResponse:
        return respond(request, 403, str(exc) or "Not allowed.", "forbidden")

    @api.exception_handler(Http404)
    def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return respond(request, 404, "Not found.", "not_found")

    @api.exception_handler(ScopeError)
    def _scope_error(request: HttpRequest, exc: ScopeError) -> HttpResponse:
        # Fail closed: data outside the scope does not exist for this request.
        log.warning("api.scope_error", extra={"path": request.path})
        return respond(request, 404, "Not found.", "not_found")

    @api.exception_handler(DuplicatePayment)
    def _duplicate(request: HttpRequest, exc: DuplicatePayment) -> HttpResponse:
        return respond(request, 409, str(exc), exc.code, exc.fields)

    @api.exception_handler(ImmutableDocumentError)
    def _immutable(request: HttpRequest, exc: ImmutableDocumentError) -> HttpResponse:
        return respond(request, 409, str(exc), "immutable")

    @api.exception_handler(IntegrityError)
    def _conflict(request: HttpRequest, exc: IntegrityError) -> HttpResponse:
        log.info("api.integrity_error", extra={"path": request.path, "error": str(exc)})
        detail = "This conflicts with existing data (a duplicate or a record still in use)."
        return respond(request, 409, detail, "conflict")

    @api.exception_handler(DjangoValidationError)
    def _django_invalid(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
        if hasattr(exc, "error_dict"):
            fields = {k: " ".join(str(m) for m in v[0].messages) for k, v in exc.error_dict.items()}
        else:
            fields = {}
        return respond(request, 422, " ".join(exc.messages), "invalid", fields)

    @api.exception_handler(DomainError)
    def _domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
        # Every refusal of the domain (PaymentError, CreditNoteError, AmountRangeError, ...),
        # once: its message is written for the user. A request that is valid but clashes with
        # the object's state (a batch submitted already, a second active mandate) is a
        # conflict (code "conflict"). Any other exception, a ValueError included, is a bug
        # and answers 500 (logged by Django).
        status = 409 if exc.code == "conflict" else 422
        return respond(request, status, str(exc) or "Invalid value.", exc.code, exc.fields)
