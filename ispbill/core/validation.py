"""Field-level validation shared by the create/update services.

``model_validate`` runs the model's own validators and constraints (``full_clean``) and
turns Django's error into a ``DomainValidationError`` naming each field, so every service
reports bad input the same way to the web forms and the API."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models

from ispbill.core.errors import DomainValidationError

__all__ = ["field_values", "model_validate", "reject_unknown", "values_diff"]


def model_validate(obj: models.Model, *, exclude: Iterable[str] = ()) -> None:
    try:
        obj.full_clean(exclude=list(exclude))
    except DjangoValidationError as exc:
        fields: dict[str, str] = {}
        for name, errors in exc.message_dict.items():
            key = "non_field" if name == NON_FIELD_ERRORS else name
            fields[key] = " ".join(str(e) for e in errors)
        raise DomainValidationError.for_fields(fields) from exc


def reject_unknown(data: dict[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise DomainValidationError.for_fields(
            {name: "This field cannot be set here." for name in unknown}
        )


def field_values(obj: models.Model, names: Iterable[str]) -> dict[str, Any]:
    """The attribute values of ``names`` (``*_id`` for foreign keys), JSON-friendly."""
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, models.Model):
            value = value.pk
        out[name] = value if value is None or isinstance(value, bool | int | str) else str(value)
    return out


def values_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {
        key: {"before": before.get(key), "after": value}
        for key, value in after.items()
        if before.get(key) != value
    }
