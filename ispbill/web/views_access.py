"""Access screens: audit log, users, API tokens, "view as partner"."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import PasswordChangeView
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.views.decorators.http import require_POST

from ispbill.accounts.models import ApiToken, Role, User
from ispbill.accounts.permissions import (
    IMPERSONATION_SESSION_KEY,
    access_for_request,
    require_capability,
)
from ispbill.accounts.services import (
    PARTNER_SCOPE_ROLES,
    api_token_create,
    api_token_list,
    api_token_revoke,
    user_create,
    user_password_change,
    user_password_link_send,
    user_update,
    users_manageable,
)
from ispbill.core.audit import audit_record, client_address
from ispbill.core.errors import DomainError, DomainValidationError, NotAllowed
from ispbill.core.models import AuditEvent
from ispbill.core.tenancy import get_scoped_or_404
from ispbill.customers.models import Customer
from ispbill.partners.models import Partner
from ispbill.web.forms.accounts import UserCreateForm, UserEditForm
from ispbill.web.forms.fields import REFUSED, errors_to_form
from ispbill.web.panel import (
    access_of,
    actor,
    brand_name,
    page,
    paginate,
    panel_partner,
    sorted_by,
)

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
        except DomainError as exc:
            error = " ".join(exc.fields.values()) or exc.message
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


# -- users ----------------------------------------------------------------------------------

USER_SORTS = {
    "username": "username",
    "name": "last_name",
    "role": "role",
    "joined": "date_joined",
    "login": "last_login",
}


def _users(request: HttpRequest) -> QuerySet[User]:
    """The users this request manages: every user for operator administrators, the
    partner's own for a partner administrator (or an operator viewing as the partner)."""
    return users_manageable(actor=request.user).select_related("partner", "customer")


def _user_for(request: HttpRequest, user_id: int) -> User:
    user: User = get_object_or_404(_users(request), pk=user_id)
    return user


def _refusal(exc: DomainError | NotAllowed) -> str:
    fields: dict[str, str] = getattr(exc, "fields", None) or {}
    return " ".join(fields.values()) if fields else str(exc)


@require_capability("users.manage")
def users(request: HttpRequest) -> HttpResponse:
    """Users, searchable by user name, email or name; filtered by role, partner, status."""
    access = access_of(request)
    qs = _users(request)
    query = request.GET.get("q", "").strip()
    if query:
        qs = qs.filter(
            Q(username__icontains=query)
            | Q(email__icontains=query)
            | Q(first_name__icontains=query)
            | Q(last_name__icontains=query)
        )
    role = request.GET.get("role", "")
    if role in Role.values:
        qs = qs.filter(role=role)
    partner = request.GET.get("partner", "") if access.is_operator else ""
    if partner == "none":
        qs = qs.filter(partner__isnull=True)
    elif partner.isdigit():
        qs = qs.filter(partner_id=int(partner))
    status = request.GET.get("status", "")
    if status in ("active", "disabled"):
        qs = qs.filter(is_active=status == "active")
    qs, sort = sorted_by(request, qs, USER_SORTS, "username")
    context: dict[str, Any] = {
        "page": paginate(request, qs),
        "sort": sort,
        "query": query,
        "role": role,
        "partner": partner,
        "status": status,
        # A partner's panel lists partner users and its portal users only.
        "roles": Role.choices
        if access.is_operator
        else [(r.value, r.label) for r in Role if r in PARTNER_SCOPE_ROLES],
        "partners": Partner.objects.order_by("name") if access.is_operator else [],
        "filtered": bool(query or role or partner or status),
    }
    return page(request, "web/access/users.html", context, "users")


def _customer_by_number(number: str, partner: Partner | None) -> Customer:
    """The customer with this number among those the request may see (a partner's own)."""
    qs = Customer.objects.filter(reference__iexact=number.strip())
    if partner is not None:
        qs = qs.filter(partner=partner)
    found = list(qs.select_related("partner")[:2])
    if not found:
        raise DomainValidationError.for_fields({"customer_id": "No customer has this number."})
    if len(found) > 1:
        raise DomainValidationError.for_fields(
            {"customer_id": "Several partners have a customer with this number; choose one."}
        )
    return found[0]


def _new_user_initial(request: HttpRequest) -> dict[str, Any]:
    """``?customer=<id>`` (the customer page's "Portal access"): a portal user for it."""
    chosen = request.GET.get("customer", "")
    if not chosen.isdigit():
        return {}
    customer = Customer.objects.filter(pk=int(chosen)).first()
    if customer is None:
        return {}
    return {
        "role": Role.CUSTOMER,
        "customer": customer.reference,
        "partner": customer.partner_id,
        "email": customer.email,
    }


