"""SEPA direct debit pages: creditor settings, mandates on the customer page, collection
batches (run with preview, file, submitted, collected, discard), returns import, and the
portal's mandate signing (docs/payments.md)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from ispbill.accounts.permissions import require_capability
from ispbill.catalog.models import TaxRate
from ispbill.core.audit import client_address
from ispbill.core.errors import DomainValidationError
from ispbill.core.money import Money
from ispbill.core.tenancy import current_customer_id, get_scoped_or_404
from ispbill.customers.models import Customer
from ispbill.customers.selectors import account_issuer
from ispbill.dataio.mandate_import import MANDATE_COLUMNS, mandates_import
from ispbill.partners.models import Partner
from ispbill.sepa.collection import (
    collection_collect,
    collection_discard,
    collection_plan,
    collection_run,
    collection_submit,
)
from ispbill.sepa.mandates import (
    creditor_settings_save,
    mandate_create,
    mandate_final_set,
    mandate_revoke,
    mandate_text,
)
from ispbill.sepa.models import (
    Collection,
    CreditorSettings,
    Debit,
    DebitInvoice,
    DebitReturn,
    Mandate,
    MandateSource,
    MandateStatus,
)
from ispbill.sepa.notices import creditor_settings_for
from ispbill.sepa.returns import returns_file_import
from ispbill.sepa.rules import SepaError, iban_masked
from ispbill.web.forms.fields import errors_to_form, from_minor, to_minor
from ispbill.web.forms.sepa import (
    CollectionRunForm,
    CreditorSettingsForm,
    MandateForm,
    MandateImportForm,
    MandateRevokeForm,
    PortalMandateForm,
    ReturnsUploadForm,
)
from ispbill.web.panel import (
    access_of,
    actor,
    home_partner,
    page,
    paginate,
    panel_partner,
)


def _issuer(request: HttpRequest) -> Partner:
    """The issuer whose settings this panel edits: the home partner for the operator, the
    panel partner itself for an own-invoicing partner."""
    return panel_partner(request) or home_partner()


@require_capability("issuer.manage")
def creditor_settings_view(request: HttpRequest) -> HttpResponse:
    issuer = _issuer(request)
    current = CreditorSettings.objects.filter(partner=issuer).first()
    initial: dict[str, Any] = {"creditor_name": issuer.legal_name or issuer.name}
    if current is not None:
        initial = {
            "enabled": current.enabled,
            "creditor_id": current.creditor_id,
            "creditor_name": current.creditor_name,
            "iban": current.iban,
            "bic": current.bic,
            "notice_days": current.notice_days,
            "return_fee": from_minor(current.return_fee_minor or None, issuer.currency),
            "return_fee_tax_rate": current.return_fee_tax_rate_id,
            "mandate_text": current.mandate_text,
        }
    else:
        initial.update({"iban": issuer.iban, "bic": issuer.bic, "enabled": True})
    form = CreditorSettingsForm(
        request.POST or None,
        initial=initial,
        tax_rates=TaxRate.objects.filter(partner=issuer, is_active=True),
        currency=issuer.currency,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            creditor_settings_save(
                partner=issuer,
                enabled=data["enabled"],
                creditor_id=data["creditor_id"],
                creditor_name=data["creditor_name"],
                iban=data["iban"],
                bic=data["bic"],
                notice_days=data["notice_days"],
                return_fee_minor=to_minor(data["return_fee"], issuer.currency) or 0,
                return_fee_tax_rate=data["return_fee_tax_rate"],
                mandate_text=data["mandate_text"],
                **actor(request),
            )
        except DomainValidationError as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, "Direct debit settings saved.")
            return redirect("web:sepa_settings")
    context = {"form": form, "issuer": issuer, "current": current}
    return page(request, "web/sepa/settings.html", context, "sepa_settings")


@require_capability("customers.write")
def mandate_new(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_scoped_or_404(Customer, pk=customer_id, for_write=True)
    form = MandateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            mandate = mandate_create(
                customer=customer,
                iban=data["iban"],
                bic=data["bic"],
                debtor_name=data["debtor_name"],
                signature_date=data["signature_date"],
                reference=data["reference"],
                source=MandateSource.STAFF,
                **actor(request),
            )
        except DomainValidationError as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, f"Mandate {mandate.reference} recorded.")
            return redirect("web:customer", customer_id=customer.pk)
    issuer = account_issuer(customer)
    settings = creditor_settings_for([issuer.pk]).get(issuer.pk)
    context = {"form": form, "customer": customer, "issuer": issuer, "settings": settings}
    return page(request, "web/sepa/mandate_form.html", context, "customers")


@require_capability("customers.write")
@require_POST
def mandate_revoke_view(request: HttpRequest, mandate_id: int) -> HttpResponse:
    mandate = get_scoped_or_404(Mandate, pk=mandate_id, for_write=True)
    form = MandateRevokeForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        mandate_revoke(mandate=mandate, on=timezone.localdate(), reason=reason, **actor(request))
    except DomainValidationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Mandate {mandate.reference} revoked.")
    return redirect("web:customer", customer_id=mandate.customer_id)


@require_capability("customers.write")
@require_POST
def mandate_final_view(request: HttpRequest, mandate_id: int) -> HttpResponse:
    mandate = get_scoped_or_404(Mandate, pk=mandate_id, for_write=True)
    try:
        mandate_final_set(mandate=mandate, **actor(request))
    except DomainValidationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The next collection under {mandate.reference} is its last.")
    return redirect("web:customer", customer_id=mandate.customer_id)


def customer_mandates(customer: Customer) -> list[dict[str, Any]]:
    """The customer page's mandate rows."""
    return [
        {"mandate": m, "iban": iban_masked(m.iban)}
        for m in Mandate.objects.filter(customer=customer).order_by("-created_at", "-pk")
    ]


