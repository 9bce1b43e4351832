"""Partners: the list, a partner's page, creating, editing, enabling and disabling."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from ispbill.accounts.permissions import require_capability
from ispbill.billing.changes import partner_create, partner_settings_save
from ispbill.catalog.selectors import partner_pays_wholesale, partner_price_list
from ispbill.catalog.services import partner_price_list_save, partner_tariffs_make_all_available
from ispbill.core.errors import DomainError
from ispbill.core.tenancy import get_scoped_or_404
from ispbill.customers.models import Customer, CustomerStatus
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import Partner, PartnerMode
from ispbill.partners.services import partner_disable, partner_enable
from ispbill.web.forms.catalog import PartnerPriceListForm
from ispbill.web.forms.fields import REFUSED, errors_to_form
from ispbill.web.forms.partners import PartnerForm
from ispbill.web.panel import (
    actor,
    home_partner,
    page,
    paginate,
    sorted_by,
)


@require_capability("partners.read")
def partners(request: HttpRequest) -> HttpResponse:
    qs = Partner.objects.annotate(
        n_customers=Count("customers"),
        n_active=Count("customers", filter=Q(customers__status="active")),
    )
    query = request.GET.get("q", "").strip()
    if query:
        qs = qs.filter(Q(name__icontains=query) | Q(legal_name__icontains=query))
    mode = request.GET.get("mode", "")
    if mode in PartnerMode.values:
        qs = qs.filter(mode=mode)
    qs, sort = sorted_by(
        request, qs, {"name": "name", "mode": "mode", "customers": "n_customers"}, "name"
    )
    context = {
        "page": paginate(request, qs),
        "query": query,
        "mode": mode,
        "sort": sort,
        "modes": PartnerMode.choices,
    }
    return page(request, "web/partners/list.html", context, "partners")


@require_capability("partners.manage")
def partner_new(request: HttpRequest) -> HttpResponse:
    form = PartnerForm(request.POST or None, creating=True)
    if request.method == "POST" and form.is_valid():
        try:
            partner = partner_create(
                mode=form.cleaned_data["mode"], **form.service_fields(), **actor(request)
            )
        except REFUSED as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, f"Partner {partner.name} created.")
            return redirect("web:partner", partner_id=partner.pk)
    return page(request, "web/partners/form.html", {"form": form}, "partners")


@require_capability("partners.read")
def partner_detail(request: HttpRequest, partner_id: int) -> HttpResponse:
    partner = get_scoped_or_404(Partner, pk=partner_id)
    counts = dict(
        Customer.objects.filter(partner=partner).values_list("status").annotate(n=Count("pk"))
    )
    context = {
        "partner": partner,
        "counts": [(s.label, counts.get(s.value, 0)) for s in CustomerStatus],
        "invoices": Invoice.objects.filter(
            Q(partner=partner) | Q(customer_id=partner.account_id or 0)
        ).select_related("customer")[:10],
        "statements": partner.statements.all()[:6],
        # docs/documents.md, "Invoices e-mailed on issue": the installation's switch.
        "emailing_on_issue": bool(getattr(settings, "EMAIL_INVOICES_ON_ISSUE", True)),
    }
    return page(request, "web/partners/detail.html", context, "partners")


@require_capability("partners.manage")
def partner_edit(request: HttpRequest, partner_id: int) -> HttpResponse:
    partner = get_scoped_or_404(Partner, pk=partner_id, for_write=True)
    stored_mode = partner.mode
    form = PartnerForm(request.POST or None, instance=partner)
    if request.method == "POST" and form.is_valid():
        try:
            # The form's clean() put the chosen mode on the instance for validation; the
            # service compares with the stored one.
            partner.mode = stored_mode
            partner_settings_save(
                partner=partner,
                mode=form.cleaned_data.get("mode"),
                **form.service_fields(),
                **actor(request),
            )
        except REFUSED as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, f"{partner.name} saved.")
            return redirect("web:partner", partner_id=partner.pk)
    return page(request, "web/partners/form.html", {"form": form, "partner": partner}, "partners")


@require_capability("partners.manage")
@require_POST
def partner_toggle(request: HttpRequest, partner_id: int) -> HttpResponse:
    partner = get_scoped_or_404(Partner, pk=partner_id, for_write=True)
    toggle = partner_enable if not partner.is_active else partner_disable
    try:
        toggle(partner=partner, **actor(request))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        state = "enabled" if not partner.is_active else "disabled"
        messages.success(request, f"{partner.name} {state}.")
    return redirect("web:partner", partner_id=partner.pk)


def _reseller_or_404(partner_id: int, *, for_write: bool = False) -> Partner:
    partner = get_scoped_or_404(Partner, pk=partner_id, for_write=for_write)
    if partner.is_home:
        # The operator sells its own tariffs; it has no price list of its own.
        raise Http404("The operator has no partner price list.")
    return partner


def _price_list_page(
    request: HttpRequest, partner: Partner, form: PartnerPriceListForm
) -> HttpResponse:
    context = {
        "partner": partner,
        "form": form,
        "currency": home_partner().currency,
        "wholesale": partner_pays_wholesale(partner),
        "n_available": sum(1 for r in form.rows if r.available),
    }
    return page(request, "web/partners/tariffs.html", context, "partners")


@require_capability("partners.read")
def partner_tariffs(request: HttpRequest, partner_id: int) -> HttpResponse:
    """A reseller's "Tariffs and prices": every operator tariff, whether the reseller may
    sell it, and its partner price."""
    partner = _reseller_or_404(partner_id)
    form = PartnerPriceListForm(
        rows=partner_price_list(partner=partner), currency=home_partner().currency
    )
    return _price_list_page(request, partner, form)


@require_capability("partners.manage")
@require_POST
def partner_tariffs_save(request: HttpRequest, partner_id: int) -> HttpResponse:
    partner = _reseller_or_404(partner_id, for_write=True)
    form = PartnerPriceListForm(
        request.POST, rows=partner_price_list(partner=partner), currency=home_partner().currency
    )
    if form.is_valid():
        try:
            result = partner_price_list_save(
                partner=partner, entries=form.entries(), **actor(request)
            )
        except REFUSED as exc:
            errors_to_form(form, exc)
        else:
            messages.success(
                request,
                f"{partner.name}: {result['made_available']} tariffs made available, "
                f"{result['made_unavailable']} withdrawn, {result['prices']} prices changed.",
            )
            return redirect("web:partner_tariffs", partner_id=partner.pk)
    return _price_list_page(request, partner, form)


@require_capability("partners.manage")
@require_POST
def partner_tariffs_all(request: HttpRequest, partner_id: int) -> HttpResponse:
    partner = _reseller_or_404(partner_id, for_write=True)
    try:
        added = partner_tariffs_make_all_available(partner=partner, **actor(request))
    except REFUSED as exc:
        messages.error(request, getattr(exc, "message", str(exc)))
    else:
        messages.success(
            request, f"Every active operator tariff is available to {partner.name} ({added} new)."
        )
    return redirect("web:partner_tariffs", partner_id=partner.pk)
