"""Card payments: an issuer's gateway settings, the public pay page of a pay link, the
portal's Pay now and autopay, the confirmation page, and the gateway's webhook
(docs/payments.md, "Online payments", "Pay links")."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ispbill.accounts.permissions import require_capability
from ispbill.core.errors import DomainError
from ispbill.core.tenancy import current_customer_id, get_scoped_or_404, system_scope
from ispbill.customers.models import Customer
from ispbill.customers.selectors import account_issuer
from ispbill.gateways.interface import SignatureError
from ispbill.gateways.models import (
    Autopay,
    AutopayAttempt,
    GatewaySettings,
    PaymentSession,
)
from ispbill.gateways.services import (
    autopay_set,
    autopay_setup,
    gateway_settings_for,
    gateway_settings_save,
    payment_session_create,
    webhook_handle,
)
from ispbill.invoicing.models import Invoice
from ispbill.invoicing.paylinks import pay_link_invoice_id, pay_link_token
from ispbill.partners.models import Partner, PartnerMode
from ispbill.payments.models import Payment
from ispbill.web.documents import receipt_pdf_response
from ispbill.web.forms.fields import REFUSED, errors_to_form
from ispbill.web.forms.gateways import AutopayForm, GatewaySettingsForm, IssuerChoiceForm
from ispbill.web.panel import actor, home_partner, page, panel_partner

logger = logging.getLogger(__name__)


def _absolute(request: HttpRequest, path: str) -> str:
    return request.build_absolute_uri(path)


# --- settings -------------------------------------------------------------------------------


def _issuers_for(request: HttpRequest) -> list[Partner]:
    own = panel_partner(request)
    if own is not None:
        return [own] if own.issues_own_documents else []
    home = home_partner()
    others = Partner.objects.filter(mode=PartnerMode.OWN_INVOICING).order_by("name")
    return [home, *others]


@require_capability("issuer.manage")
def gateway_settings_view(request: HttpRequest) -> HttpResponse:
    """Operator: any issuer (the home partner, or an own-invoicing partner by ``?issuer=``);
    an own-invoicing partner's admin: its own."""
    issuers = _issuers_for(request)
    if not issuers:
        raise Http404("This partner's customers pay the home partner.")
    chooser = IssuerChoiceForm(request.GET or None, choices=[(p.pk, p.name) for p in issuers])
    issuer = issuers[0]
    if chooser.is_valid():
        issuer = next(p for p in issuers if p.pk == chooser.cleaned_data["issuer"])
    current = GatewaySettings.objects.filter(partner=issuer).first()
    hints = {
        "secret_key": current.secret_key_hint if current else "",
        "webhook_secret": current.webhook_secret_hint if current else "",
    }
    initial: dict[str, Any] = {"enabled": current.enabled if current else True}
    if current is not None:
        initial["publishable_key"] = current.publishable_key
    form = GatewaySettingsForm(request.POST or None, initial=initial, hints=hints)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            gateway_settings_save(
                partner=issuer,
                enabled=data["enabled"],
                publishable_key=data["publishable_key"],
                secret_key=data["secret_key"],
                webhook_secret=data["webhook_secret"],
                **actor(request),
            )
        except REFUSED as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, f"Card payment settings of {issuer.name} saved.")
            return redirect(f"{reverse('web:gateway_settings')}?issuer={issuer.pk}")
    context = {
        "form": form,
        "chooser": chooser if len(issuers) > 1 else None,
        "issuer": issuer,
        "current": current,
        "webhook_url": _absolute(
            request, reverse("web:stripe_webhook", kwargs={"issuer_id": issuer.pk})
        ),
    }
    return page(request, "web/gateways/settings.html", context, "gateway_settings")


# --- webhook --------------------------------------------------------------------------------


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest, issuer_id: int) -> HttpResponse:
    """Stripe's events for one issuer's account, verified with that issuer's signing
    secret. 400 for a bad signature (Stripe retries, and an attacker learns nothing)."""
    try:
        outcome = webhook_handle(
            issuer_id=issuer_id,
            payload=request.body,
            signature=request.headers.get("Stripe-Signature", ""),
        )
    except SignatureError:
        return HttpResponseBadRequest("signature")
    except DomainError as exc:
        # Nothing was written (the event is not marked processed): Stripe delivers it again.
        logger.warning("gateway.webhook_refused", extra={"issuer_id": issuer_id, "code": exc.code})
        return HttpResponseBadRequest("refused")
    return HttpResponse(outcome, content_type="text/plain")


# --- pay links (public) ---------------------------------------------------------------------


