"""Template editor: an issuer's document and email templates with a live preview, and its
assets (logo, fonts).

Operator administrators edit the home partner's templates and may pick any own-invoicing
partner (``?partner=``); an own-invoicing partner's administrators edit only their own.
Previews render the sample document or one of that issuer's real documents; saving refuses
a broken template with its line and error and keeps the previous one."""

from __future__ import annotations

import base64
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from ispbill.accounts.permissions import require_capability
from ispbill.core.errors import DomainValidationError
from ispbill.core.tenancy import get_scoped_or_404
from ispbill.documents.render import DocumentRenderError
from ispbill.invoicing.models import (
    EMAIL_TEMPLATE_TYPES,
    DocumentTemplate,
    IssuerAsset,
    TemplateType,
)
from ispbill.invoicing.templates import (
    document_template_active,
    document_template_active_row,
    document_template_reset,
    document_template_save,
    issuer_asset_delete,
    issuer_asset_upload,
)
from ispbill.partners.models import Partner, PartnerMode
from ispbill.web.documents import pdf_response
from ispbill.web.panel import access_of, actor, page
from ispbill.web.template_preview import (
    PreviewError,
    template_document_choices,
    template_document_data,
    template_preview_email,
    template_preview_pdf,
    template_preview_png,
)


def _issuer(request: HttpRequest) -> Partner:
    """The issuer whose templates this request edits."""
    access = access_of(request)
    if access.is_operator:
        chosen = request.POST.get("partner") or request.GET.get("partner")
        if not chosen:
            return Partner.objects.get(is_home=True)
        partner: Partner = get_scoped_or_404(Partner, pk=chosen)
        if not partner.issues_own_documents:
            raise Http404("This partner does not issue its own documents.")
        return partner
    partner = get_scoped_or_404(Partner, pk=access.partner_id or 0)
    if partner.mode != PartnerMode.OWN_INVOICING:
        raise PermissionDenied("Only issuers edit document templates.")
    return partner


def _doc_type(request: HttpRequest) -> str:
    """The template type of the request (``type`` in the query or the form)."""
    doc_type = request.POST.get("type") or request.GET.get("type") or ""
    if doc_type not in TemplateType.values:
        raise Http404("No such template.")
    return doc_type


def _partner_param(request: HttpRequest, issuer: Partner) -> str:
    """The ``partner`` parameter to keep in links: an operator editing a partner's templates."""
    return str(issuer.pk) if access_of(request).is_operator and not issuer.is_home else ""


def _query(request: HttpRequest, issuer: Partner, doc_type: str = "") -> str:
    params = []
    if doc_type:
        params.append(f"type={doc_type}")
    if _partner_param(request, issuer):
        params.append(f"partner={issuer.pk}")
    return "?" + "&".join(params) if params else ""


@require_capability("issuer.manage")
def document_templates(request: HttpRequest) -> HttpResponse:
    """Every template type of the issuer, customised or default, and its assets."""
    issuer = _issuer(request)
    active = {
        row.document_type: row
        for row in DocumentTemplate.objects.filter(partner_id=issuer.pk, is_active=True)
    }
    rows = [
        {"type": value, "label": label, "active": active.get(value)}
        for value, label in TemplateType.choices
    ]
    assets = IssuerAsset.objects.filter(partner_id=issuer.pk).defer("content").order_by("name")
    issuers = (
        Partner.objects.filter(mode__in=[PartnerMode.DIRECT, PartnerMode.OWN_INVOICING])
        .order_by("-is_home", "name")
        .only("pk", "name", "is_home")
        if access_of(request).is_operator
        else []
    )
    return page(
        request,
        "web/templates_editor/list.html",
        {
            "issuer": issuer,
            "rows": rows,
            "assets": assets,
            "issuers": issuers,
            "partner_param": _partner_param(request, issuer),
        },
        "templates",
    )


