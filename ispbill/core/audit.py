"""Audit records, written inside the caller's transaction.

Services call ``audit_record`` in the same ``transaction.atomic`` block as the change. Views
pass what they know about the request with ``**audit_context(request)``: the acting user,
the client address and, while an operator views as a partner, that operator."""

from __future__ import annotations

from typing import Any

from django.db import models

from ispbill.core.models import AuditEvent


def audit_record(
    *,
    action: str,
    obj: models.Model | None = None,
    actor: Any = None,
    partner_id: int | None = None,
    changes: dict[str, Any] | None = None,
    remote_addr: str | None = None,
    object_type: str = "",
    object_id: str = "",
    impersonator: Any = None,
) -> AuditEvent:
    """Record one event. ``obj`` is what was changed; without one (a failed login for an
    unknown name) ``object_type``/``object_id`` say what it was about."""
    actor_obj = actor if getattr(actor, "pk", None) else None
    label = getattr(actor, "username", None) or (actor if isinstance(actor, str) else "system")
    if partner_id is None and obj is not None:
        if obj._meta.label_lower == "partners.partner":
            partner_id = obj.pk
        else:
            partner_id = getattr(obj, "partner_id", None)
    details = dict(changes or {})
    if impersonator is not None:
        details["impersonated_by"] = getattr(impersonator, "username", str(impersonator))
    event = AuditEvent(
        actor=actor_obj,
        actor_label=str(label)[:150],
        action=action,
        object_type=obj._meta.label_lower if obj is not None else object_type,
        object_id=str(obj.pk) if obj is not None else object_id,
        partner_id=partner_id,
        changes=_jsonable(details),
        remote_addr=remote_addr or None,
    )
    # Saved through the base manager: recording must work in any scope, reading must not.
    event.save(force_insert=True)
    return event


def client_address(request: Any) -> str | None:
    """The client's address as the server saw it (a proxy sets REMOTE_ADDR via its
    WSGI/ASGI server; X-Forwarded-For is not trusted here)."""
    meta = getattr(request, "META", {}) or {}
    value = meta.get("REMOTE_ADDR") or None
    return str(value) if value else None


def audit_context(request: Any) -> dict[str, Any]:
    """``actor``, ``remote_addr`` and ``impersonator`` of a request, for ``audit_record``."""
    user = getattr(request, "user", None)
    access = getattr(request, "access", None)
    impersonating = access is not None and getattr(access, "impersonator_id", None)
    return {
        "actor": user if getattr(user, "is_authenticated", False) else None,
        "remote_addr": client_address(request),
        "impersonator": user if impersonating else None,
    }


def model_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in after
        if before.get(key) != after.get(key)
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)
