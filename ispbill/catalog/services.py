"""Catalog write services: tariffs and tax rates."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.forms.models import model_to_dict

from ispbill.catalog.models import Tariff, TaxRate
from ispbill.core.audit import audit_record, model_diff
from ispbill.partners.models import Partner

TARIFF_FIELDS = (
    "name",
    "kind",
    "price_minor",
    "tax_rate",
    "period_months",
    "download_kbps",
    "upload_kbps",
    "is_active",
)


def _apply(tariff: Tariff, fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(TARIFF_FIELDS)
    if unknown:
        raise ValueError(f"not tariff fields: {sorted(unknown)}")
    for name, value in fields.items():
        setattr(tariff, name, value)
    tariff.full_clean()


@transaction.atomic
def tariff_create(
    *,
    partner: Partner,
    actor: Any = None,
    available_to: Iterable[Partner] = (),
    **fields: Any,
) -> Tariff:
    """A tariff owned by ``partner`` (the home partner or an own-invoicing partner)."""
    tariff = Tariff(partner=partner)
    _apply(tariff, fields)
    tariff.save()
    tariff.available_to.set(list(available_to))
    audit_record(
        action="tariff.created",
        obj=tariff,
        actor=actor,
        changes={"name": tariff.name, "price_minor": tariff.price_minor},
    )
    return tariff


@transaction.atomic
def tariff_update(
    *,
    tariff: Tariff,
    actor: Any = None,
    available_to: Iterable[Partner] | None = None,
    **fields: Any,
) -> Tariff:
    """Change a tariff; issued invoices keep their copied lines."""
    locked = Tariff.objects.select_for_update().get(pk=tariff.pk)
    before = model_to_dict(locked, fields=list(TARIFF_FIELDS))
    _apply(locked, fields)
    locked.save()
    if available_to is not None:
        locked.available_to.set(list(available_to))
    changes = model_diff(before, model_to_dict(locked, fields=list(TARIFF_FIELDS)))
    if changes:
        audit_record(action="tariff.updated", obj=locked, actor=actor, changes=changes)
    return locked


@transaction.atomic
def tax_rate_create(
    *, partner: Partner, name: str, rate_bp: int, category: str = "S", actor: Any = None
) -> TaxRate:
    rate = TaxRate(partner=partner, name=name, rate_bp=rate_bp, category=category)
    rate.full_clean()
    rate.save()
    audit_record(
        action="tax_rate.created",
        obj=rate,
        actor=actor,
        changes={"name": name, "rate_bp": rate_bp, "category": category},
    )
    return rate