@require_capability("collections.manage")
def collections(request: HttpRequest) -> HttpResponse:
    form = CollectionRunForm(request.GET if "on" in request.GET else None)
    preview = None
    if form.is_bound and form.is_valid():
        preview = collection_plan(
            on=form.cleaned_data["on"],
            until=form.cleaned_data["until"],
            issuer_ids=_issuer_ids(request),
        )
    qs = Collection.objects.all().order_by("-collection_date", "-pk")
    context = {
        "form": form,
        "preview": preview,
        "page": paginate(request, qs),
    }
    return page(request, "web/sepa/collections.html", context, "collections")


def _issuer_ids(request: HttpRequest) -> list[int] | None:
    """Whose invoices a run from this panel collects: the operator collects for the home
    partner (and may collect for every issuer from the command line); a partner for itself."""
    partner = panel_partner(request)
    return [partner.pk] if partner is not None else [home_partner().pk]


@require_capability("collections.manage")
@require_POST
def collection_run_view(request: HttpRequest) -> HttpResponse:
    form = CollectionRunForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(str(e) for e in errors))
        return redirect("web:collections")
    try:
        created = collection_run(
            on=form.cleaned_data["on"],
            until=form.cleaned_data["until"],
            issuer_ids=_issuer_ids(request),
            **actor(request),
        )
    except DomainValidationError as exc:
        messages.error(request, exc.message)
        return redirect("web:collections")
    if not created:
        messages.info(request, "Nothing to collect: no notified invoice is due in that time.")
        return redirect("web:collections")
    messages.success(
        request,
        f"{len(created)} batch{'es' if len(created) != 1 else ''} created; download the "
        "pain.008 file and send it to your bank.",
    )
    return redirect("web:collection", collection_id=created[0].pk)


@require_capability("collections.manage")
def collection_detail(request: HttpRequest, collection_id: int) -> HttpResponse:
    batch = get_scoped_or_404(Collection, pk=collection_id, for_write=True)
    debits = (
        Debit.objects.filter(collection=batch)
        .select_related("customer", "mandate", "payment")
        .prefetch_related(
            Prefetch("invoices", queryset=DebitInvoice.objects.select_related("invoice"))
        )
        .order_by("pk")
    )
    returns = {r.debit_id: r for r in DebitReturn.objects.filter(debit__collection=batch)}
    rows = [{"debit": d, "return": returns.get(d.pk)} for d in debits]
    context = {
        "batch": batch,
        "rows": rows,
        "total": Money.from_minor(batch.total_minor, batch.currency),
    }
    return page(request, "web/sepa/collection.html", context, "collections")


