"""Audit records, written inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from django.db import models

from ispbill.core.models import AuditEvent


def audit_record(
    *,
    action: str,
    obj: models.Model,
    actor: Any = None,
    partner_id: int | None = None,
    changes: dict[str, Any] | None = None,
    remote_addr: str | None = None,
) -> AuditEvent:
    actor_obj = actor if getattr(actor, "pk", None) else None
    label = getattr(actor, "username", None) or (actor if isinstance(actor, str) else "system")
    if partner_id is None:
        partner_id = getattr(obj, "partner_id", None)
    return AuditEvent.objects.create(
        actor=actor_obj,
        actor_label=str(label),
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        partner_id=partner_id,
        changes=_jsonable(changes or {}),
        remote_addr=remote_addr,
    )


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
