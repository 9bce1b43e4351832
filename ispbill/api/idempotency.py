"""``Idempotency-Key`` for the POSTs that create money or documents.

A handler decorated with ``@idempotent()`` returns ``(status, json-able body)``. With the
header, the first response is stored with the user, the key and a hash of the request; a
retry with the same key and body gets that response back and runs nothing; the same key with
another body is a 422. Without the header the request simply runs.

The record is inserted in the same transaction as the work (``atomic=True``): a second,
identical request sent at the same moment blocks on the unique (user, key) index until the
first commits, then replays its response. Work that is not one transaction (a billing run
commits chunk by chunk) first commits the record as "in progress" (``atomic=False``); a
retry while it runs is a 409."""

from __future__ import annotations

import hashlib
import inspect
import json
import typing
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from ninja import Status

from ispbill.api.errors import ApiError
from ispbill.api.models import IdempotencyRecord

__all__ = ["HEADER", "idempotency_openapi", "idempotent"]

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


def idempotency_openapi() -> dict[str, Any]:
    """``openapi_extra`` of the idempotent operations: the header in their schema (a fresh
    dict each time: django-ninja merges it into the operation's own)."""
    return {
        "parameters": [
            {
                "in": "header",
                "name": HEADER,
                "required": False,
                "description": "Any text up to 255 characters, a UUID for example: a retry with "
                "the same key and body returns the first response and creates nothing.",
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_KEY_LENGTH,
                    "pattern": "^[A-Za-z0-9._:-]+$",
                },
            }
        ]
    }


_F = TypeVar("_F", bound=Callable[..., Any])


def _request_hash(request: HttpRequest) -> str:
    try:
        body: Any = json.loads(request.body or b"null")
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = bytes(request.body or b"")
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


def _key(request: HttpRequest) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ApiError(
            422,
            f"The {HEADER} header must be 1 to {MAX_KEY_LENGTH} characters.",
            code="invalid_idempotency_key",
            fields={HEADER: "1 to 255 characters"},
        )
    return key


def _replay(record: IdempotencyRecord, request_hash: str) -> Status:
    if record.request_hash != request_hash:
        raise ApiError(
            422,
            f"This {HEADER} was already used for a different request; use a new key.",
            code="idempotency_key_reused",
            fields={HEADER: "already used with another request body"},
        )
    if record.status_code == 0:
        raise ApiError(
            409,
            "The first request with this key is still running; retry in a moment.",
            code="idempotency_in_progress",
        )
    return Status(record.status_code, record.response)


def _existing(user_id: int, key: str) -> IdempotencyRecord | None:
    return IdempotencyRecord.objects.filter(user_id=user_id, key=key).first()


def idempotent(*, atomic: bool = True) -> Callable[[_F], _F]:
    """See the module docstring. The handler returns ``(status, body)``."""

    def decorator(func: _F) -> _F:
        @wraps(func)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            key = _key(request)
            if key is None:
                status, body = func(request, *args, **kwargs)
                return Status(status, body)
            user_id = int(getattr(request.user, "pk", 0) or 0)
            request_hash = _request_hash(request)
            found = _existing(user_id, key)
            if found is not None:
                return _replay(found, request_hash)
            fields = {
                "user_id": user_id,
                "key": key,
                "request_hash": request_hash,
                "method": request.method or "POST",
                "path": request.path[:300],
            }
            if not atomic:
                try:
                    # Its own savepoint: inside an outer transaction the lookup after a lost
                    # insert must still run.
                    with transaction.atomic():
                        record = IdempotencyRecord.objects.create(**fields)
                except IntegrityError:
                    found = _existing(user_id, key)
                    if found is None:
                        raise
                    return _replay(found, request_hash)
                try:
                    status, body = func(request, *args, **kwargs)
                except Exception:
                    record.delete()
                    raise
                record.status_code, record.response = status, body
                record.save(update_fields=["status_code", "response"])
                return Status(status, body)
            inserted = False
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(**fields)
                    inserted = True
                    status, body = func(request, *args, **kwargs)
                    record.status_code, record.response = status, body
                    record.save(update_fields=["status_code", "response"])
            except IntegrityError:
                if inserted:
                    raise
                found = _existing(user_id, key)
                if found is None:
                    raise
                return _replay(found, request_hash)
            return Status(status, body)

        # Resolved annotations: django-ninja evaluates string annotations in the wrapper's
        # module, which does not know the handler's schemas.
        hints = typing.get_type_hints(func, include_extras=True)
        signature = inspect.signature(func)
        wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[
                p.replace(annotation=hints.get(p.name, p.annotation))
                for p in signature.parameters.values()
            ]
        )
        return wrapper  # type: ignore[return-value]

    return decorator
