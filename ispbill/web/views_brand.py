"""An issuer's brand: edited by the operator (any issuer) and by an own-invoicing partner's
administrator (its own); its logo served to those who see it."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from ispbill.accounts.permissions import require_capability
from ispbill.core.tenancy import get_scoped_or_404
from ispbill.invoicing.templates import issuer_logo, issuer_logo_delete, issuer_logo_upload
from ispbill.partners.brand import issuer_brand, partner_brand_update
from ispbill.partners.models import Partner
from ispbill.web.forms.brand import BrandForm
from ispbill.web.forms.fields import REFUSED, errors_to_form
from ispbill.web.panel import access_of, actor, page, panel_partner, portal_issuer


def _brand_page(request: HttpRequest, issuer: Partner, *, nav: str, done: str) -> HttpResponse:
    if not issuer.issues_own_documents:
        # Percentage and aggregated partners' customers are invoiced by the operator.
        context: dict[str, Any] = {"issuer": issuer, "form": None, "brand": None}
        return page(request, "web/brand.html", context, nav)
    form = BrandForm(request.POST or None, request.FILES or None, instance=issuer)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data.get("logo")
        try:
            with transaction.atomic():
                partner_brand_update(partner=issuer, **form.service_fields(), **actor(request))
                if upload is not None:
                    issuer_logo_upload(
                        issuer=issuer,
                        filename=upload.name,
                        content=upload.read(),
                        **actor(request),
                    )
                elif form.cleaned_data.get("remove_logo"):
                    issuer_logo_delete(issuer=issuer, **actor(request))
        except REFUSED as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, "Brand saved. The portal shows it now; new documents use it.")
            return redirect(done)
    issuer.refresh_from_db()
    context = {
        "issuer": issuer,
        "form": form,
        "brand": issuer_brand(issuer),
        "has_logo": issuer_logo(issuer) is not None,
    }
    return page(request, "web/brand.html", context, nav)


@require_capability("issuer.manage")
def brand_settings(request: HttpRequest) -> HttpResponse:
    """The panel's own issuer: the home partner for the operator, else the own-invoicing
    partner whose administrator signed in."""
    issuer = panel_partner(request) or Partner.objects.get(is_home=True)
    return _brand_page(request, issuer, nav="brand", done=request.path)


@require_capability("partners.manage")
def partner_brand(request: HttpRequest, partner_id: int) -> HttpResponse:
    """The operator edits any issuer's brand from the partner's page."""
    issuer = get_scoped_or_404(Partner, pk=partner_id, for_write=True)
    return _brand_page(request, issuer, nav="partners", done=request.path)


@login_required
def brand_logo(request: HttpRequest, partner_id: int) -> HttpResponse:
    """An issuer's logo, for those who see its brand: the operator, the issuer's own staff,
    and customers it invoices. Anyone else, and an issuer without a logo: 404."""
    access = access_of(request)
    if access.is_operator:
        allowed = True
    elif access.customer_id is not None:
        issuer = portal_issuer(request)
        allowed = issuer is not None and issuer.pk == partner_id
    else:
        allowed = access.partner_id == partner_id
    logo = issuer_logo(partner_id) if allowed else None
    if logo is None:
        raise Http404("No logo.")
    response = HttpResponse(bytes(logo.content), content_type=logo.content_type)
    # An uploaded SVG is shown as an image only: no scripts, nothing loaded, even when
    # opened on its own.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=86400"
    return response
