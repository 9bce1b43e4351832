"""Catalog selectors: what a customer's partner may sell and charge."""

from __future__ import annotations

from django.db.models import Q

from ispbill.catalog.models import Tariff, TaxRate
from ispbill.customers.models import Customer
from ispbill.customers.selectors import account_issuer
from ispbill.partners.models import Partner


def tariff_sellable(*, customer: Customer, tariff_id: int) -> Tariff | None:
    """The tariff if the customer's partner may sell it: its own, or an operator tariff
    made available to it (the operator's own customers: every operator tariff)."""
    partner = Partner.objects.get(pk=customer.partner_id)
    allowed = Q(partner_id=partner.pk)
    if not partner.is_home:
        allowed |= Q(partner__is_home=True, available_to=partner)
    # The base manager with an explicit filter: an operator tariff lies outside a partner's
    # scope, yet the partner may sell it.
    return Tariff._base_manager.filter(allowed, pk=tariff_id).distinct().first()


def tax_rate_for_customer(*, customer: Customer, tax_rate_id: int) -> TaxRate | None:
    """One of the tax rates of the issuer that bills ``customer``."""
    issuer = account_issuer(customer)
    return TaxRate._base_manager.filter(pk=tax_rate_id, partner=issuer).first()
