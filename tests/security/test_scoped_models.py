"""Tenancy that cannot be forgotten (docs/security.md).

Every model with a foreign-key path to a partner or a customer uses the fail-closed
``PartnerScopedManager``, or is listed with its reason in ``UNSCOPED_MODELS``
(ispbill/core/tenancy.py). A model added later is checked without editing this file."""

from __future__ import annotations

from django.apps import apps
from django.db import models

from ispbill.core.tenancy import UNSCOPED_MODELS, PartnerScopedManager

TENANT_MODELS = {"partners.partner", "customers.customer"}


def _tenant_path(model: type[models.Model], seen: frozenset[str] = frozenset()) -> list[str]:
    """The foreign keys leading from ``model`` to a partner or a customer, or []."""
    label = model._meta.label_lower
    for f in model._meta.get_fields():
        if not (f.is_relation and f.concrete and (f.many_to_one or f.one_to_one)):
            continue
        related = f.related_model
        if related is None or related is models.Model:  # pragma: no cover - generic keys
            continue
        target = related._meta.label_lower
        if target in TENANT_MODELS:
            return [f"{label}.{f.name}"]
        if target in seen or target == label:
            continue
        rest = _tenant_path(related, seen | {label})
        if rest:
            return [f"{label}.{f.name}", *rest]
    return []


def _scoped(model: type[models.Model]) -> bool:
    return isinstance(model._default_manager, PartnerScopedManager)


def test_every_partner_or_customer_model_is_scoped_or_exempt():
    unguarded = []
    for model in apps.get_models():
        label = model._meta.label_lower
        if label in TENANT_MODELS - {"partners.partner"}:
            assert _scoped(model), f"{label} must use PartnerScopedManager"
            continue
        path = _tenant_path(model)
        if path and not _scoped(model) and label not in UNSCOPED_MODELS:
            unguarded.append(f"{label} (via {' -> '.join(path)})")
    assert not unguarded, (
        "models that belong to a partner or customer but are neither scoped nor exempt: "
        + "; ".join(unguarded)
        + ". Give them `objects = PartnerScopedManager()` or list them, with the reason, "
        "in UNSCOPED_MODELS (ispbill/core/tenancy.py)."
    )


def test_every_manager_of_a_scoped_model_is_scoped():
    """A second, plain manager (``all_objects = models.Manager()``) would be a way around."""
    for model in apps.get_models():
        if not _scoped(model):
            continue
        for manager in model._meta.managers:
            assert isinstance(manager, PartnerScopedManager), (
                f"{model._meta.label}.{manager.name} is not scoped"
            )


def test_exemptions_are_current_and_explained():
    labels = {m._meta.label_lower for m in apps.get_models()}
    for label, reason in UNSCOPED_MODELS.items():
        assert label in labels, f"UNSCOPED_MODELS names {label}, which is not a model"
        model = apps.get_model(label)
        assert not _scoped(model), f"{label} is scoped now: remove it from UNSCOPED_MODELS"
        assert _tenant_path(model), f"{label} has no path to a partner or customer"
        assert len(reason) > 20, f"say why {label} is exempt"


def test_the_commission_models_are_scoped():
    for label in (
        "partners.commissionaccrual",
        "partners.commissionstatement",
        "partners.commissionoverride",
    ):
        assert _scoped(apps.get_model(label)), label
