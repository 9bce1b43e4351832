"""The catalogue: tariffs and tax rates."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from ispbill.accounts.permissions import require_capability
from ispbill.catalog.models import Tariff, TaxRate
from ispbill.catalog.selectors import tariffs_offered
from ispbill.catalog.services import tariff_create, tariff_update, tax_rate_create
from ispbill.core.errors import DomainValidationError
from ispbill.core.tenancy import get_scoped_or_404
from ispbill.partners.models import Partner
from ispbill.web.forms.catalog import TariffForm, TaxRateForm
from ispbill.web.forms.fields import REFUSED, bp, errors_to_form
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
    context = {
        "page": paginate(request, qs),
        "sort": sort,
        "query": query,
        "tax_rates": TaxRate.objects.all(),
        "tax_form": TaxRateForm(),
        "currency": _catalog_owner(request).currency,
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
        else:
            messages.success(request, "Tax rate added.")
    else:
        for field, errors in form.errors.items():
            text = " ".join(str(e) for e in errors)
            messages.error(request, f"{form.fields[field].label or field}: {text}")
    return redirect("web:tariffs")
