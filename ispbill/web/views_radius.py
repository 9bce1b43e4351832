"""RADIUS screens: a customer's network sessions and traffic, a service's credential, the
NAS list and the blocked-customer policy. Presentation only: services do the writes."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from ispbill.accounts.permissions import require_capability
from ispbill.core.tenancy import get_scoped_or_404
from ispbill.customers.models import Customer
from ispbill.radius.models import (
    BlockedPolicy,
    CredentialKind,
    Nas,
    NasType,
    RadiusCredential,
)
from ispbill.radius.selectors import (
    radius_credentials_of_customer,
    radius_provisioned,
    radius_sessions,
)
from ispbill.radius.services import (
    nas_create,
    nas_delete,
    nas_update,
    radius_credential_set,
    radius_policy_set,
)
from ispbill.radius.sync import radius_policy
from ispbill.subscriptions.models import Service
from ispbill.web.forms.fields import errors_to_form
from ispbill.web.panel import actor, page


class CredentialForm(forms.Form):
    kind = forms.ChoiceField(choices=CredentialKind.choices, label="Recognised by")
    username = forms.CharField(
        max_length=64, label="User name", help_text="PPPoE login, MAC or IP address"
    )
    password = forms.CharField(max_length=128, required=False, label="Password")
    framed_ip = forms.GenericIPAddressField(
        protocol="IPv4", required=False, label="Static IP address"
    )


class NasForm(forms.Form):
    name = forms.CharField(max_length=32)
    address = forms.GenericIPAddressField(label="IP address (NAS-IP-Address)")
    secret = forms.CharField(max_length=60, label="Shared secret")
    coa_port = forms.IntegerField(min_value=1, max_value=65535, initial=3799, label="CoA port")
    type = forms.ChoiceField(choices=NasType.choices)
    description = forms.CharField(max_length=200, required=False)


class PolicyForm(forms.Form):
    blocked = forms.ChoiceField(choices=BlockedPolicy.choices, label="Blocked customers")
    blocked_group = forms.CharField(max_length=64, label="RADIUS group")
    blocked_pool = forms.CharField(max_length=64, label="Address pool (Framed-Pool)")
    blocked_address_list = forms.CharField(
        max_length=64, required=False, label="MikroTik address list"
    )


def _usage(cred: RadiusCredential) -> dict[str, object]:
    return {
        "credential": cred,
        "traffic": radius_sessions(username=cred.username),
        "provisioned": radius_provisioned(username=cred.username),
    }


@require_capability("customers.read")
def customer_sessions(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_scoped_or_404(Customer, pk=customer_id)
    creds = radius_credentials_of_customer(customer_id=customer.pk)
    services = Service.objects.filter(customer=customer, tariff__kind="internet").select_related(
        "tariff"
    )
    context = {
        "customer": customer,
        "usages": [_usage(c) for c in creds],
        "without": [s for s in services if s.pk not in {c.service_id for c in creds}],
    }
    return page(request, "web/radius/customer.html", context, "customers")


@require_capability("customers.write")
def service_credential(request: HttpRequest, service_id: int) -> HttpResponse:
    service = get_scoped_or_404(
        Service.objects.select_related("customer", "tariff"), pk=service_id, for_write=True
    )
    cred = RadiusCredential.objects.filter(service=service).first()
    initial = (
        {
            "kind": cred.kind,
            "username": cred.username,
            "password": cred.password,
            "framed_ip": cred.framed_ip,
        }
        if cred
        else {"kind": CredentialKind.PPPOE}
    )
    form = CredentialForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            radius_credential_set(service=service, **form.cleaned_data, **actor(request))
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for name, errs in exc.error_dict.items():
                    form.add_error(name if name in form.fields else None, errs)
            else:
                errors_to_form(form, exc)
        else:
            messages.success(request, "RADIUS credential saved; the network follows at once.")
            return redirect("web:radius_customer", customer_id=service.customer_id)
    context = {
        "form": form,
        "customer": service.customer,
        "title": f"RADIUS credential · {service.description or service.tariff.name}",
    }
    return page(request, "web/customers/subform.html", context, "customers")


@require_capability("partners.manage")
def nas_list(request: HttpRequest) -> HttpResponse:
    form = NasForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            nas_create(**form.cleaned_data, **actor(request))
        except ValidationError as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, "NAS added.")
            return redirect("web:radius_nas_list")
    policy_form = PolicyForm(
        initial={f: getattr(radius_policy(), f) for f in PolicyForm.base_fields}
    )
    context = {"nases": Nas.objects.all(), "form": form, "policy_form": policy_form}
    return page(request, "web/radius/nas_list.html", context, "settings")


@require_capability("partners.manage")
def nas_edit(request: HttpRequest, nas_id: int) -> HttpResponse:
    nas = get_object_or_404(Nas, pk=nas_id)
    initial = {f: getattr(nas, f) for f in NasForm.base_fields}
    form = NasForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            nas_update(nas=nas, **form.cleaned_data, **actor(request))
        except ValidationError as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, f"NAS {nas.name} saved.")
            return redirect("web:radius_nas_list")
    return page(request, "web/radius/nas_form.html", {"form": form, "nas": nas}, "settings")


@require_POST
@require_capability("partners.manage")
def nas_remove(request: HttpRequest, nas_id: int) -> HttpResponse:
    nas = get_object_or_404(Nas, pk=nas_id)
    nas_delete(nas=nas, **actor(request))
    messages.success(request, f"NAS {nas.name} removed.")
    return redirect("web:radius_nas_list")


@require_POST
@require_capability("partners.manage")
def policy_edit(request: HttpRequest) -> HttpResponse:
    form = PolicyForm(request.POST)
    if form.is_valid():
        radius_policy_set(**form.cleaned_data, **actor(request))
        messages.success(request, "Blocked-customer policy saved; RADIUS tables rebuilt.")
    else:
        messages.error(request, "The policy was not saved: every field but the list is needed.")
    return redirect("web:radius_nas_list")
