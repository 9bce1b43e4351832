"""Access screens: audit log, API tokens, "view as partner"."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from ispbill.accounts.models import ApiToken
from ispbill.accounts.permissions import (
    IMPERSONATION_SESSION_KEY,
    access_for_request,
    require_capability,
)
from ispbill.accounts.services import api_token_create, api_token_list, api_token_revoke
from ispbill.core.audit import audit_record, client_address
from ispbill.core.models import AuditEvent
from ispbill.core.tenancy import get_scoped_or_404
from ispbill.partners.models import Partner

AUDIT_PAGE_SIZE = 50


def _parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@require_capability("audit.read")
def audit_log(request: HttpRequest) -> HttpResponse:
    """The audit log, newest first. The scope limits partner administrators to their
    partner's events; operators may filter by partner."""
    access = access_for_request(request)
    events = AuditEvent.objects.select_related("partner")
    filters = {
        key: request.GET.get(key, "").strip()
        for key in ("action", "object_type", "object_id", "actor", "partner", "since", "until")
    }
    if filters["action"]:
        events = events.filter(action__startswith=filters["action"])
    if filters["object_type"]:
        events = events.filter(object_type=filters["object_type"])
    if filters["object_id"]:
        events = events.filter(object_id=filters["object_id"])
    if filters["actor"]:
        events = events.filter(actor_label__icontains=filters["actor"])
    if filters["partner"].isdigit() and access.is_operator:
        events = events.filter(partner_id=int(filters["partner"]))
    since, until = _parse_date(filters["since"]), _parse_date(filters["until"])
    tz = timezone.get_current_timezone()
    if since:
        events = events.filter(created_at__gte=datetime.combine(since, time.min, tzinfo=tz))
    if until:
        events = events.filter(created_at__lte=datetime.combine(until, time.max, tzinfo=tz))
    page = Paginator(events.order_by("-id"), AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = urlencode({k: v for k, v in filters.items() if v})
    context: dict[str, Any] = {
        "page": page,
        "filters": filters,
        "query": query,
        "partners": Partner.objects.order_by("name") if access.is_operator else [],
        "actions": AuditEvent.objects.order_by("action")
        .values_list("action", flat=True)
        .distinct(),
        "object_types": AuditEvent.objects.order_by("object_type")
        .values_list("object_type", flat=True)
        .distinct(),
    }
    return render(request, "web/access/audit_log.html", context)


@require_capability("tokens.own")
def api_tokens(request: HttpRequest) -> HttpResponse:
    """The user's own API tokens; POST creates one and shows its secret once."""
    user: Any = request.user
    plaintext = None
    error = ""
    if request.method == "POST":
        name = request.POST.get("name", "")
        expires_on = _parse_date(request.POST.get("expires_on", "").strip())
        expires_at = (
            datetime.combine(expires_on, time.max, tzinfo=timezone.get_current_timezone())
            if expires_on
            else None
        )
        try:
            _token, plaintext = api_token_create(
                user=user, name=name, expires_at=expires_at, remote_addr=client_address(request)
            )
        except ValueError as exc:
            error = str(exc)
    response = render(
        request,
        "web/access/tokens.html",
        {
            "tokens": api_token_list(user=user),
            "plaintext": plaintext,
            "error": error,
            "now": timezone.now(),
        },
        status=400 if error else 200,
    )
    if plaintext:
        response["Cache-Control"] = "no-store"
    return response


@require_POST
@require_capability("tokens.own")
def api_token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponseBase:
    # Tokens are per user: someone else's token is as absent as a missing one.
    token = get_object_or_404(ApiToken, pk=token_id, user_id=request.user.pk)
    api_token_revoke(token=token, actor=request.user, remote_addr=client_address(request))
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("web:api_tokens")


@require_capability("impersonate")
def view_as_list(request: HttpRequest) -> HttpResponse:
    partners = Partner.objects.filter(is_home=False).order_by("name")
    return render(request, "web/access/view_as.html", {"partners": partners})


@require_POST
@require_capability("impersonate")
def view_as_start(request: HttpRequest, partner_id: int) -> HttpResponseBase:
    """An operator administrator starts seeing the application as a partner's
    administrator. Logged; the banner in every page offers to stop."""
    partner = get_scoped_or_404(Partner, pk=partner_id)
    if partner.is_home:
        raise Http404("The home partner is the operator itself.")
    audit_record(
        action="impersonation.start",
        obj=partner,
        actor=request.user,
        partner_id=partner.pk,
        remote_addr=client_address(request),
    )
    request.session[IMPERSONATION_SESSION_KEY] = partner.pk
    messages.info(request, f"You are viewing ispbill as {partner.name}.")
    return redirect("web:home")


@require_POST
@login_required
def view_as_stop(request: HttpRequest) -> HttpResponseBase:
    partner_id = request.session.pop(IMPERSONATION_SESSION_KEY, None)
    if isinstance(partner_id, int):
        partner = Partner.objects.filter(pk=partner_id).first()
        if partner is not None:
            audit_record(
                action="impersonation.stop",
                obj=partner,
                actor=request.user,
                partner_id=partner.pk,
                remote_addr=client_address(request),
            )
    return redirect("web:home")
