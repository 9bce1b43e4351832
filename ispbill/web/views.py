"""Dashboard, dunning overview and issuer settings."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from ispbill.accounts.permissions import require_capability
from ispbill.core.errors import DomainError
from ispbill.invoicing.sequences import sequence_set_next, sequences_state
from ispbill.partners.models import Partner
from ispbill.partners.services import partner_update
from ispbill.web.dashboard import dashboard_figures
from ispbill.web.forms.fields import today
from ispbill.web.forms.partners import IssuerSettingsForm, SequenceNextForm
from ispbill.web.panel import access_of, actor, page, panel_currency, panel_partner


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The dashboard; customers land on their portal."""
    access = access_of(request)
    if access.can("portal.read"):
        return redirect("web:portal")
    context: dict[str, Any] = {}
    if access.can("finance.read") or access.can("customers.read"):
        board = dashboard_figures(today=today(), currency=panel_currency(request))
        context["board"] = board
        context["chart_data"] = board.chart_data()
    return page(request, "web/dashboard.html", context, "dashboard")


@require_capability("issuer.manage")
def issuer_settings(request: HttpRequest) -> HttpResponse:
    """The issuer's details, numbering and billing defaults (home or own-invoicing partner)."""
    issuer = panel_partner(request) or Partner.objects.get(is_home=True)
    form = IssuerSettingsForm(request.POST or None, instance=issuer)
    if request.method == "POST" and form.is_valid():
        try:
            partner_update(partner=issuer, **form.service_fields(), **actor(request))
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Settings saved. New documents use them.")
            return redirect("web:settings")
    issuer.refresh_from_db()
    context = {
        "form": form,
        "issuer": issuer,
        "sequences": [
            (
                state,
                SequenceNextForm(
                    initial={"doc_type": state.doc_type, "next_value": state.next_value}
                ),
            )
            for state in sequences_state(issuer=issuer, on=today())
        ],
    }
    return page(request, "web/settings.html", context, "settings")


@require_capability("issuer.manage")
@require_POST
def sequence_next(request: HttpRequest) -> HttpResponse:
    """Set the next number of one of the issuer's document types (forward only)."""
    issuer = panel_partner(request) or Partner.objects.get(is_home=True)
    form = SequenceNextForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
        messages.error(request, f"The next number was not changed: {errors}")
        return redirect("web:settings")
    try:
        sequence_set_next(
            issuer=issuer,
            doc_type=form.cleaned_data["doc_type"],
            year=today().year,
            next_value=form.cleaned_data["next_value"],
            **actor(request),
        )
    except DomainError as exc:
        messages.error(request, f"The next number was not changed: {exc}")
    else:
        messages.success(request, "Next number saved; the next document takes it.")
    return redirect("web:settings")
