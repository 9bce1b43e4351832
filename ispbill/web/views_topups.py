"""Top-ups of an internet service's monthly volume (docs/usage.md, "Top-ups"): the staff
page (operator; partners for their own customers) and the portal page (the customer, for
its own services). Two steps: choose the packs and see the price and the effect, then
confirm."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from ispbill.accounts.permissions import require_capability
from ispbill.core.tenancy import get_scoped_or_404
from ispbill.gateways.services import payment_session_create
from ispbill.invoicing.paylinks import pay_link_token
from ispbill.radius.topups import (
    MAX_PACKS,
    TopUpChannel,
    TopUpQuote,
    topup_available,
    topup_pays_online,
    usage_topup_buy,
    usage_topup_quote,
)
from ispbill.radius.usage import usage_month
from ispbill.subscriptions.models import Service
from ispbill.web.forms.fields import REFUSED, errors_to_form, today
from ispbill.web.panel import actor, page
from ispbill.web.views_portal import _me


class TopUpForm(forms.Form):
    packs = forms.IntegerField(
        min_value=1, max_value=MAX_PACKS, initial=1, label="Packs", help_text="How many packs"
    )


class StaffTopUpForm(TopUpForm):
    invoice_now = forms.BooleanField(
        required=False,
        label="Invoice it now",
        help_text="On an invoice of its own at once; otherwise it goes on the next invoice.",
    )


def _topup_page(
    request: HttpRequest,
    service: Service,
    *,
    form: TopUpForm,
    template_context: dict[str, Any],
    nav: str,
) -> HttpResponse:
    context = {
        "service": service,
        "form": form,
        "usage": usage_month(service, today=today()),
        "available": topup_available(service),
        **template_context,
    }
    return page(request, "web/usage/topup.html", context, nav)


def _quote(form: TopUpForm, service: Service) -> TopUpQuote | None:
    try:
        return usage_topup_quote(service=service, packs=form.cleaned_data["packs"], today=today())
    except REFUSED as exc:
        errors_to_form(form, exc)
        return None


@require_capability("customers.write")
def service_topup(request: HttpRequest, service_id: int) -> HttpResponse:
    """Staff: buy extra volume for a service's current month."""
    service = get_scoped_or_404(
        Service.objects.select_related("tariff", "customer"),
        pk=service_id,
        tariff__kind="internet",
        for_write=True,
    )
    back = reverse("web:service", kwargs={"service_id": service.pk})
    form = StaffTopUpForm(request.POST or None)
    quote = None
    if request.method == "POST" and form.is_valid():
        quote = _quote(form, service)
        if quote is not None and request.POST.get("action") == "confirm":
            try:
                result = usage_topup_buy(
                    service=service,
                    packs=quote.packs,
                    channel=TopUpChannel.STAFF,
                    invoice_now=form.cleaned_data["invoice_now"],
                    today=today(),
                    **actor(request),
                )
            except REFUSED as exc:
                errors_to_form(form, exc)
            else:
                where = (
                    f"invoice {result.invoice.number}"
                    if result.invoice is not None
                    else "the next invoice"
                )
                lifted = " The cap is lifted." if result.cap_lifted else ""
                messages.success(
                    request,
                    f"{result.topup.gigabytes} GB added to this month; charged on {where}."
                    + lifted,
                )
                return redirect(back + "#usage")
    context = {"quote": quote, "back": back, "portal": False, "pays_online": False}
    return _topup_page(request, service, form=form, template_context=context, nav="customers")


@require_capability("portal.topup")
def portal_service_topup(request: HttpRequest, service_id: int) -> HttpResponse:
    """The customer buys extra volume for one of its own services: paid by card at once
    where the issuer takes cards, else on the next invoice."""
    me = _me(request)
    service = get_scoped_or_404(
        Service.objects.select_related("tariff", "customer"),
        pk=service_id,
        customer=me,
        tariff__kind="internet",
        for_write=True,
    )
    back = reverse("web:portal_service_usage", kwargs={"service_id": service.pk})
    if not topup_available(service):
        raise Http404("No top-up is offered for this service.")
    pays_online = topup_pays_online(me)
    form = TopUpForm(request.POST or None)
    quote = None
    if request.method == "POST" and form.is_valid():
        quote = _quote(form, service)
        if quote is not None and request.POST.get("action") == "confirm":
            try:
                result = usage_topup_buy(
                    service=service,
                    packs=quote.packs,
                    channel=TopUpChannel.CUSTOMER,
                    invoice_now=pays_online,
                    today=today(),
                    **actor(request),
                )
            except REFUSED as exc:
                errors_to_form(form, exc)
            else:
                invoice = result.invoice
                if invoice is not None and invoice.open_minor > 0:
                    token = pay_link_token(invoice.pk)
                    done = reverse("web:pay_done", kwargs={"token": token})
                    cancel = reverse("web:portal_invoice", kwargs={"invoice_id": invoice.pk})
                    try:
                        session = payment_session_create(
                            invoices=[invoice],
                            success_url=request.build_absolute_uri(done)
                            + "?session={CHECKOUT_SESSION_ID}",
                            cancel_url=request.build_absolute_uri(cancel),
                            **actor(request),
                        )
                    except REFUSED as exc:
                        messages.warning(
                            request,
                            f"{result.topup.gigabytes} GB added. The card payment could not "
                            f"be started ({getattr(exc, 'message', '') or exc}); please pay "
                            f"invoice {invoice.number} here.",
                        )
                        return redirect(cancel)
                    return redirect(session.url)
                messages.success(
                    request,
                    f"{result.topup.gigabytes} GB added to this month. It goes on your next "
                    "invoice.",
                )
                return redirect(back)
    context = {"quote": quote, "back": back, "portal": True, "pays_online": pays_online}
    return _topup_page(request, service, form=form, template_context=context, nav="portal")
