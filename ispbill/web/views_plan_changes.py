"""A service's page and its plan changes: change plan (preview, then confirm), the scheduled
change and its cancellation; the same for customers in the portal where their issuer offers
it (docs/billing.md "Changing plan")."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from ispbill.accounts.permissions import require_capability
from ispbill.billing.fees import fee_issuer
from ispbill.billing.models import PlanChange
from ispbill.billing.plan_changes import (
    PlanChangeError,
    PlanChangeOutcome,
    plan_change_cancel,
    plan_change_effective_date,
    plan_change_outcome,
    plan_change_preview,
    plan_change_request,
    plan_change_tariffs,
    portal_plan_change_allowed,
)
from ispbill.core.errors import DomainValidationError
from ispbill.core.money import Money
from ispbill.core.tenancy import get_scoped_or_404
from ispbill.radius.usage import usage_month
from ispbill.radius.usage_stats import usage_chart
from ispbill.subscriptions.models import Service, ServiceStatus
from ispbill.web.forms.fields import errors_to_form, today
from ispbill.web.forms.plan_changes import PlanChangeForm
from ispbill.web.panel import access_of, actor, page
from ispbill.web.views_portal import _me


def _writable(request: HttpRequest, service: Service) -> bool:
    access = access_of(request)
    return access.can("customers.write") and (
        access.is_operator or service.partner_id == access.partner_id
    )


def _history(service: Service) -> list[tuple[PlanChange, PlanChangeOutcome | None]]:
    changes = list(
        PlanChange.objects.filter(service=service)
        .select_related("old_tariff", "new_tariff", "invoice")
        .order_by("-created_at", "-pk")[:20]
    )
    return [(c, plan_change_outcome(c)) for c in changes]


@require_capability("customers.read")
def service_detail(request: HttpRequest, service_id: int) -> HttpResponse:
    service = get_scoped_or_404(
        Service.objects.select_related("tariff", "customer__partner"), pk=service_id
    )
    writable = _writable(request, service)
    internet = service.tariff.kind == "internet"
    context = {
        "service": service,
        "customer": service.customer,
        "currency": fee_issuer(service.customer).currency,
        "history": _history(service),
        "writable": writable,
        "can_change": writable and service.status == ServiceStatus.ACTIVE,
        "usage": usage_month(service) if internet else None,
        "chart": usage_chart(service) if internet else None,
    }
    return page(request, "web/plan_changes/service.html", context, "customers")


def _change_plan(
    request: HttpRequest, service: Service, *, portal: bool, back: str, template: str, nav: str
) -> HttpResponse:
    customer = service.customer
    currency = fee_issuer(customer).currency
    form = PlanChangeForm(
        request.POST or None,
        tariffs=plan_change_tariffs(service=service, portal=portal),
        currency=currency,
    )
    preview = None
    if request.method == "POST" and form.is_valid():
        tariff = form.cleaned_data["tariff"]
        try:
            effective = plan_change_effective_date(
                service=service, when=form.effective(), today=today()
            )
            if request.POST.get("action") == "confirm":
                change, outcome = plan_change_request(
                    service=service,
                    tariff=tariff,
                    effective=effective,
                    portal=portal,
                    **actor(request),
                )
            else:
                preview = plan_change_preview(
                    service=service,
                    tariff=tariff,
                    effective=effective,
                    portal=portal,
                    **actor(request),
                )
        except (ValidationError, DomainValidationError) as exc:
            errors_to_form(form, exc)
        else:
            if preview is None:
                if outcome is not None:
                    messages.success(
                        request,
                        f"{tariff.name} from today: "
                        f"{Money.from_minor(outcome.credited_minor, outcome.currency)} given "
                        f"back, {Money.from_minor(outcome.charged_minor, outcome.currency)} "
                        "charged.",
                    )
                else:
                    messages.success(
                        request,
                        f"{tariff.name} is scheduled from {change.effective_date.isoformat()}; "
                        "it can be cancelled until then.",
                    )
                return redirect(back)
    if preview is not None and portal:
        preview = preview.for_customer()
    context = {
        "form": form,
        "service": service,
        "customer": customer,
        "currency": currency,
        "preview": preview,
        "back": back,
        "today": today(),
    }
    return page(request, template, context, nav)


@require_capability("customers.write")
def service_change_plan(request: HttpRequest, service_id: int) -> HttpResponse:
    service = get_scoped_or_404(
        Service.objects.select_related("tariff", "customer__partner"), pk=service_id, for_write=True
    )
    return _change_plan(
        request,
        service,
        portal=False,
        back=reverse("web:service", kwargs={"service_id": service.pk}),
        template="web/plan_changes/change.html",
        nav="customers",
    )


@require_capability("customers.write")
@require_POST
def plan_change_cancel_view(request: HttpRequest, plan_change_id: int) -> HttpResponse:
    change = get_scoped_or_404(PlanChange, pk=plan_change_id, for_write=True)
    try:
        plan_change_cancel(change=change, **actor(request))
    except PlanChangeError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The scheduled plan change is cancelled.")
    return redirect("web:service", service_id=change.service_id)


# -- the portal ----------------------------------------------------------------------------


@require_capability("portal.change_plan")
def portal_change_plan(request: HttpRequest, service_id: int) -> HttpResponse:
    me = _me(request)
    service = get_scoped_or_404(
        Service.objects.select_related("tariff", "customer__partner"),
        pk=service_id,
        customer=me,
        for_write=True,
    )
    if not portal_plan_change_allowed(me):
        messages.info(request, "Plan changes are not offered online; please contact us.")
        return redirect("web:portal")
    return _change_plan(
        request,
        service,
        portal=True,
        back=reverse("web:portal"),
        template="web/portal/change_plan.html",
        nav="portal",
    )


@require_capability("portal.change_plan")
@require_POST
def portal_plan_change_cancel(request: HttpRequest, plan_change_id: int) -> HttpResponse:
    """A customer cancels a change it scheduled in the portal."""
    me = _me(request)
    change = get_scoped_or_404(
        PlanChange, pk=plan_change_id, customer=me, via_portal=True, for_write=True
    )
    try:
        plan_change_cancel(change=change, **actor(request))
    except PlanChangeError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Your scheduled plan change is cancelled.")
    return redirect("web:portal")