def _pay_link_invoice(token: str) -> Invoice:
    invoice_id = pay_link_invoice_id(token)
    if invoice_id is None:
        raise Http404("This pay link is not valid or has expired.")
    invoice = Invoice.objects.filter(pk=invoice_id).first()
    if invoice is None:
        raise Http404("This pay link is not valid or has expired.")
    return invoice


def pay_page(request: HttpRequest, token: str) -> HttpResponse:
    """The public page a pay link opens: amount, issuer, "Pay by card". The signed token is
    the only credential; it shows this one invoice and nothing else."""
    with system_scope():
        invoice = _pay_link_invoice(token)
        card = gateway_settings_for(invoice.issuer_id) is not None
        error = ""
        if request.method == "POST" and card and invoice.open_minor > 0:
            done = reverse("web:pay_done", kwargs={"token": token})
            try:
                session = payment_session_create(
                    invoices=[invoice],
                    success_url=_absolute(request, done) + "?session={CHECKOUT_SESSION_ID}",
                    cancel_url=_absolute(request, reverse("web:pay", kwargs={"token": token})),
                    actor=None,
                )
            except REFUSED as exc:
                error = getattr(exc, "message", "") or str(exc)
            else:
                return redirect(session.url)
        context = {
            "invoice": invoice,
            "issuer": invoice.issuer_snapshot,
            "card": card,
            "error": error,
            "token": token,
        }
        return page(request, "web/gateways/pay.html", context, "pay")


def pay_done(request: HttpRequest, token: str) -> HttpResponse:
    """The confirmation page the gateway returns to: paid (with the receipt) once the
    webhook has booked it, else 'being confirmed'."""
    with system_scope():
        invoice = _pay_link_invoice(token)
        session = PaymentSession.objects.filter(
            provider_id=request.GET.get("session", "") or "-", customer_id=invoice.customer_id
        ).first()
        if session is not None and invoice.pk not in session.invoice_ids:
            session = None
        context = {
            "invoice": invoice,
            "issuer": invoice.issuer_snapshot,
            "session": session,
            "payment": session.payment if session is not None else None,
            "token": token,
        }
        return page(request, "web/gateways/done.html", context, "pay")


def pay_receipt(request: HttpRequest, token: str, payment_id: int) -> HttpResponse:
    with system_scope():
        invoice = _pay_link_invoice(token)
        payment = Payment.objects.filter(
            pk=payment_id, customer_id=invoice.customer_id, allocations__invoice=invoice
        ).first()
        if payment is None:
            raise Http404("No such payment on this invoice.")
        return receipt_pdf_response(payment)


# --- portal ---------------------------------------------------------------------------------


def _me(request: HttpRequest) -> Customer:
    return get_scoped_or_404(Customer, pk=current_customer_id())


@require_capability("portal.read")
@require_POST
def portal_pay(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """Pay now: a checkout for one open invoice at its issuer's gateway."""
    me = _me(request)
    invoice = get_scoped_or_404(Invoice, pk=invoice_id, customer=me)
    token = pay_link_token(invoice.pk)
    try:
        session = payment_session_create(
            invoices=[invoice],
            success_url=_absolute(request, reverse("web:pay_done", kwargs={"token": token}))
            + "?session={CHECKOUT_SESSION_ID}",
            cancel_url=_absolute(
                request, reverse("web:portal_invoice", kwargs={"invoice_id": invoice.pk})
            ),
            **actor(request),
        )
    except REFUSED as exc:
        messages.error(request, getattr(exc, "message", "") or str(exc))
        return redirect("web:portal_invoice", invoice_id=invoice.pk)
    return redirect(session.url)


@require_capability("portal.read")
def portal_autopay(request: HttpRequest) -> HttpResponse:
    """Pay automatically by card on the due date: save a card at the issuer's gateway,
    turn it off or on; past attempts, failures included."""
    me = _me(request)
    issuer = account_issuer(me)
    available = gateway_settings_for(issuer.pk) is not None
    autopay = Autopay.objects.filter(customer=me).first()
    form = AutopayForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        action = form.cleaned_data["action"]
        back = _absolute(request, reverse("web:portal_autopay"))
        try:
            if action == "setup":
                session = autopay_setup(
                    customer=me, success_url=back, cancel_url=back, **actor(request)
                )
                return redirect(session.url)
            autopay_set(customer=me, enabled=action == "on", **actor(request))
        except REFUSED as exc:
            messages.error(request, getattr(exc, "message", "") or str(exc))
        else:
            messages.success(request, "Autopay is on." if action == "on" else "Autopay is off.")
        return redirect("web:portal_autopay")
    context = {
        "me": me,
        "issuer": issuer,
        "available": available,
        "autopay": autopay,
        "attempts": AutopayAttempt.objects.filter(customer=me).select_related("invoice")[:20],
    }
    return page(request, "web/portal/autopay.html", context, "portal_autopay")