@require_capability("issuer.manage")
def document_template_edit(request: HttpRequest) -> HttpResponse:
    """The editor; POST saves (refused with line and error when broken) or resets."""
    issuer = _issuer(request)
    doc_type = _doc_type(request)
    error: DocumentRenderError | None = None
    source = document_template_active(issuer, doc_type)
    if request.method == "POST":
        back = reverse("web:document_template_edit") + _query(request, issuer, doc_type)
        if request.POST.get("action") == "reset":
            document_template_reset(issuer=issuer, document_type=doc_type, **actor(request))
            messages.success(request, "The default template is in use again.")
            return redirect(back)
        source = request.POST.get("source", "")
        try:
            real = template_document_data(issuer, doc_type, request.POST.get("document", ""))
            document_template_save(
                issuer=issuer,
                document_type=doc_type,
                source=source,
                document=real if doc_type not in EMAIL_TEMPLATE_TYPES else None,
                **actor(request),
            )
        except PreviewError as exc:
            error = DocumentRenderError(str(exc))
        except DocumentRenderError as exc:
            error = exc
        except DomainValidationError as exc:
            error = DocumentRenderError(exc.message)
        else:
            messages.success(request, "Template saved. New documents use it.")
            return redirect(back)
    row = document_template_active_row(issuer.pk, doc_type)
    history = DocumentTemplate.objects.filter(partner_id=issuer.pk, document_type=doc_type)
    response = page(
        request,
        "web/templates_editor/edit.html",
        {
            "issuer": issuer,
            "doc_type": doc_type,
            "label": TemplateType(doc_type).label,
            "is_email": doc_type in EMAIL_TEMPLATE_TYPES,
            "source": source,
            "active": row,
            "history": history.order_by("-created_at", "-pk")[:10],
            "documents": template_document_choices(issuer, doc_type),
            "error": error,
            "partner_param": _partner_param(request, issuer),
        },
        "templates",
    )
    if error is not None:
        response.status_code = 422
    return response


@require_capability("issuer.manage")
@require_POST
def document_template_preview(request: HttpRequest) -> HttpResponse:
    """The preview of the posted source: a PNG of page one (HTMX fragment), the whole PDF
    (``format=pdf``), or the email text. Nothing is saved."""
    issuer = _issuer(request)
    doc_type = _doc_type(request)
    source = request.POST.get("source", "")
    choice = request.POST.get("document", "")
    language = "en" if request.POST.get("language") == "en" else "de"
    context: dict[str, Any] = {"doc_type": doc_type}
    try:
        if doc_type in EMAIL_TEMPLATE_TYPES:
            context["email"] = template_preview_email(
                issuer=issuer,
                document_type=doc_type,
                source=source,
                choice=choice,
                language=language,
            )
        elif request.POST.get("format") == "pdf":
            pdf = template_preview_pdf(
                issuer=issuer,
                document_type=doc_type,
                source=source,
                choice=choice,
                language=language,
            )
            return pdf_response(pdf, f"preview-{doc_type}")
        else:
            png = template_preview_png(
                issuer=issuer,
                document_type=doc_type,
                source=source,
                choice=choice,
                language=language,
            )
            context["png"] = base64.b64encode(png).decode("ascii")
    except DocumentRenderError as exc:
        context["error"] = exc
    except PreviewError as exc:
        context["error"] = DocumentRenderError(str(exc))
    return render(request, "web/templates_editor/preview.html", context)


@require_capability("issuer.manage")
@require_POST
def issuer_asset_upload_view(request: HttpRequest) -> HttpResponse:
    issuer = _issuer(request)
    upload = request.FILES.get("file")
    back = reverse("web:document_templates") + _query(request, issuer)
    if upload is None:
        messages.error(request, "Choose a file to upload.")
        return redirect(back)
    name = (request.POST.get("name") or upload.name or "").strip()
    try:
        issuer_asset_upload(issuer=issuer, name=name, content=upload.read(), **actor(request))
    except DomainValidationError as exc:
        messages.error(request, exc.fields.get("file") or exc.message)
    else:
        messages.success(request, f"{name} uploaded; templates can use it by that name.")
    return redirect(back)


@require_capability("issuer.manage")
@require_POST
def issuer_asset_delete_view(request: HttpRequest) -> HttpResponse:
    issuer = _issuer(request)
    name = request.POST.get("name", "")
    issuer_asset_delete(issuer=issuer, name=name, **actor(request))
    messages.success(request, f"{name} deleted.")
    return redirect(reverse("web:document_templates") + _query(request, issuer))
