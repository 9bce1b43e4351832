"""Catalog selectors: which tariffs a partner offers and may sell, and the tax rates a
customer's issuer charges (docs/domain.md, "Catalog"). The web forms, the API and the
customer import all ask here, so the rule is written once."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from ispbill.catalog.models import Tariff, TaxRate
from ispbill.customers.models import Customer
from ispbill.customers.selectors import account_issuer
from ispbill.partners.models import Partner


def tariffs_offered(*, partner_ids: Iterable[int]) -> QuerySet[Tariff]:
    """Every tariff of these partners' catalogues, active or not (services on a withdrawn
    tariff still name it): their own, and the operator's tariffs made available to them.
    A reseller's own tariff made available to another reseller is not offered to it: only
    operator tariffs are shared. The base manager with an explicit filter, since an operator
    tariff lies outside a partner's scope."""
    ids = list(partner_ids)
    return Tariff._base_manager.filter(
        Q(partner_id__in=ids) | Q(partner__is_home=True, available_to__in=ids)
    ).distinct()


def tariffs_sellable(*, partner: Partner) -> QuerySet[Tariff]:
    """The tariffs a partner may sell today: the active ones of its catalogue (the home
    partner: the operator's own)."""
    return tariffs_offered(partner_ids=[partner.pk]).filter(is_active=True)


def tariff_sellable(*, customer: Customer, tariff_id: int) -> Tariff | None:
    """The tariff if the customer's partner offers it, else None. A withdrawn tariff is
    returned, so the service refuses it with its own message ("no longer sold")."""
    return tariffs_offered(partner_ids=[customer.partner_id]).filter(pk=tariff_id).first()


def tax_rate_for_customer(*, customer: Customer, tax_rate_id: int) -> TaxRate | None:
    """One of the tax rates of the issuer that bills ``customer``."""
    issuer = account_issuer(customer)
    return TaxRate._base_manager.filter(pk=tax_rate_id, partner=issuer).first()
