"""Read-side of billing accounts."""

from __future__ import annotations

from ispbill.customers.models import Customer
from ispbill.partners.models import Partner, PartnerMode


def account_issuer(customer: Customer) -> Partner:
    """Who a billing account pays: its partner if that partner issues its own documents,
    else the home partner (percentage customers, partner accounts)."""
    partner = Partner.objects.get(pk=customer.partner_id)
    if partner.mode in (PartnerMode.DIRECT, PartnerMode.OWN_INVOICING):
        return partner
    return Partner.objects.get(is_home=True)
