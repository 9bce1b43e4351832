"""Partners, customers (services, one-time charges, balance, statement) and the catalog."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from ispbill.accounts.permissions import require_capability
from ispbill.catalog.models import Tariff, TaxRate
from ispbill.catalog.services import tariff_create, tariff_update, tax_rate_create
from ispbill.core.errors import DomainValidationError
from ispbill.core.tenancy import get_scoped_or_404
from ispbill.customers.models import Customer, CustomerStatus
from ispbill.customers.selectors import customer_balance, customer_statement
from ispbill.customers.services import customer_create, customer_update
from ispbill.invoicing.models import Invoice
from ispbill.invoicing.pdfs import customer_statement_pdf as statement_pdf
from ispbill.partners.changes import PartnerChangeError, partner_settings_save
from ispbill.partners.models import Partner, PartnerMode
from ispbill.partners.services import (
    partner_create,
    partner_disable,
    partner_enable,
)
from ispbill.payments.models import Payment
from ispbill.payments.services import account_issuer
from ispbill.subscriptions.models import OneTimeCharge, Service
from ispbill.subscriptions.services import one_time_charge_create, service_create
from ispbill.web.documents import pdf_response
from ispbill.web.forms import (
    CustomerForm,
    OneTimeChargeForm,
    PartnerForm,
    ServiceForm,
    TariffForm,
    TaxRateForm,
    bp,
    errors_to_form,
    today,
)
from ispbill.web.panel import (
    access_of,
    actor,
    home_partner,
    page,
    paginate,
    panel_partner,
    sorted_by,
)

# -- partners -------------------------------------------------------------------------------


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
        except (ValidationError, DomainValidationError) as exc:
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
        except (ValidationError, DomainValidationError, PartnerChangeError) as exc:
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
    except DomainValidationError as exc:
        messages.error(request, exc.message)
    else:
        state = "enabled" if not partner.is_active else "disabled"
        messages.success(request, f"{partner.name} {state}.")
    return redirect("web:partner", partner_id=partner.pk)


# -- customers ------------------------------------------------------------------------------


def _customers_filtered(request: HttpRequest) -> tuple[Any, dict[str, Any]]:
    qs = Customer.objects.select_related("partner")
    query = request.GET.get("q", "").strip()
    if query:
        qs = qs.filter(
            Q(name__icontains=query)
            | Q(reference__icontains=query)
            | Q(email__icontains=query)
            | Q(company__icontains=query)
            | Q(city__icontains=query)
        )
    status = request.GET.get("status", "")
    if status in CustomerStatus.values:
        qs = qs.filter(status=status)
    partner = request.GET.get("partner", "")
    if partner.isdigit():
        qs = qs.filter(partner_id=int(partner))
    return qs, {"query": query, "status": status, "partner": partner}


@require_capability("customers.read")
def customers(request: HttpRequest) -> HttpResponse:
    qs, filters = _customers_filtered(request)
    qs, sort = sorted_by(
        request,
        qs,
        {"reference": "reference", "name": "name", "city": "city", "status": "status"},
        "reference",
    )
    context = {
        "page": paginate(request, qs),
        "sort": sort,
        "statuses": CustomerStatus.choices,
        "partners": Partner.objects.all() if access_of(request).is_operator else [],
        **filters,
    }
    template = "web/customers/rows.html" if request.headers.get("HX-Request") else None
    return page(request, template or "web/customers/list.html", context, "customers")


def _customer_form(request: HttpRequest, instance: Customer | None = None) -> CustomerForm:
    fixed = panel_partner(request)
    currency = (fixed or home_partner()).currency
    return CustomerForm(
        request.POST or None,
        instance=instance,
        partners=Partner.objects.filter(is_active=True),
        fixed_partner=fixed,
        currency=currency,
    )


@require_capability("customers.write")
def customer_new(request: HttpRequest) -> HttpResponse:
    form = _customer_form(request)
    if request.method == "POST" and form.is_valid():
        partner = form.instance.partner
        try:
            customer = customer_create(partner=partner, **form.service_fields(), **actor(request))
        except (ValidationError, DomainValidationError) as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, f"Customer {customer.name} created. Add a service next.")
            return redirect("web:customer", customer_id=customer.pk)
    return page(request, "web/customers/form.html", {"form": form}, "customers")


@require_capability("customers.read")
def customer_detail(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_scoped_or_404(Customer, pk=customer_id)
    access = access_of(request)
    finance = access.can("finance.read")
    context = {
        "customer": customer,
        "currency": customer.partner.currency,
        "services": Service.objects.filter(customer=customer).select_related("tariff"),
        "charges": OneTimeCharge.objects.filter(customer=customer).order_by("-charge_date")[:20],
        "finance": finance,
        "writable": access.can("customers.write")
        and (access.is_operator or customer.partner_id == access.partner_id),
    }
    if finance:
        context["balance"] = customer_balance(customer)
        context["invoices"] = Invoice.objects.filter(customer=customer)[:12]
        context["payments"] = Payment.objects.filter(customer=customer)[:12]
    return page(request, "web/customers/detail.html", context, "customers")


@require_capability("customers.write")
def customer_edit(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_scoped_or_404(Customer, pk=customer_id, for_write=True)
    form = _customer_form(request, customer)
    if request.method == "POST" and form.is_valid():
        try:
            customer_update(customer=customer, **form.service_fields(), **actor(request))
        except (ValidationError, DomainValidationError) as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, "Customer saved.")
            return redirect("web:customer", customer_id=customer.pk)
    context = {"form": form, "customer": customer}
    return page(request, "web/customers/form.html", context, "customers")


@require_capability("customers.write")
@require_POST
def customer_status(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Block or unblock by hand (the dunning run does it by itself as well)."""
    customer = get_scoped_or_404(Customer, pk=customer_id, for_write=True)
    status = request.POST.get("status", "")
    if status not in (CustomerStatus.ACTIVE, CustomerStatus.BLOCKED, CustomerStatus.INACTIVE):
        messages.error(request, "Choose block, unblock or deactivate.")
    else:
        customer_update(customer=customer, status=status, **actor(request))
        messages.success(request, f"{customer.name} is now {CustomerStatus(status).label}.")
    return redirect("web:customer", customer_id=customer.pk)


