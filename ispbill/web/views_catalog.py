"""The catalogue: tariffs and tax rates."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from ispbill.accounts.permissions import require_capability
from ispbill.catalog.models import Tariff, TaxRate
from ispbill.catalog.selectors import partner_pays_wholesale, partner_price_list, tariffs_offered
from ispbill.catalog.services import (
    tariff_create,
    tariff_update,
    tax_rate_create,
    tax_rate_update,
)
from ispbill.core.errors import DomainValidationError
from ispbill.core.tenancy import get_scoped_or_404
from ispbill.partners.brand import issuer_brand
from ispbill.partners.models import Partner
from ispbill.web.forms.catalog import TariffForm, TaxRateEditForm, TaxRateForm
from ispbill.web.forms.fields import REFUSED, bp, errors_to_form, percent
from ispbill.web.panel import (
    access_of,
    actor,
    home_partner,
    page,
    paginate,
    panel_partner,
    sorted_by,
)


def _catalog_owner(request: HttpRequest) -> Partner:
    return panel_partner(request) or home_partner()


@require_capability("catalog.read")
def tariffs(request: HttpRequest) -> HttpResponse:
    qs = Tariff.objects.select_related("tax_rate", "partner")
    access = access_of(request)
    if not access.is_operator:
        qs = tariffs_offered(partner_ids=[access.partner_id or 0]).select_related(
            "tax_rate", "partner"
        )
    query = request.GET.get("q", "").strip()
    if query:
        qs = qs.filter(name__icontains=query)
    qs, sort = sorted_by(
        request, qs.distinct(), {"name": "name", "price": "price_minor", "kind": "kind"}, "name"
    )
    if access.is_operator:
        qs = qs.prefetch_related("available_to")
    tariff_page = paginate(request, qs)
    partner = panel_partner(request)
    wholesale = partner is not None and partner_pays_wholesale(partner)
    if wholesale and partner is not None:
        # The reseller's own price of each operator tariff, as the operator bills it.
        own = {r.tariff.pk: r.price_minor for r in partner_price_list(partner=partner)}
        for t in tariff_page:
            t.your_price_minor = own.get(t.pk)
    context = {
        "page": tariff_page,
        "sort": sort,
        "query": query,
        "tax_rates": TaxRate.objects.all(),
        "tax_form": TaxRateForm(),
        "currency": _catalog_owner(request).currency,
        "wholesale": wholesale,
        "operator": home_partner() if partner is not None else None,
        # What a reseller sees of the operator: its brand's name, not its internal one.
        "operator_name": issuer_brand(home_partner()).name if partner is not None else "",
        "n_resellers": (Partner.objects.filter(is_home=False).count() if access.is_operator else 0),
    }
    return page(request, "web/catalog/tariffs.html", context, "catalog")


def _tariff_form(request: HttpRequest, instance: Tariff | None = None) -> TariffForm:
    owner = _catalog_owner(request)
    return TariffForm(
        request.POST or None,
        instance=instance,
        tax_rates=TaxRate.objects.filter(partner=owner, is_active=True),
        partners=Partner.objects.exclude(is_home=True) if owner.is_home else None,
        currency=owner.currency,
    )


@require_capability("catalog.write")
def tariff_new(request: HttpRequest) -> HttpResponse:
    form = _tariff_form(request)
    if request.method == "POST" and form.is_valid():
        try:
            tariff = tariff_create(
                partner=_catalog_owner(request),
                available_to=list(form.cleaned_data.get("available_to") or ()),
                **form.service_fields(),
                **actor(request),
            )
        except REFUSED as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, f"Tariff {tariff.name} created.")
            return redirect("web:tariffs")
    return page(request, "web/catalog/tariff_form.html", {"form": form}, "catalog")


@require_capability("catalog.write")
def tariff_edit(request: HttpRequest, tariff_id: int) -> HttpResponse:
    tariff = get_scoped_or_404(Tariff, pk=tariff_id, for_write=True)
    form = _tariff_form(request, tariff)
    if request.method == "POST" and form.is_valid():
        try:
            tariff_update(
                tariff=tariff,
                available_to=(
                    list(form.cleaned_data["available_to"])
                    if "available_to" in form.cleaned_data
                    else None
                ),
                **form.service_fields(),
                **actor(request),
            )
        except REFUSED as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, f"Tariff {tariff.name} saved.")
            return redirect("web:tariffs")
    context = {"form": form, "tariff": tariff}
    return page(request, "web/catalog/tariff_form.html", context, "catalog")


@require_capability("catalog.write")
@require_POST
def tax_rate_new(request: HttpRequest) -> HttpResponse:
    form = TaxRateForm(request.POST)
    if form.is_valid():
        try:
            tax_rate_create(
                partner=_catalog_owner(request),
                name=form.cleaned_data["name"],
                rate_bp=bp(form.cleaned_data["rate_percent"]),
                category=form.cleaned_data["category"],
                **actor(request),
            )
        except DomainValidationError as exc:
            messages.error(request, exc.message)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Tax rate added.")
    else:
        for field, errors in form.errors.items():
            text = " ".join(str(e) for e in errors)
            messages.error(request, f"{form.fields[field].label or field}: {text}")
    return redirect("web:tariffs")


@require_capability("catalog.write")
def tax_rate_edit(request: HttpRequest, tax_rate_id: int) -> HttpResponse:
    """Change one of the catalogue owner's tax rates (an own-invoicing partner: its own)."""
    rate = get_scoped_or_404(TaxRate, pk=tax_rate_id, for_write=True)
    initial = {
        "name": rate.name,
        "rate_percent": percent(rate.rate_bp),
        "category": rate.category,
        "is_active": rate.is_active,
    }
    form = TaxRateEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        fields = {
            "name": d["name"],
            "rate_bp": bp(d["rate_percent"]),
            "category": d["category"],
            "is_active": d["is_active"],
        }
        try:
            tax_rate_update(tax_rate=rate, **fields, **actor(request))
        except REFUSED as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, f"Tax rate {d['name']} saved.")
            return redirect("web:tariffs")
    return page(request, "web/catalog/tax_rate_form.html", {"form": form, "rate": rate}, "catalog")
