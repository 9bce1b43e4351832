"""Tenant scoping: the one place tenant scopes are opened.

Partner-owned models use ``PartnerScopedManager`` (django-scopes semantics): a query on them
without an open scope raises ``ScopeError`` instead of returning every partner's rows.
Scopes open in exactly three places: the web request and the API token authentication
(both in ``ispbill.accounts.middleware.TenantScopeMiddleware``, through ``access_scope``),
and background work (``system_scope``: tasks and the command line).

A scope has three dimensions:

- ``partner``: ``None`` for all partners (operator staff, background work), an id, or a
  list of ids (``[]`` matches nothing: anonymous requests).
- ``customer``: ``None``, or the one customer a portal user may reach. Every scoped query
  is then filtered to that customer by the manager itself (``Customer`` by its id, a model
  with a ``customer`` foreign key by that key) and models that cannot be tied to one
  customer return nothing, so a portal selector that forgets its filter cannot leak.
- ``account``: ids of the customer records through which the operator bills the scoped
  partner (aggregated mode, wholesale charges). Rows of models with a ``customer`` foreign
  key billed to those accounts are readable by the partner; the ``Customer`` rows
  themselves are not, and ``get_scoped_or_404(..., for_write=True)`` refuses them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from django.db import models
from django.db.models import Q
from django.http import Http404
from django_scopes import scope
from django_scopes.manager import DisabledQuerySet
from django_scopes.state import get_scope

__all__ = [
    "UNSCOPED_MODELS",
    "PartnerScopedManager",
    "ScopeSource",
    "access_scope",
    "current_customer_id",
    "current_partner_ids",
    "get_scoped_or_404",
    "partner_scope",
    "system_scope",
]


_M = TypeVar("_M", bound=models.Model)

_CUSTOMER_MODEL = "customers.customer"

# Models with a foreign-key path to a partner or a customer that do NOT use
# PartnerScopedManager, each with the reason. tests/security/test_scoped_models.py fails for
# any other such model: a new partner- or customer-owned model is scoped, or listed here.
UNSCOPED_MODELS: dict[str, str] = {
    "partners.partner": "the tenant itself; get_scoped_or_404 limits a scoped user to its "
    "own partner, and partner lists are operator-only (partners.read)",
    "accounts.user": "sign-in, sessions, tokens and password reset load users before any "
    "scope exists; user lists filter by the access's partner (accounts.services.users_visible, "
    "api.lookups.users_visible)",
    "accounts.apitoken": "always read through its user: own tokens, or users_visible",
    "admin.logentry": "Django's admin log; the admin site is not mounted",
    "api.idempotencyrecord": "keyed by the requesting user and the Idempotency-Key; never listed",
    "billing.billingrun": "an operator run has no partner (scope_partner NULL bills everyone); "
    "read filtered by scope_partner (web.views_finance._runs, api.lookups.runs_visible)",
    "invoicing.numbersequence": "a counter keyed by issuer, read only by the numbering service "
    "for the issuer it numbers for; never listed nor shown",
    "invoicing.invoiceline": "reached only through its invoice, which is scoped",
    "invoicing.invoicetax": "reached only through its invoice, which is scoped",
    "invoicing.creditnoteline": "reached only through its credit note, which is scoped",
    "invoicing.creditnotetax": "reached only through its credit note, which is scoped",
}


def _customer_path(model: type[models.Model]) -> str | None:
    """How a row of ``model`` belongs to one customer, or None when it cannot be told."""
    if model._meta.label_lower == _CUSTOMER_MODEL:
        return "pk"
    try:
        fk = model._meta.get_field("customer")
    except Exception:
        return None
    related = getattr(fk, "related_model", None)
    if related is not None and related._meta.label_lower == _CUSTOMER_MODEL:
        return "customer_id"
    return None


class PartnerScopedManager(models.Manager[_M]):
    """The manager of every partner-owned model: fail-closed on its ``partner`` field.

    No scope open -> every query raises ``ScopeError``; ``partner=None`` -> all partners;
    an id or list of ids -> those partners only; a ``customer`` in the scope narrows every
    query to that customer (or to nothing for models without a customer)."""

    def get_queryset(self) -> models.QuerySet[_M]:
        current = get_scope()
        if not current.get("_enabled", True):
            return super().get_queryset()
        if "partner" not in current:
            return DisabledQuerySet(self.model, using=self._db, missing_scopes={"partner"})
        qs = super().get_queryset()
        customer = current.get("customer")
        if customer is not None:
            path = _customer_path(self.model)
            if path is None:
                return qs.none()
            return qs.filter(**{path: customer})
        value = current["partner"]
        if value is None:
            return qs
        cond = Q(partner__in=value) if isinstance(value, list | tuple) else Q(partner=value)
        accounts = current.get("account") or ()
        if accounts and _customer_path(self.model) == "customer_id":
            cond |= Q(customer_id__in=list(accounts))
        return qs.filter(cond)


@contextmanager
def system_scope() -> Iterator[None]:
    """All partners: for the billing run, the scheduler and the operator's command line."""
    with scope(partner=None, customer=None, account=()):
        yield


