"""What every panel view needs: the request's partner and currency, pagination, sorting."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import reverse

from ispbill.accounts.permissions import Access, access_for_request
from ispbill.core.audit import audit_context
from ispbill.customers.models import Customer
from ispbill.customers.selectors import account_issuer
from ispbill.gateways.models import Autopay
from ispbill.gateways.services import gateway_settings_for
from ispbill.invoicing.templates import issuer_logo
from ispbill.partners.brand import Brand, issuer_brand
from ispbill.partners.models import Partner
from ispbill.sepa.models import Mandate
from ispbill.sepa.notices import creditor_settings_for

PAGE_SIZE = 25


def access_of(request: HttpRequest) -> Access:
    return access_for_request(request)


def panel_partner(request: HttpRequest) -> Partner | None:
    """The partner whose panel this is (None for the operator's own staff)."""
    access = access_of(request)
    if access.is_operator or access.partner_id is None:
        return None
    return Partner.objects.get(pk=access.partner_id)


def home_partner() -> Partner:
    return Partner.objects.get(is_home=True)


def panel_currency(request: HttpRequest) -> str:
    partner = panel_partner(request)
    return (partner or home_partner()).currency


def actor(request: HttpRequest) -> dict[str, Any]:
    """Keyword arguments naming who acts, for services that audit (``actor=``)."""
    return {"actor": audit_context(request)["actor"]}


def paginate(request: HttpRequest, qs: Any, size: int = PAGE_SIZE) -> Page:
    return Paginator(qs, size).get_page(request.GET.get("page"))


def sorted_by(
    request: HttpRequest, qs: QuerySet[Any], allowed: dict[str, str], default: str
) -> tuple[QuerySet[Any], str]:
    """Order ``qs`` by the ``sort`` parameter (``-`` for descending) among ``allowed``."""
    key = request.GET.get("sort", default)
    name = key.lstrip("-")
    if name not in allowed:
        key, name = default, default.lstrip("-")
    field = allowed[name]
    return qs.order_by(("-" if key.startswith("-") else "") + field, "-pk"), key


def scoped_row(
    qs: QuerySet[Any], request: HttpRequest, *, partner_field: str, **lookup: Any
) -> Any:
    """A row of a model without a scoped manager: the operator's, or the panel partner's;
    anything else answers 404 like a missing row."""
    access = access_of(request)
    if not access.is_operator:
        qs = qs.filter(**{partner_field: access.partner_id or 0})
    row = qs.filter(**lookup).first()
    if row is None:
        raise Http404("No such object.")
    return row


def brand_name(request: HttpRequest) -> str:
    """The name beside the logo: a partner's panel shows the partner; the portal shows the
    customer's provider by its legal name (its issuer: the own-invoicing partner, else the
    operator), never an internal name such as the home partner's "Main"."""
    access = access_of(request)
    if access.customer_id is not None and not access.is_operator:
        customer = Customer.objects.filter(pk=access.customer_id).first()
        if customer is None:
            return ""
        issuer = account_issuer(customer)
        return issuer.legal_name or issuer.name
    partner = panel_partner(request)
    return partner.name if partner else ""


def portal_customer(request: HttpRequest) -> Customer | None:
    """The signed-in customer's account (None for staff)."""
    access = access_of(request)
    if access.customer_id is None or access.is_operator:
        return None
    return Customer.objects.filter(pk=access.customer_id).first()


def portal_issuer(request: HttpRequest) -> Partner | None:
    """The issuer of the signed-in customer (None for staff): whose brand the portal shows."""
    customer = portal_customer(request)
    return account_issuer(customer) if customer is not None else None


def portal_payment_options(customer: Customer, issuer: Partner) -> dict[str, bool]:
    """Which ways to pay automatically the customer's issuer offers, for the portal's menu
    and its pages: direct debit (enabled creditor settings) and autopay by card (a usable
    gateway account). A customer who already has a mandate or a saved card keeps the page,
    to revoke or turn it off, even if the issuer no longer offers it."""
    debit = bool(creditor_settings_for([issuer.pk])) or (
        Mandate.objects.filter(customer=customer).exists()
    )
    card = gateway_settings_for(issuer.pk) is not None or (
        Autopay.objects.filter(customer=customer).exclude(payment_method_id="").exists()
    )
    return {"portal_offers_debit": debit, "portal_offers_card": card}


def portal_brand_context(request: HttpRequest) -> dict[str, Any]:
    """Template context (a context processor): ``portal_brand``, the brand of the signed-in
    customer's issuer, ``portal_logo_url`` when it has a logo, ``portal_account``, the
    customer (whose name the header shows: the account holder, not the login's), and the
    ways to pay it offers (``portal_payment_options``). Staff pages get none of it; the
    sign-in page stays neutral."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    customer = portal_customer(request)
    if customer is None:
        return {}
    issuer = account_issuer(customer)
    brand: Brand = issuer_brand(issuer)
    logo = issuer_logo(issuer)
    return {
        "portal_brand": brand,
        "portal_account": customer,
        "portal_logo_url": (
            reverse("web:brand_logo", kwargs={"partner_id": issuer.pk})
            + f"?v={int(logo.uploaded_at.timestamp())}"
            if logo is not None
            else ""
        ),
        **portal_payment_options(customer, issuer),
    }


def page(request: HttpRequest, template: str, context: dict[str, Any], nav: str) -> Any:
    context.setdefault("nav", nav)
    context.setdefault("panel_partner", panel_partner(request))
    context.setdefault("brand_name", brand_name(request))
    return render(request, template, context)


__all__ = ["TemplateResponse", "page"]
