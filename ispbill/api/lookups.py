"""Path parameters -> objects, in the request's scope (404 for anything outside it).

Partner-scoped models go through ``get_scoped_or_404``; the few models that are not
partner-scoped (partners, users, tokens, billing runs, commission statements) are filtered
here explicitly by the request's access."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest

from ispbill.accounts.models import ApiToken, User
from ispbill.accounts.permissions import Access, access_for_request
from ispbill.billing.models import PlanChange
from ispbill.billing.selectors import billing_runs_visible
from ispbill.catalog.models import PartnerPrice, Tariff, TaxRate
from ispbill.catalog.selectors import tariffs_offered
from ispbill.commission.selectors import commission_statements_visible
from ispbill.core.models import AuditEvent
from ispbill.core.tenancy import current_customer_id, current_partner_ids, get_scoped_or_404
from ispbill.customers.models import Customer
from ispbill.events.models import Delivery, WebhookEndpoint
from ispbill.gateways.models import PaymentSession
from ispbill.invoicing.models import CreditNote, EmailDelivery, Invoice
from ispbill.partners.models import Partner
from ispbill.payments.models import Payment
from ispbill.sepa.models import Collection, Mandate
from ispbill.subscriptions.models import OneTimeCharge, Service

__all__ = [
    "path_object",
    "tariffs_visible",
    "tokens_visible",
    "users_visible",
]


def _pk(value: Any) -> int:
    try:
        pk = int(str(value))
    except (TypeError, ValueError) as exc:
        raise Http404 from exc
    if pk <= 0 or pk > 2**62:
        raise Http404
    return pk


def _one(qs: QuerySet[Any], pk: int) -> Any:
    obj = qs.filter(pk=pk).first()
    if obj is None:
        raise Http404
    return obj


def users_visible(access: Access) -> QuerySet[User]:
    """Operator administrators see every user; partner administrators their partner's."""
    if access.is_operator:
        return User.objects.all()
    if access.partner_id is None or access.customer_id is not None:
        return User.objects.none()
    return User.objects.filter(partner_id=access.partner_id)


def tokens_visible(access: Access) -> QuerySet[ApiToken]:
    """One's own tokens; with ``users.manage`` also those of the users one manages."""
    own = Q(user_id=access.user_id)
    if access.can("users.manage"):
        return ApiToken.objects.filter(own | Q(user__in=users_visible(access)))
    return ApiToken.objects.filter(own)


def tariffs_visible(access: Access) -> QuerySet[Tariff]:
    """A partner sees its own tariffs and the operator tariffs it may sell."""
    partners = current_partner_ids()
    if partners is None:
        return Tariff.objects.all()
    if current_customer_id() is not None:
        return Tariff.objects.none()
    return tariffs_offered(partner_ids=partners)


def _scoped(model: type[Any]) -> Callable[[HttpRequest, int, bool], Any]:
    def lookup(request: HttpRequest, pk: int, for_write: bool) -> Any:
        return get_scoped_or_404(model, pk=pk, for_write=for_write)

    return lookup


def _partner(request: HttpRequest, pk: int, for_write: bool) -> Partner:
    return get_scoped_or_404(Partner, pk=pk, for_write=for_write)


def _tariff(request: HttpRequest, pk: int, for_write: bool) -> Tariff:
    if for_write:
        return get_scoped_or_404(Tariff, pk=pk, for_write=True)
    return _one(tariffs_visible(access_for_request(request)), pk)


def _with(
    visible: Callable[[Access], QuerySet[Any]],
) -> Callable[[HttpRequest, int, bool], Any]:
    def lookup(request: HttpRequest, pk: int, for_write: bool) -> Any:
        return _one(visible(access_for_request(request)), pk)

    return lookup


RESOLVERS: dict[str, Callable[[HttpRequest, int, bool], Any]] = {
    "partner_id": _partner,
    "customer_id": _scoped(Customer),
    "tariff_id": _tariff,
    "tax_rate_id": _scoped(TaxRate),
    "partner_price_id": _scoped(PartnerPrice),
    "service_id": _scoped(Service),
    "plan_change_id": _scoped(PlanChange),
    "one_time_charge_id": _scoped(OneTimeCharge),
    "invoice_id": _scoped(Invoice),
    "credit_note_id": _scoped(CreditNote),
    "email_id": _scoped(EmailDelivery),
    "payment_id": _scoped(Payment),
    "mandate_id": _scoped(Mandate),
    "collection_id": _scoped(Collection),
    "session_id": _scoped(PaymentSession),
    "event_id": _scoped(AuditEvent),
    "endpoint_id": _scoped(WebhookEndpoint),
    "delivery_id": _scoped(Delivery),
    "run_id": _with(lambda _access: billing_runs_visible()),
    "statement_id": _with(lambda _access: commission_statements_visible()),
    "user_id": _with(users_visible),
    "token_id": _with(tokens_visible),
}


def path_object(request: HttpRequest, name: str, value: Any, *, for_write: bool) -> Any:
    """The object a path parameter names, else 404."""
    resolver = RESOLVERS.get(name)
    if resolver is None:
        raise LookupError(f"no resolver for the path parameter {name!r}")
    return resolver(request, _pk(value), for_write)