@contextmanager
def partner_scope(partner_id: int) -> Iterator[None]:
    """One partner's data: for background work done on behalf of that partner."""
    with scope(partner=partner_id, customer=None, account=()):
        yield


class ScopeSource(Protocol):
    """What a scope is opened from: a request's effective access
    (``ispbill.accounts.permissions.Access``), which knows its partner, customer and
    accounts; the core knows only this shape."""

    def scope_kwargs(self) -> dict[str, Any]: ...


@contextmanager
def access_scope(access: ScopeSource) -> Iterator[None]:
    """The scope of a request's effective access (web session or API token)."""
    with scope(**access.scope_kwargs()):
        yield


def current_partner_ids() -> list[int] | None:
    """The partners of the open scope; None for all partners."""
    value = get_scope().get("partner")
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return [int(v) for v in value]
    return [int(value)]


def current_customer_id() -> int | None:
    """The customer a portal scope is limited to, if any."""
    value = get_scope().get("customer")
    return int(value) if value is not None else None


def _scoped_queryset(source: Any) -> models.QuerySet[Any]:
    if isinstance(source, models.QuerySet):
        qs = source
    elif isinstance(source, type) and issubclass(source, models.Model):
        qs = source._default_manager.all()
    else:
        raise TypeError(f"expected a model or queryset, got {source!r}")
    model = qs.model
    if model._meta.label_lower == "partners.partner":
        # Partners are not tenant rows; a scoped user sees its own partner only.
        partners = current_partner_ids()
        if get_scope().get("customer") is not None:
            partners = [] if partners is None else partners
        return qs if partners is None else qs.filter(pk__in=partners)
    if not isinstance(model._default_manager, PartnerScopedManager):
        raise TypeError(
            f"{model._meta.label} is not partner-scoped; filter it explicitly "
            "(for example by the requesting user) instead of get_scoped_or_404"
        )
    return qs


def get_scoped_or_404(source: Any, *, for_write: bool = False, **lookup: Any) -> Any:
    """The object of the open scope matching ``lookup``, else 404.

    Another partner's or another customer's object answers 404 exactly like a missing one.
    ``for_write=True`` also refuses rows the scope may only read (a partner's account
    invoices belong to the home partner): views that change an object pass it."""
    qs = _scoped_queryset(source)
    try:
        obj = qs.get(**lookup)
    except (qs.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404(f"No {qs.model._meta.verbose_name} matches the given query.") from exc
    if for_write:
        partners = current_partner_ids()
        owner = obj.pk if qs.model._meta.label_lower == "partners.partner" else None
        owner = owner if owner is not None else getattr(obj, "partner_id", None)
        if partners is not None and owner not in partners:
            raise Http404(f"No {qs.model._meta.verbose_name} matches the given query.")
    return obj
