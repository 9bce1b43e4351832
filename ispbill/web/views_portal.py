"""Customer portal: the signed-in customer's services, invoices, payments and balance."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse

from ispbill.accounts.permissions import require_capability
from ispbill.billing.models import PlanChange, PlanChangeStatus
from ispbill.billing.plan_changes import portal_plan_change_allowed
from ispbill.core.money import Money
from ispbill.core.tenancy import get_scoped_or_404
from ispbill.customers.models import Customer
from ispbill.customers.selectors import account_issuer
from ispbill.customers.services import customer_update
from ispbill.documents.epc_qr import EpcQrError, epc_qr_payload, epc_qr_svg
from ispbill.gateways.services import gateway_settings_for
from ispbill.invoicing.models import CreditNote, Invoice
from ispbill.invoicing.snapshots import issuer_snapshot
from ispbill.partners.models import Partner
from ispbill.payments.models import Payment
from ispbill.payments.selectors import customer_balance, customer_open_invoices
from ispbill.radius.topups import topup_available
from ispbill.radius.usage import usage_month
from ispbill.radius.usage_stats import usage_chart
from ispbill.sepa.models import Mandate, MandateStatus
from ispbill.subscriptions.models import Service
from ispbill.web.documents import (
    credit_note_pdf_response,
    invoice_detail_response,
    invoice_lines_shown,
    invoice_pdf_response,
    receipt_pdf_response,
)
from ispbill.web.forms.accounts import ProfileForm
from ispbill.web.forms.fields import REFUSED, errors_to_form
from ispbill.web.panel import access_of, actor, page, paginate
from ispbill.web.views_customers import statement_context, statement_pdf_response


def _me(request: HttpRequest) -> Customer:
    customer_id = access_of(request).customer_id
    if customer_id is None:
        raise Http404("No customer account is linked to this sign-in.")
    return get_scoped_or_404(Customer, pk=customer_id)


@dataclass(frozen=True)
class PayTo:
    """Where and how to pay: the issuer's bank account, the amount and reference, and the
    EPC QR code (Girocode) a banking app scans, as on the invoice PDF."""

    name: str
    iban: str
    bic: str
    amount_minor: int
    currency: str
    reference: str
    qr: str  # an image's data: URI, or "" when no QR code can be made (not EUR, no IBAN)
    direct_debit: bool = False  # collected from the customer's account: nothing to transfer

    @property
    def iban_grouped(self) -> str:
        return " ".join(self.iban[i : i + 4] for i in range(0, len(self.iban), 4))


def pay_to(
    *,
    issuer: dict[str, Any],
    amount_minor: int,
    currency: str,
    reference: str,
    direct_debit: bool = False,
) -> PayTo:
    """``issuer``: the issuer as printed (an invoice's snapshot, or ``issuer_snapshot``).
    With an active direct debit mandate nothing is transferred: no QR code."""
    name = str(issuer.get("legal_name") or issuer.get("name") or "")
    iban, bic = str(issuer.get("iban") or ""), str(issuer.get("bic") or "")
    qr = ""
    if iban and currency == "EUR" and amount_minor > 0 and not direct_debit:
        try:
            payload = epc_qr_payload(
                name=name,
                iban=iban,
                bic=bic,
                amount=str(Money.from_minor(amount_minor, currency).amount),
                remittance=reference,
            )
        except EpcQrError:
            payload = ""
        if payload:
            qr = "data:image/svg+xml;base64," + base64.b64encode(epc_qr_svg(payload)).decode()
    return PayTo(name, iban, bic, amount_minor, currency, reference, qr, direct_debit)


def _direct_debit(me: Customer) -> bool:
    return Mandate.objects.filter(customer=me, status=MandateStatus.ACTIVE).exists()


def _issuer_of(me: Customer) -> Partner:
    return account_issuer(me)


@require_capability("portal.read")
def portal(request: HttpRequest) -> HttpResponse:
    me = _me(request)
    issuer = _issuer_of(me)
    open_invoices = customer_open_invoices(me)
    owed = sum(inv.open_minor for inv in open_invoices)
    # One transfer for everything open: the invoice numbers name it (the bank import matches
    # them), else the customer number when they do not fit the 140 characters of a transfer.
    numbers = " ".join(inv.number for inv in open_invoices)
    reference = f"{me.reference} {numbers}".strip()
    balance = customer_balance(me)
    context = {
        "me": me,
        "issuer": issuer,
        "currency": issuer.currency,
        "balance": balance,
        "to_pay": max(-balance, 0),
        "open_invoices": open_invoices,
        "pay": pay_to(
            issuer=issuer_snapshot(issuer),
            amount_minor=owed,
            currency=issuer.currency,
            reference=reference if len(reference) <= 140 else me.reference,
            direct_debit=_direct_debit(me),
        ),
        "services": Service.objects.filter(customer=me).select_related("tariff"),
        "can_change_plan": access_of(request).can("portal.change_plan")
        and portal_plan_change_allowed(me),
        "scheduled_changes": {
            c.service_id: c
            for c in PlanChange.objects.filter(
                customer=me, status=PlanChangeStatus.SCHEDULED
            ).select_related("new_tariff")
        },
        "invoices": Invoice.objects.filter(customer=me)[:5],
        "payments": Payment.objects.filter(customer=me)[:5],
    }
    return page(request, "web/portal/home.html", context, "portal")


@require_capability("portal.read")
def portal_invoice(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """One invoice: its lines (with why an amount is not quantity x price), totals, what is
    still open and how to pay it."""
    me = _me(request)
    invoice = get_scoped_or_404(Invoice, pk=invoice_id, customer=me)
    lines, line_count = invoice_lines_shown(invoice)
    context = {
        "me": me,
        "invoice": invoice,
        "lines": lines,
        "line_count": line_count,
        "taxes": invoice.taxes.all(),
        "issuer": invoice.issuer_snapshot,
        "pay": pay_to(
            issuer=invoice.issuer_snapshot,
            amount_minor=invoice.open_minor,
            currency=invoice.currency,
            reference=invoice.number,
            direct_debit=_direct_debit(me),
        ),
        "card": gateway_settings_for(invoice.issuer_id) is not None,
    }
    return page(request, "web/portal/invoice.html", context, "portal_invoices")


@require_capability("portal.read")
def portal_invoices(request: HttpRequest) -> HttpResponse:
    me = _me(request)
    context = {
        "me": me,
        "page": paginate(request, Invoice.objects.filter(customer=me)),
        "payments": Payment.objects.filter(customer=me)[:20],
        "credit_notes": CreditNote.objects.filter(customer=me)[:20],
        "card": gateway_settings_for(_issuer_of(me).pk) is not None,
    }
    return page(request, "web/portal/invoices.html", context, "portal_invoices")


@require_capability("portal.read")
def portal_invoice_pdf(request: HttpRequest, invoice_id: int) -> HttpResponse:
    me = _me(request)
    invoice = get_scoped_or_404(Invoice, pk=invoice_id, customer=me)
    return invoice_pdf_response(invoice)


@require_capability("portal.read")
def portal_invoice_detail_csv(request: HttpRequest, invoice_id: int) -> HttpResponseBase:
    """The line detail of the customer's own aggregated or wholesale invoice (a partner's
    account)."""
    me = _me(request)
    invoice = get_scoped_or_404(Invoice, pk=invoice_id, customer=me)
    return invoice_detail_response(invoice)


@require_capability("portal.read")
def portal_receipt_pdf(request: HttpRequest, payment_id: int) -> HttpResponse:
    me = _me(request)
    return receipt_pdf_response(get_scoped_or_404(Payment, pk=payment_id, customer=me))


@require_capability("portal.read")
def portal_credit_note_pdf(request: HttpRequest, credit_note_id: int) -> HttpResponse:
    me = _me(request)
    return credit_note_pdf_response(get_scoped_or_404(CreditNote, pk=credit_note_id, customer=me))


@require_capability("portal.read")
def portal_statement_pdf(request: HttpRequest) -> HttpResponse:
    return statement_pdf_response(request, _me(request))


@require_capability("portal.read")
def portal_statement(request: HttpRequest) -> HttpResponse:
    me = _me(request)
    context = {"me": me, **statement_context(request, me)}
    return page(request, "web/portal/statement.html", context, "portal_statement")


@require_capability("portal.read")
def portal_profile(request: HttpRequest) -> HttpResponse:
    me = _me(request)
    form = ProfileForm(request.POST or None, instance=me)
    if request.method == "POST" and form.is_valid():
        try:
            customer_update(customer=me, **form.cleaned_data, **actor(request))
        except REFUSED as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, "Your details are saved.")
            return redirect("web:portal_profile")
    return page(request, "web/portal/profile.html", {"me": me, "form": form}, "portal_profile")


@require_capability("portal.read")
def portal_service_usage(request: HttpRequest, service_id: int) -> HttpResponse:
    """This month's traffic of one of my internet services (docs/usage.md)."""
    me = _me(request)
    service = get_scoped_or_404(
        Service.objects.select_related("tariff"),
        pk=service_id,
        customer=me,
        tariff__kind="internet",
    )
    topup = access_of(request).can("portal.topup") and topup_available(service)
    context = {
        "me": me,
        "service": service,
        "usage": usage_month(service),
        "chart": usage_chart(service),
        "topup_url": reverse("web:portal_service_topup", kwargs={"service_id": service.pk})
        if topup
        else "",
    }
    return page(request, "web/usage/portal_service.html", context, "portal")
