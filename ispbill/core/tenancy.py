"""Tenant scoping: the one place partner scopes are opened.

Partner-owned models use ``ScopedManager(partner="partner")`` (django-scopes): a query on
them without an open scope raises ``ScopeError`` instead of returning every partner's rows.
Scopes open in exactly three places: the web request (``TenantScopeMiddleware``), the API
authentication, and background work (``system_scope``: tasks and the command line).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import models
from django.http import HttpRequest, HttpResponse
from django_scopes import scope
from django_scopes.manager import DisabledQuerySet
from django_scopes.state import get_scope

__all__ = ["PartnerScopedManager", "partner_scope", "request_scope", "system_scope"]


_M = TypeVar("_M", bound=models.Model)


class PartnerScopedManager(models.Manager[_M]):
    """The manager of every partner-owned model: fail-closed on its ``partner`` field.

    The behaviour of django-scopes' ``ScopedManager(partner="partner")`` in a class that type
    checkers can see: no scope open -> every query raises ``ScopeError``; ``partner=None`` ->
    all partners (operator, background work); an id or list of ids -> those partners only."""

    def get_queryset(self) -> models.QuerySet[_M]:
        current = get_scope()
        if not current.get("_enabled", True):
            return super().get_queryset()
        if "partner" not in current:
            return DisabledQuerySet(self.model, using=self._db, missing_scopes={"partner"})
        value = current["partner"]
        qs = super().get_queryset()
        if isinstance(value, list | tuple):
            return qs.filter(partner__in=value)
        if value is not None:
            return qs.filter(partner=value)
        return qs


@contextmanager
def system_scope() -> Iterator[None]:
    """All partners: for the billing run, the scheduler and the operator's command line."""
    with scope(partner=None):
        yield


@contextmanager
def partner_scope(partner_id: int) -> Iterator[None]:
    with scope(partner=partner_id):
        yield


def scope_kwargs_for_user(user: Any) -> dict[str, Any] | None:
    """The scope a signed-in user works in; None for nobody (anonymous)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if getattr(user, "is_operator", False):
        return {"partner": None}
    partner_id = getattr(user, "scope_partner_id", None)
    if partner_id is None:
        return None
    return {"partner": partner_id}


@contextmanager
def request_scope(user: Any) -> Iterator[None]:
    kwargs = scope_kwargs_for_user(user)
    if kwargs is None:
        # Anonymous: a scope that matches no partner, so a stray query returns nothing.
        with scope(partner=[]):
            yield
    else:
        with scope(**kwargs):
            yield


class TenantScopeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with request_scope(getattr(request, "user", None)):
            return self.get_response(request)