@require_capability("collections.manage")
def collection_file(request: HttpRequest, collection_id: int) -> HttpResponse:
    batch = get_scoped_or_404(Collection, pk=collection_id, for_write=True)
    response = HttpResponse(batch.xml.encode("utf-8"), content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="{batch.message_id}.xml"'
    return response


@require_capability("collections.manage")
@require_POST
def collection_action(request: HttpRequest, collection_id: int, action: str) -> HttpResponse:
    batch = get_scoped_or_404(Collection, pk=collection_id, for_write=True)
    try:
        if action == "submit":
            collection_submit(batch=batch, **actor(request))
            messages.success(request, f"Batch {batch.message_id} marked as sent to the bank.")
        elif action == "collect":
            collection_collect(batch=batch, **actor(request))
            messages.success(
                request,
                f"Batch {batch.message_id} booked: a payment per debit, dated "
                f"{batch.collection_date.isoformat()}.",
            )
        elif action == "discard":
            collection_discard(batch=batch, **actor(request))
            messages.success(request, f"Batch {batch.message_id} discarded.")
            return redirect("web:collections")
        else:
            messages.error(request, "Unknown action.")
    except DomainValidationError as exc:
        messages.error(request, exc.message)
    return redirect("web:collection", collection_id=batch.pk)


@require_capability("collections.manage")
def returns_import(request: HttpRequest) -> HttpResponse:
    form = ReturnsUploadForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        try:
            result = returns_file_import(data=form.cleaned_data["file"], **actor(request))
        except DomainValidationError as exc:
            form.add_error("file", exc.message)
        else:
            messages.success(
                request,
                f"{result.format}: {len(result.booked)} return(s) booked, "
                f"{len(result.duplicates)} already booked, {len(result.unknown)} unknown.",
            )
    recent = DebitReturn.objects.select_related("customer", "debit").order_by(
        "-booking_date", "-pk"
    )[:50]
    context = {"form": form, "result": result, "recent": recent}
    return page(request, "web/sepa/returns.html", context, "collections")


@require_capability("customers.write")
def mandates_import_view(request: HttpRequest) -> HttpResponse:
    access = access_of(request)
    form = MandateImportForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        raw = form.cleaned_data["file"]
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        result = mandates_import(
            csv_text=text,
            partner=panel_partner(request),
            may_choose_partner=access.is_operator,
            dry_run=form.cleaned_data["dry_run"],
            **actor(request),
        )
        if not result.errors and not result.dry_run:
            messages.success(request, f"Imported {len(result.created)} mandates.")
            return redirect("web:mandates_import")
    context = {"form": form, "result": result, "columns": MANDATE_COLUMNS}
    return page(request, "web/sepa/mandates_import.html", context, "data_import")


# --- portal -----------------------------------------------------------------------------------


@require_capability("portal.read")
def portal_direct_debit(request: HttpRequest) -> HttpResponse:
    customer = get_scoped_or_404(Customer, pk=current_customer_id())
    issuer = account_issuer(customer)
    settings = creditor_settings_for([issuer.pk]).get(issuer.pk)
    text = mandate_text(settings=settings) if settings else ""
    mandates = [
        {"mandate": m, "iban": iban_masked(m.iban)}
        for m in Mandate.objects.filter(customer=customer).order_by("-created_at", "-pk")
    ]
    active = Mandate.objects.filter(customer=customer, status=MandateStatus.ACTIVE).exists()
    form = PortalMandateForm(
        request.POST or None, initial={"debtor_name": customer.company or customer.name}
    )
    if request.method == "POST" and settings is not None and form.is_valid():
        data = form.cleaned_data
        try:
            mandate = mandate_create(
                customer=customer,
                iban=data["iban"],
                bic=data["bic"],
                debtor_name=data["debtor_name"],
                signature_date=timezone.localdate(),
                source=MandateSource.PORTAL,
                signed_text=f"{text}\n\nConfirmed from {client_address(request) or '?'} at "
                f"{timezone.now().isoformat(timespec='seconds')}.",
                **actor(request),
            )
        except DomainValidationError as exc:
            errors_to_form(form, exc)
        else:
            messages.success(
                request,
                f"Thank you: your mandate {mandate.reference} is in place. Your next invoices "
                "will be collected from your account.",
            )
            return redirect("web:portal_direct_debit")
    context = {
        "customer": customer,
        "settings": settings,
        "mandate_text": text,
        "mandates": mandates,
        "active": active,
        "form": form,
    }
    return page(request, "web/portal/direct_debit.html", context, "portal_direct_debit")


@require_capability("portal.read")
@require_POST
def portal_mandate_revoke(request: HttpRequest, mandate_id: int) -> HttpResponse:
    mandate = get_scoped_or_404(Mandate, pk=mandate_id)
    try:
        mandate_revoke(
            mandate=mandate,
            on=timezone.localdate(),
            reason="revoked by the customer in the portal",
            **actor(request),
        )
    except SepaError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"Mandate {mandate.reference} revoked; nothing more is collected."
        )
    return redirect("web:portal_direct_debit")
