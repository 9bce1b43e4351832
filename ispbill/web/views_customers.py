"""Customers: the list, a customer's page, its services, one-time charges, balance and
statement."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from ispbill.accounts.permissions import request_can, require_capability
from ispbill.billing.actions import one_time_charge_create, service_create
from ispbill.billing.models import PlanChange, PlanChangeStatus
from ispbill.billing.moves import PartnerChangeError, customer_partner_move, move_targets
from ispbill.catalog.models import TaxRate
from ispbill.catalog.selectors import tariffs_sellable
from ispbill.core.tenancy import get_scoped_or_404
from ispbill.customers.models import Customer, CustomerStatus
from ispbill.customers.selectors import account_issuer, customers_matching
from ispbill.customers.services import customer_create, customer_update
from ispbill.gateways.models import Autopay, AutopayAttempt
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import Partner
from ispbill.payments.documents import customer_statement_pdf as statement_pdf
from ispbill.payments.models import Payment
from ispbill.payments.selectors import customer_balance, customer_statement
from ispbill.radius.usage import month_start, usage_totals
from ispbill.subscriptions.models import OneTimeCharge, Service
from ispbill.web.documents import pdf_response
from ispbill.web.forms.customers import (
    CustomerForm,
    OneTimeChargeForm,
    PartnerMoveForm,
    ServiceForm,
)
from ispbill.web.forms.fields import REFUSED, errors_to_form, today
from ispbill.web.panel import (
    access_of,
    actor,
    home_partner,
    page,
    paginate,
    panel_partner,
    sorted_by,
)
from ispbill.web.views_sepa import customer_mandates


def _customers_filtered(request: HttpRequest) -> tuple[Any, dict[str, Any]]:
    qs = Customer.objects.select_related("partner")
    query = request.GET.get("q", "").strip()
    qs = customers_matching(qs, query)
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
        except REFUSED as exc:
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
        "scheduled_changes": {
            c.service_id: c
            for c in PlanChange.objects.filter(
                customer=customer, status=PlanChangeStatus.SCHEDULED
            ).select_related("new_tariff")
        },
        "charges": OneTimeCharge.objects.filter(customer=customer).order_by("-charge_date")[:20],
        "finance": finance,
        "writable": access.can("customers.write")
        and (access.is_operator or customer.partner_id == access.partner_id),
    }
    day = today()
    context["usage"] = usage_totals(
        service_ids=[s.pk for s in context["services"]], start=month_start(day), end=day
    )
    context["mandates"] = customer_mandates(customer)
    context["autopay"] = Autopay.objects.filter(customer=customer).first()
    context["autopay_attempts"] = AutopayAttempt.objects.filter(customer=customer).select_related(
        "invoice"
    )[:10]
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
        except REFUSED as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, "Customer saved.")
            return redirect("web:customer", customer_id=customer.pk)
    context = {"form": form, "customer": customer}
    return page(request, "web/customers/form.html", context, "customers")


@require_capability("partners.manage")
def customer_partner_move_view(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Move a customer to another partner: choose the partner, see what the move bills (the
    move made and rolled back), then confirm (the same code, kept). docs/reseller-modes.md."""
    customer = get_scoped_or_404(Customer, pk=customer_id, for_write=True)
    form = PartnerMoveForm(request.POST or None, partners=move_targets(customer))
    context: dict[str, Any] = {"form": form, "customer": customer, "move": None}
    if request.method == "POST" and form.is_valid():
        partner = form.cleaned_data["partner"]
        try:
            move = customer_partner_move(
                customer=customer, partner=partner, commit=form.confirmed, **actor(request)
            )
        except PartnerChangeError as exc:
            form.add_error("partner", str(exc))
        else:
            if move.committed:
                messages.success(
                    request,
                    f"{customer.name} moved to {move.to_partner}; billed from "
                    f"{move.next_billing_date or 'its first service'} on its new cycle.",
                )
                return redirect("web:customer", customer_id=customer.pk)
            context["move"] = move
    return page(request, "web/customers/partner_move.html", context, "customers")


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


@require_capability("customers.write")
def service_new(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_scoped_or_404(Customer, pk=customer_id, for_write=True)
    sellable = tariffs_sellable(partner=customer.partner)
    form = ServiceForm(
        request.POST or None,
        tariffs=sellable,
        currency=customer.partner.currency,
    )
    if request.method == "POST" and form.is_valid():
        fields = form.service_fields()
        try:
            service_create(customer=customer, **fields, **actor(request))
        except REFUSED as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, f"Service {form.cleaned_data['tariff'].name} added.")
            return redirect("web:customer", customer_id=customer.pk)
    context = {
        "form": form,
        "customer": customer,
        "title": "Add a service",
        "empty_hint": None if sellable.exists() else _no_tariffs_hint(request, customer),
    }
    return page(request, "web/customers/subform.html", context, "customers")


def _no_tariffs_hint(request: HttpRequest, customer: Customer) -> str:
    """What to do when the customer's partner has nothing to sell, for whoever is asking."""
    partner = customer.partner
    if access_of(request).is_operator:
        if partner.is_home:
            return "The operator has no tariff on sale: create one under Tariffs & tax."
        return (
            f"No tariff is available to {partner.name}: open its page, "
            "“Tariffs and prices”, and make tariffs available to it."
        )
    if request_can(request, "catalog.write"):
        return (
            "You have no tariff on sale yet: add a tax rate and create a tariff under "
            "Tariffs & tax, or ask the operator to make its tariffs available to you."
        )
    return "No tariff is available to you yet: ask the operator to make tariffs available."


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
        except REFUSED as exc:
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
