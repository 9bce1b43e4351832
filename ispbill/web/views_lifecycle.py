"""A service's lifecycle by hand: edit it, end it, terminate its customer; each end with a
preview before it is confirmed (docs/billing.md "Ending and editing a service"). Operator
staff and partners (their own customers); the portal asks its provider instead."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from ispbill.accounts.permissions import require_capability
from ispbill.billing.fees import fee_issuer
from ispbill.billing.service_end import (
    CustomerTermination,
    ServiceEnding,
    customer_terminate,
    customer_termination_preview,
    service_end,
    service_end_default,
    service_end_preview,
)
from ispbill.core.money import Money
from ispbill.core.tenancy import get_scoped_or_404
from ispbill.customers.models import Customer
from ispbill.subscriptions.models import Service
from ispbill.subscriptions.services import service_billed, service_update
from ispbill.web.forms.customers import EndDateForm, ServiceEditForm, TerminateForm
from ispbill.web.forms.fields import REFUSED, errors_to_form, today
from ispbill.web.panel import actor, page


def _service_for_write(service_id: int) -> Service:
    return get_scoped_or_404(
        Service.objects.select_related("tariff", "customer__partner"),
        pk=service_id,
        for_write=True,
    )


@require_capability("customers.write")
def service_edit(request: HttpRequest, service_id: int) -> HttpResponse:
    service = _service_for_write(service_id)
    currency = fee_issuer(service.customer).currency
    form = ServiceEditForm(
        request.POST or None, service=service, currency=currency, billed=service_billed(service)
    )
    if request.method == "POST" and form.is_valid():
        fields = form.service_fields()
        try:
            service_update(service=service, **fields, **actor(request))
        except REFUSED as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, "Service saved." if fields else "Nothing changed.")
            return redirect("web:service", service_id=service.pk)
    context = {
        "form": form,
        "customer": service.customer,
        "service": service,
        "title": f"Edit {service.description or service.tariff.name}",
        "back": service_url(service),
    }
    return page(request, "web/services/edit.html", context, "customers")


def service_url(service: Service) -> str:
    return reverse("web:service", kwargs={"service_id": service.pk})


@require_capability("customers.write")
def service_end_view(request: HttpRequest, service_id: int) -> HttpResponse:
    service = _service_for_write(service_id)
    day = today()
    form = EndDateForm(
        request.POST or None, initial={"end_date": service_end_default(service, day)}
    )
    preview: ServiceEnding | None = None
    if request.method == "POST" and form.is_valid():
        end = form.cleaned_data["end_date"]
        try:
            if request.POST.get("action") == "confirm":
                ending = service_end(service=service, end=end, today=day, **actor(request))
            else:
                preview = service_end_preview(service=service, end=end, today=day)
        except REFUSED as exc:
            errors_to_form(form, exc)
            preview = None
        else:
            if preview is None:
                when = "stopped now" if ending.stops_now else "stops after that day"
                messages.success(request, f"{ending.name} ends on {end.isoformat()}: {when}.")
                return redirect("web:service", service_id=service.pk)
    context = {
        "form": form,
        "customer": service.customer,
        "service": service,
        "preview": preview,
        "back": service_url(service),
    }
    return page(request, "web/services/end.html", context, "customers")


@require_capability("customers.write")
def customer_terminate_view(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_scoped_or_404(
        Customer.objects.select_related("partner"), pk=customer_id, for_write=True
    )
    day = today()
    form = TerminateForm(request.POST or None, initial={"date": day})
    preview: CustomerTermination | None = None
    if request.method == "POST" and form.is_valid():
        on = form.cleaned_data["date"]
        try:
            if request.POST.get("action") == "confirm":
                done = customer_terminate(customer=customer, on=on, today=day, **actor(request))
            else:
                preview = customer_termination_preview(customer=customer, on=on, today=day)
        except REFUSED as exc:
            errors_to_form(form, exc)
            preview = None
        else:
            if preview is None:
                messages.success(
                    request,
                    f"{customer.name} is terminated: {len(done.services)} service(s) ended on "
                    f"{on.isoformat()}, the customer is inactive.",
                )
                return redirect("web:customer", customer_id=customer.pk)
    context: dict[str, Any] = {"form": form, "customer": customer, "preview": preview}
    if preview is not None:
        context["balance"] = Money.from_minor(preview.balance_minor, preview.currency)
    return page(request, "web/services/terminate.html", context, "customers")