@require_capability("users.manage")
def user_new(request: HttpRequest) -> HttpResponse:
    access = access_of(request)
    partners = Partner.objects.order_by("name") if access.is_operator else None
    form = UserCreateForm(
        request.POST or None, partners=partners, initial=_new_user_initial(request)
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        partner = data.get("partner") if access.is_operator else panel_partner(request)
        try:
            with transaction.atomic():
                customer = None
                if data["role"] == Role.CUSTOMER:
                    customer = _customer_by_number(data["customer"], partner)
                    partner = partner or customer.partner
                user = user_create(
                    username=data["username"],
                    role=data["role"],
                    email=data["email"],
                    partner=partner,
                    customer=customer,
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                    password=data["password"] if data["password_mode"] == "set" else None,
                    **actor(request),
                )
                sent_to = ""
                if data["password_mode"] == "link":
                    sent_to = user_password_link_send(
                        user=user, site_url=request.build_absolute_uri("/"), **actor(request)
                    )
        except REFUSED as exc:
            errors_to_form(form, exc)
        except NotAllowed as exc:
            form.add_error(None, str(exc))
        else:
            note = (
                f" A link to choose a password went to {sent_to}."
                if sent_to
                else " They sign in with the initial password you gave."
            )
            messages.success(request, f"User {user.username} created.{note}")
            return redirect("web:users")
    return page(request, "web/access/user_form.html", {"form": form}, "users")


@require_capability("users.manage")
def user_edit(request: HttpRequest, user_id: int) -> HttpResponse:
    target = _user_for(request, user_id)
    editing_self = target.pk == request.user.pk
    form = UserEditForm(request.POST or None, user=target, editing_self=editing_self)
    if request.method == "POST" and form.is_valid():
        try:
            user_update(user=target, **form.cleaned_data, **actor(request))
        except DomainValidationError as exc:
            errors_to_form(form, exc)
        except NotAllowed as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"User {target.username} saved.")
            return redirect("web:users")
    context = {"form": form, "target": target, "editing_self": editing_self}
    return page(request, "web/access/user_edit.html", context, "users")


@require_POST
@require_capability("users.manage")
def user_toggle(request: HttpRequest, user_id: int) -> HttpResponseBase:
    """Disable (sign-in and API tokens stop at once) or enable again; asks first."""
    target = _user_for(request, user_id)
    try:
        user_update(user=target, is_active=not target.is_active, **actor(request))
    except (DomainError, NotAllowed) as exc:
        messages.error(request, _refusal(exc))
    else:
        if target.is_active:
            messages.success(
                request,
                f"{target.username} is disabled: it can no longer sign in and its API tokens "
                "stop working.",
            )
        else:
            messages.success(request, f"{target.username} is enabled again.")
    return redirect("web:user_edit", user_id=target.pk)


@require_POST
@require_capability("users.manage")
def user_password_link(request: HttpRequest, user_id: int) -> HttpResponseBase:
    """Email the user a link to choose a (new) password."""
    target = _user_for(request, user_id)
    try:
        sent_to = user_password_link_send(
            user=target, site_url=request.build_absolute_uri("/"), **actor(request)
        )
    except (DomainError, NotAllowed) as exc:
        messages.error(request, _refusal(exc))
    else:
        messages.success(request, f"A link to choose a password went to {sent_to}.")
    return redirect("web:user_edit", user_id=target.pk)


class PasswordChange(PasswordChangeView):
    """Every signed-in user changes their own password (Django's view and form: old password,
    the new one twice, the password validators); the change is made and audited by
    ``user_password_change`` and keeps the user signed in."""

    template_name = "web/account/password_change.html"
    success_url = reverse_lazy("web:password_change")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("nav", "password_change")
        context.setdefault("panel_partner", panel_partner(self.request))
        context.setdefault("brand_name", brand_name(self.request))
        return context

    def form_valid(self, form: Any) -> HttpResponse:
        try:
            user = user_password_change(
                user=self.request.user,  # type: ignore[arg-type]
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password1"],
            )
        except DomainValidationError as exc:
            errors_to_form(form, exc)
            return self.form_invalid(form)
        update_session_auth_hash(self.request, user)
        messages.success(self.request, "Your password is changed.")
        return redirect(self.get_success_url())


password_change = PasswordChange.as_view()
