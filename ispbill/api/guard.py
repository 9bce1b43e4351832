"""What every API operation checks before it reads its input.

``@guard("customers.write")`` declares the capability of an operation (kept on the handler as
``required_capability``, which the isolation suite reads). The check runs right after
authentication and before the body is parsed, then every object named in the path
(``{customer_id}``, ``{invoice_id}``, ...) is looked up in the request's scope. So the order
of answers is always: 401 (who are you) -> 403 (your role may not) -> 404 (no such object
for you, another partner's id included) -> 422 (bad input). A foreign id with a bad body is
a 404, exactly as a missing id: no existence oracle.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponseBase

from ispbill.accounts.permissions import CAPABILITIES, check_capability
from ispbill.api.lookups import path_object

__all__ = ["guard", "resolved"]

_F = TypeVar("_F", bound=Callable[..., Any])

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _prechecked_run(run: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    operation: Any = run.__self__  # type: ignore[attr-defined]

    @wraps(run)
    def guarded(request: HttpRequest, **kwargs: Any) -> HttpResponseBase:
        error = operation._run_checks(request)
        if error is not None:
            return error
        try:
            capability = getattr(operation.view_func, "required_capability", None)
            if capability:
                check_capability(request, capability)
            write = request.method not in SAFE_METHODS
            objects: dict[str, Any] = {}
            for name, value in kwargs.items():
                objects[name] = path_object(request, name, value, for_write=write)
            request.api_objects = objects  # type: ignore[attr-defined]
        except Exception as exc:
            return operation.api.on_exception(request, exc)
        return run(request, **kwargs)

    return guarded


def _install(operation: Any) -> None:
    # Registered as a run decorator so django-ninja re-applies it to cloned operations.
    operation._run_decorators = [*getattr(operation, "_run_decorators", []), _prechecked_run]
    operation.run = _prechecked_run(operation.run)


def guard(capability: str) -> Callable[[_F], _F]:
    """Declare the capability an operation needs; see the module docstring."""
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}")

    def decorator(func: _F) -> _F:
        func.required_capability = capability  # type: ignore[attr-defined]
        callbacks = list(getattr(func, "_ninja_contribute_to_operation", []))
        func._ninja_contribute_to_operation = [*callbacks, _install]  # type: ignore[attr-defined]
        return func

    return decorator


def resolved(request: HttpRequest, name: str) -> Any:
    """The object the guard found for the path parameter ``name``."""
    return request.api_objects[name]  # type: ignore[attr-defined]
