"""Customer portal: the signed-in customer's services, invoices, payments and balance."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from ispbill.accounts.permissions import require_capability
from ispbill.core.errors import DomainValidationError
from ispbill.core.tenancy import get_scoped_or_404
from ispbill.customers.models import Customer
from ispbill.customers.services import customer_update
from ispbill.invoicing.models import CreditNote, Invoice
from ispbill.payments.models import Payment
from ispbill.payments.selectors import customer_balance, customer_open_invoices
from ispbill.subscriptions.models import Service
from ispbill.web.documents import (
    credit_note_pdf_response,
    invoice_pdf_response,
    receipt_pdf_response,
)
from ispbill.web.forms.accounts import ProfileForm
from ispbill.web.forms.fields import errors_to_form
from ispbill.web.panel import access_of, actor, page, paginate
from ispbill.web.views_customers import statement_context, statement_pdf_response


def _me(request: HttpRequest) -> Customer:
    customer_id = access_of(request).customer_id
    if customer_id is None:
        raise Http404("No customer account is linked to this sign-in.")
    return get_scoped_or_404(Customer, pk=customer_id)


@require_capability("portal.read")
def portal(request: HttpRequest) -> HttpResponse:
    me = _me(request)
    context = {
        "me": me,
        "currency": me.partner.currency,
        "balance": customer_balance(me),
        "open_invoices": customer_open_invoices(me),
        "services": Service.objects.filter(customer=me).select_related("tariff"),
        "invoices": Invoice.objects.filter(customer=me)[:5],
        "payments": Payment.objects.filter(customer=me)[:5],
    }
    return page(request, "web/portal/home.html", context, "portal")


@require_capability("portal.read")
def portal_invoices(request: HttpRequest) -> HttpResponse:
    me = _me(request)
    context = {
        "me": me,
        "page": paginate(request, Invoice.objects.filter(customer=me)),
        "payments": Payment.objects.filter(customer=me)[:20],
        "credit_notes": CreditNote.objects.filter(customer=me)[:20],
    }
    return page(request, "web/portal/invoices.html", context, "portal_invoices")


@require_capability("portal.read")
def portal_invoice_pdf(request: HttpRequest, invoice_id: int) -> HttpResponse:
    me = _me(request)
    invoice = get_scoped_or_404(Invoice, pk=invoice_id, customer=me)
    return invoice_pdf_response(invoice)


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
        except (ValidationError, DomainValidationError) as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, "Your details are saved.")
            return redirect("web:portal_profile")
    return page(request, "web/portal/profile.html", {"me": me, "form": form}, "portal_profile")
