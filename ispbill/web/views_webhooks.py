"""Webhooks: the endpoints of the operator (every partner's events) or of the partner whose
panel this is (its own events), each with its delivery log and replay; the latest events
(docs/webhooks.md)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from ispbill.accounts.permissions import require_capability
from ispbill.core.tenancy import get_scoped_or_404
from ispbill.events.models import Delivery, DeliveryStatus, Event, WebhookEndpoint
from ispbill.events.services import (
    delivery_replay,
    endpoint_create,
    endpoint_delete,
    endpoint_secret_rotate,
    endpoint_update,
)
from ispbill.web.forms.fields import REFUSED, errors_to_form
from ispbill.web.forms.webhooks import RotateSecretForm, WebhookEndpointForm
from ispbill.web.panel import actor, page, paginate, panel_partner


@require_capability("webhooks.manage")
def webhooks(request: HttpRequest) -> HttpResponse:
    """The endpoints, a form to add one (its secret is shown once, on the answer) and the
    latest events of the scope."""
    own = panel_partner(request)
    form = WebhookEndpointForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = endpoint_create(
                partner_id=own.pk if own else None,
                url=data["url"],
                description=data["description"],
                event_types=data["event_types"],
                **actor(request),
            )
        except REFUSED as exc:
            errors_to_form(form, exc)
        else:
            form = WebhookEndpointForm()
    endpoints = WebhookEndpoint.objects.select_related("partner").order_by("id")
    context = {
        "form": form,
        "created": created,
        "endpoints": endpoints,
        "events": Event.objects.order_by("-id")[:20],
    }
    return page(request, "web/webhooks/list.html", context, "webhooks")


@require_capability("webhooks.manage")
def webhook_endpoint(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    """One endpoint: change it, and its delivery log."""
    endpoint = get_scoped_or_404(WebhookEndpoint, pk=endpoint_id, for_write=True)
    initial = {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_types,
        "enabled": endpoint.enabled,
    }
    form = WebhookEndpointForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            endpoint_update(
                endpoint,
                url=data["url"],
                description=data["description"],
                event_types=data["event_types"],
                enabled=data["enabled"],
                **actor(request),
            )
        except REFUSED as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, f"Webhook endpoint {endpoint.url} saved.")
            return redirect("web:webhook_endpoint", endpoint_id=endpoint.pk)
    return _endpoint_page(request, endpoint, form)


def _endpoint_page(
    request: HttpRequest,
    endpoint: WebhookEndpoint,
    form: WebhookEndpointForm,
    *,
    rotated: str = "",
    rotate_form: RotateSecretForm | None = None,
) -> HttpResponse:
    deliveries = Delivery.objects.filter(endpoint=endpoint).select_related("event")
    status = request.GET.get("status", "")
    if status in DeliveryStatus.values:
        deliveries = deliveries.filter(status=status)
    grace = (
        endpoint.previous_secret_expires_at
        if endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > timezone.now()
        else None
    )
    context = {
        "endpoint": endpoint,
        "form": form,
        "rotate_form": rotate_form or RotateSecretForm(),
        "rotated": rotated,
        "grace_until": grace,
        "page": paginate(request, deliveries.order_by("-id")),
        "status": status,
        "statuses": DeliveryStatus.choices,
    }
    return page(request, "web/webhooks/endpoint.html", context, "webhooks")


@require_POST
@require_capability("webhooks.manage")
def webhook_endpoint_rotate(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    """A new signing secret, shown once on the answer; the previous one keeps signing for
    the grace period chosen."""
    endpoint = get_scoped_or_404(WebhookEndpoint, pk=endpoint_id, for_write=True)
    rotate_form = RotateSecretForm(request.POST)
    rotated = ""
    if rotate_form.is_valid():
        try:
            rotated = endpoint_secret_rotate(
                endpoint, grace_hours=rotate_form.cleaned_data["grace_hours"], **actor(request)
            )
        except REFUSED as exc:
            errors_to_form(rotate_form, exc)
        else:
            rotate_form = RotateSecretForm()
    initial = {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_types,
        "enabled": endpoint.enabled,
    }
    form = WebhookEndpointForm(initial=initial, editing=True)
    return _endpoint_page(request, endpoint, form, rotated=rotated, rotate_form=rotate_form)


@require_POST
@require_capability("webhooks.manage")
def webhook_endpoint_delete(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = get_scoped_or_404(WebhookEndpoint, pk=endpoint_id, for_write=True)
    url = endpoint.url
    endpoint_delete(endpoint, **actor(request))
    messages.success(request, f"Webhook endpoint {url} deleted.")
    return redirect("web:webhooks")


@require_POST
@require_capability("webhooks.manage")
def webhook_delivery_replay(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = get_scoped_or_404(Delivery, pk=delivery_id, for_write=True)
    delivery_replay(delivery, **actor(request))
    messages.success(request, f"Event {delivery.event.uid} queued to be sent again.")
    return redirect("web:webhook_endpoint", endpoint_id=delivery.endpoint_id)
