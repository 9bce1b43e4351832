"""The generic invariant of ``ispbill check`` that no app owns: references the database does
not constrain point at existing rows. Each app registers its own checks (its ``checks``
module, imported by its AppConfig.ready)."""

from __future__ import annotations

from django.apps import apps
from django.db.models import Exists, OuterRef

from ispbill.core.invariants import Breach, invariant

LIMIT = 20


def _ids(prefix: str, values: object) -> tuple[str, ...]:
    return tuple(f"{prefix}:{v}" for v in list(values)[:LIMIT])  # type: ignore[call-overload]


@invariant("data.references")
def check_references() -> list[Breach]:
    """References the database does not constrain (``db_constraint=False``: partners, tariffs,
    billing runs, invoices and journal entries on the high-volume tables, see
    ispbill/billing/models.py Charge) point at existing rows, whichever model has them."""
    out = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if not field.is_relation or getattr(field, "db_constraint", True):
                continue
            target = field.related_model
            assert target is not None and not isinstance(target, str)
            # NOT EXISTS, not NOT IN: PostgreSQL plans it as a hash anti-join, which spills
            # to disk when large; NOT IN hashes the target's ids in work_mem (4 MB by
            # default) and, past that, scans them again for every row: quadratic at a
            # million. Unordered and unlimited (there are normally none): a LIMIT would
            # make the planner probe the target's index once per row instead.
            exists = Exists(target._base_manager.filter(pk=OuterRef(field.attname)))
            dangling = sorted(
                model._base_manager.filter(**{f"{field.attname}__isnull": False})
                .filter(~exists)
                .order_by()
                .values_list("pk", flat=True)
            )[:LIMIT]
            if dangling:
                name = model._meta.model_name
                out.append(
                    Breach(
                        "data.references",
                        f"{name}.{field.name} points at a missing {target._meta.model_name}",
                        _ids(str(name), dangling),
                    )
                )
    return out