def _tariffs_for(customer: Customer) -> Any:
    partner = customer.partner
    return (
        Tariff.objects.filter(is_active=True)
        .filter(Q(partner=partner) | Q(partner__is_home=True, available_to=partner))
        .distinct()
        if not partner.is_home
        else Tariff.objects.filter(is_active=True, partner=partner)
    )


@require_capability("customers.write")
def service_new(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_scoped_or_404(Customer, pk=customer_id, for_write=True)
    form = ServiceForm(
        request.POST or None, tariffs=_tariffs_for(customer), currency=customer.partner.currency
    )
    if request.method == "POST" and form.is_valid():
        fields = form.service_fields()
        try:
            service_create(customer=customer, **fields, **actor(request))
        except (ValidationError, DomainValidationError) as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, f"Service {form.cleaned_data['tariff'].name} added.")
            return redirect("web:customer", customer_id=customer.pk)
    context = {"form": form, "customer": customer, "title": "Add a service"}
    return page(request, "web/customers/subform.html", context, "customers")


@require_capability("customers.write")
def one_time_charge_new(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_scoped_or_404(Customer, pk=customer_id, for_write=True)
    issuer = account_issuer(customer)
    form = OneTimeChargeForm(
        request.POST or None,
        currency=issuer.currency,
        tax_rates=TaxRate.objects.filter(partner=issuer, is_active=True),
    )
    if request.method == "POST" and form.is_valid():
        try:
            one_time_charge_create(customer=customer, **form.service_fields(), **actor(request))
        except (ValidationError, DomainValidationError) as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, "One-time charge added; it goes on the next invoice.")
            return redirect("web:customer", customer_id=customer.pk)
    context = {"form": form, "customer": customer, "title": "Add a one-time charge"}
    return page(request, "web/customers/subform.html", context, "customers")


@require_capability("finance.read")
def customer_statement_view(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_scoped_or_404(Customer, pk=customer_id)
    return page(
        request,
        "web/customers/statement.html",
        {"customer": customer, **statement_context(request, customer)},
        "customers",
    )


def statement_period(request: HttpRequest) -> tuple[date, date]:
    """``?start=&end=`` of a statement; by default from January 1st to today."""
    day = today()
    try:
        start = date.fromisoformat(request.GET.get("start", ""))
    except ValueError:
        start = date(day.year, 1, 1)
    try:
        end = date.fromisoformat(request.GET.get("end", ""))
    except ValueError:
        end = day
    return start, end


def statement_context(request: HttpRequest, customer: Customer) -> dict[str, Any]:
    start, end = statement_period(request)
    return {
        "statement": customer_statement(customer, start=start, end=end),
        "currency": customer.partner.currency,
        "start": start,
        "end": end,
    }


def statement_pdf_response(request: HttpRequest, customer: Customer) -> HttpResponse:
    """The statement of account for the period asked, as a PDF with the issuer's template."""
    start, end = statement_period(request)
    content = statement_pdf(customer, start=start, end=end)
    return pdf_response(content, f"statement-{customer.reference}-{start:%Y%m%d}-{end:%Y%m%d}")


@require_capability("finance.read")
def customer_statement_pdf(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_scoped_or_404(Customer, pk=customer_id)
    return statement_pdf_response(request, customer)


# -- catalog --------------------------------------------------------------------------------


def _catalog_owner(request: HttpRequest) -> Partner:
    return panel_partner(request) or home_partner()


@require_capability("catalog.read")
def tariffs(request: HttpRequest) -> HttpResponse:
    qs = Tariff.objects.select_related("tax_rate", "partner")
    access = access_of(request)
    if not access.is_operator:
        partner_id = access.partner_id or 0
        qs = Tariff.objects.select_related("tax_rate", "partner").filter(
            Q(partner_id=partner_id) | Q(available_to=partner_id)
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
        except (ValidationError, DomainValidationError) as exc:
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
        except (ValidationError, DomainValidationError) as exc:
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
