"""Read-side of billing accounts."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from ispbill.customers.models import Customer
from ispbill.partners.models import Partner, PartnerMode


def account_issuer(customer: Customer) -> Partner:
    """Who a billing account pays: its partner if that partner issues its own documents,
    else the home partner (percentage customers, partner accounts)."""
    partner = Partner.objects.get(pk=customer.partner_id)
    if partner.mode in (PartnerMode.DIRECT, PartnerMode.OWN_INVOICING):
        return partner
    return Partner.objects.get(is_home=True)


def customers_matching(qs: QuerySet[Customer], query: str) -> QuerySet[Customer]:
    """The customers of ``qs`` whose name, number (``reference``), e-mail, company or city
    contains ``query`` (any case); an empty query narrows nothing. The one customer search
    of the web panel: the customers list and the payment form's customer picker
    (docs/payments.md, "Recording a payment by hand")."""
    query = query.strip()
    if not query:
        return qs
    return qs.filter(
        Q(name__icontains=query)
        | Q(reference__icontains=query)
        | Q(email__icontains=query)
        | Q(company__icontains=query)
        | Q(city__icontains=query)
    )
