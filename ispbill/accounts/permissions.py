"""Who may do what (docs/domain.md, "Who may do what"): named capabilities per role and mode.

Two separate questions, answered in two places:

- *May this role do this kind of thing at all?* -- a capability, checked here:
  ``user_can(user, "finance.write")``, ``request_can(request, ...)``, the
  ``@require_capability(...)`` view decorator (403 when the role lacks it).
- *Is this object one this user may see?* -- the open tenant scope, enforced by the
  partner-scoped managers (``ispbill.core.tenancy``); ``get_scoped_or_404`` answers 404 for
  another partner's or another customer's object, never 403.

A request's effective access (``Access``) is computed once by ``TenantScopeMiddleware`` and
kept on ``request.access``; it accounts for an operator administrator viewing as a partner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

from ispbill.accounts.models import OPERATOR_ROLES, Role
from ispbill.partners.models import Partner

__all__ = [
    "CAPABILITIES",
    "Access",
    "access_for_request",
    "access_for_user",
    "capabilities_for",
    "check_capability",
    "request_can",
    "require_capability",
    "user_can",
]

# Every capability, with what it allows. A view declares exactly one of these.
CAPABILITIES: dict[str, str] = {
    "customers.read": "See customers and their services",
    "customers.write": "Create and change customers and their services",
    "catalog.read": "See tariffs, tax rates and partner prices",
    "catalog.write": "Create and change tariffs and tax rates",
    "finance.read": "See invoices, credit notes, payments, balances and the ledger",
    "finance.write": "Issue invoices and credit notes, record payments and refunds",
    "finance.pay": "Pay the partner's own (aggregated or wholesale) invoices",
    "billing.run": "Start billing runs",
    "collections.manage": "SEPA direct debit batches: create, submit, book, import returns",
    "commission.read": "See commission statements",
    "commission.manage": "Approve commission statements and record payouts",
    "partners.read": "See every partner and its settings",
    "partners.manage": "Create, change and disable partners",
    "issuer.manage": "Change the partner's own issuer settings, numbering and templates",
    "webhooks.manage": "Webhook endpoints (of the own partner for partner admins): create, "
    "change, delete, see their deliveries and replay them; see the events",
    "users.manage": "Create and change users (of the own partner for partner admins)",
    "audit.read": "Browse the audit log (of the own partner for partner admins)",
    "impersonate": "View the application as a partner",
    "portal.read": "Customer portal: own services, invoices, PDFs, payments and balance",
    "portal.change_plan": "Customer portal: change the plan of own services (where the issuer "
    "offers it)",
    "portal.topup": "Customer portal: buy extra data volume (top-ups) for own services",
    "tokens.own": "Create and revoke one's own API tokens",
}

_ALL = frozenset(CAPABILITIES)
_COMMON = frozenset({"tokens.own"})

_OPERATOR: dict[str, frozenset[str]] = {
    Role.ADMIN: _ALL - {"portal.read", "portal.change_plan", "portal.topup"},
    Role.ACCOUNTANT: _COMMON
    | {
        "customers.read",
        "catalog.read",
        "finance.read",
        "finance.write",
        "billing.run",
        "collections.manage",
        "commission.read",
        "commission.manage",
        "partners.read",
        "audit.read",
    },
    Role.SUPPORT: _COMMON
    | {
        "customers.read",
        "customers.write",
        "catalog.read",
        "finance.read",
        "commission.read",
        "partners.read",
    },
}

# Partner administrators per partner mode; staff get the same minus _PARTNER_ADMIN_ONLY.
_PARTNER_ADMIN: dict[str, frozenset[str]] = {
    "own_invoicing": _COMMON
    | {
        "customers.read",
        "customers.write",
        "catalog.read",
        "catalog.write",
        "finance.read",
        "finance.write",
        "finance.pay",
        "billing.run",
        "collections.manage",
        "issuer.manage",
        "users.manage",
        "audit.read",
        "webhooks.manage",
    },
    "percentage": _COMMON
    | {
        "customers.read",
        "customers.write",
        "catalog.read",
        "finance.read",
        "commission.read",
        "users.manage",
        "audit.read",
        "webhooks.manage",
    },
    "aggregated": _COMMON
    | {
        "customers.read",
        "customers.write",
        "catalog.read",
        "finance.read",
        "finance.pay",
        "users.manage",
        "audit.read",
        "webhooks.manage",
    },
}
_PARTNER_ADMIN_ONLY = frozenset(
    {
        "users.manage",
        "audit.read",
        "issuer.manage",
        "catalog.write",
        "billing.run",
        "webhooks.manage",
    }
)
# A disabled partner's staff keep reading their documents; they change nothing.
_READ_ONLY = frozenset(
    {
        "customers.read",
        "catalog.read",
        "finance.read",
        "commission.read",
        "audit.read",
        "portal.read",
        "tokens.own",
    }
)
# Customers use the portal; the API serves staff (a customer's token could read only /me).
_CUSTOMER = frozenset({"portal.read", "portal.change_plan", "portal.topup"})


def capabilities_for(
    role: str | None, partner_mode: str | None = None, *, partner_active: bool = True
) -> frozenset[str]:
    """The capabilities of a role (for partner roles, in a partner of that mode)."""
    caps: frozenset[str]
    if role in _OPERATOR:
        caps = _OPERATOR[role]
    elif role == Role.PARTNER_ADMIN:
        caps = _PARTNER_ADMIN.get(partner_mode or "", frozenset())
    elif role == Role.PARTNER_STAFF:
        caps = _PARTNER_ADMIN.get(partner_mode or "", frozenset()) - _PARTNER_ADMIN_ONLY
    elif role == Role.CUSTOMER:
        caps = _CUSTOMER
    else:
        caps = frozenset()
    if not partner_active and role not in OPERATOR_ROLES:
        caps = caps & _READ_ONLY
    return caps


@dataclass(frozen=True)
class Access:
    """What one request may reach: the scope (partner, customer) and the capabilities.

    ``impersonator_id`` is set when an operator administrator views as a partner: the access
    is then that partner's administrator's, and the audit trail names the operator."""

    user_id: int | None = None
    role: str | None = None
    partner_id: int | None = None
    partner_mode: str | None = None
    customer_id: int | None = None
    # Customer records the operator bills this partner through (its account): the partner
    # reads the invoices and payments of that account, nothing else of the home partner.
    account_ids: tuple[int, ...] = ()
    impersonator_id: int | None = None
    capabilities: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def is_operator(self) -> bool:
        """Operator staff working as themselves (not while viewing as a partner)."""
        return self.role in OPERATOR_ROLES and self.impersonator_id is None

    @property
    def is_impersonating(self) -> bool:
        return self.impersonator_id is not None

    def can(self, capability: str) -> bool:
        if capability not in CAPABILITIES:
            raise ValueError(f"unknown capability {capability!r}")
        return capability in self.capabilities

    def scope_kwargs(self) -> dict[str, Any]:
        """The tenant scope to open for this access (see ``ispbill.core.tenancy``)."""
        if not self.is_authenticated:
            return {"partner": [], "customer": None, "account": ()}
        if self.is_operator:
            return {"partner": None, "customer": None, "account": ()}
        if self.partner_id is None:
            return {"partner": [], "customer": None, "account": ()}
        if self.role == Role.CUSTOMER:
            if self.customer_id is None:
                return {"partner": [], "customer": None, "account": ()}
            return {"partner": self.partner_id, "customer": self.customer_id, "account": ()}
        return {"partner": self.partner_id, "customer": None, "account": self.account_ids}


ANONYMOUS = Access()


def _partner_facts(partner_id: int | None) -> tuple[str | None, bool, tuple[int, ...]]:
    if partner_id is None:
        return None, True, ()
    row = Partner.objects.filter(pk=partner_id).values("mode", "is_active", "account_id").first()
    if row is None:
        return None, False, ()
    accounts = (row["account_id"],) if row["account_id"] else ()
    return row["mode"], bool(row["is_active"]), accounts


def access_for_user(user: Any, *, impersonate_partner_id: int | None = None) -> Access:
    """The access of a signed-in user; of a partner administrator when an operator
    administrator views as ``impersonate_partner_id``."""
    if user is None or not getattr(user, "is_authenticated", False):
        return ANONYMOUS
    if not getattr(user, "is_active", True):
        return ANONYMOUS
    role = getattr(user, "role", None)
    if impersonate_partner_id is not None and role == Role.ADMIN:
        mode, active, accounts = _partner_facts(impersonate_partner_id)
        if mode is not None:
            return Access(
                user_id=user.pk,
                role=Role.PARTNER_ADMIN,
                partner_id=impersonate_partner_id,
                partner_mode=mode,
                account_ids=accounts,
                impersonator_id=user.pk,
                capabilities=capabilities_for(Role.PARTNER_ADMIN, mode, partner_active=active),
            )
    if role in OPERATOR_ROLES:
        return Access(user_id=user.pk, role=role, capabilities=capabilities_for(role))
    partner_id = getattr(user, "partner_id", None)
    mode, active, accounts = _partner_facts(partner_id)
    return Access(
        user_id=user.pk,
        role=role,
        partner_id=partner_id,
        partner_mode=mode,
        customer_id=getattr(user, "customer_id", None) if role == Role.CUSTOMER else None,
        account_ids=accounts if role in (Role.PARTNER_ADMIN, Role.PARTNER_STAFF) else (),
        capabilities=capabilities_for(role, mode, partner_active=active),
    )


IMPERSONATION_SESSION_KEY = "ispbill_view_as_partner"


def access_for_request(request: HttpRequest) -> Access:
    """The access of a request, as ``TenantScopeMiddleware`` stores it on ``request.access``."""
    cached = getattr(request, "access", None)
    if isinstance(cached, Access):
        return cached
    user = getattr(request, "user", None)
    session = getattr(request, "session", None)
    impersonate = session.get(IMPERSONATION_SESSION_KEY) if session is not None else None
    return access_for_user(
        user, impersonate_partner_id=impersonate if isinstance(impersonate, int) else None
    )


def user_can(user: Any, capability: str) -> bool:
    """Whether a user's role (in its partner's mode) has a capability."""
    return access_for_user(user).can(capability)


def request_can(request: HttpRequest, capability: str) -> bool:
    """Whether the request's effective access (impersonation included) has a capability."""
    return access_for_request(request).can(capability)


def check_capability(request: HttpRequest, capability: str) -> None:
    """Raise ``PermissionDenied`` (403) unless the request has the capability.

    For API handlers and service entry points; web views use ``@require_capability``."""
    if not request_can(request, capability):
        raise PermissionDenied(f"missing capability {capability}")


_V = TypeVar("_V", bound=Callable[..., HttpResponseBase])


def require_capability(capability: str) -> Callable[[_V], _V]:
    """View decorator: anonymous -> login page; a role without ``capability`` -> 403.

    The capability is kept on the view (``view.required_capability``) so the isolation
    suite can test every role against every route without being told about it."""
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}")

    def decorator(view: _V) -> _V:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not getattr(request.user, "is_authenticated", False):
                return redirect_to_login(request.get_full_path())
            check_capability(request, capability)
            return view(request, *args, **kwargs)

        wrapped.required_capability = capability  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator
