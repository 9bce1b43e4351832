"""The brand of an issuer (docs/reseller-modes.md, "Brand"): the operator reads and sets any
issuer's, an own-invoicing partner's administrator its own (another partner's id: 404)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from ninja import Router, Schema
from pydantic import ConfigDict

from ispbill.api.context import actor
from ispbill.api.errors import ERROR_RESPONSES
from ispbill.api.guard import guard, resolved
from ispbill.api.schemas import HexColor, InSchema, Str40, Str100, Str200, Str254
from ispbill.core.errors import DomainValidationError
from ispbill.invoicing.templates import (
    MAX_LOGO_BYTES,
    issuer_logo,
    issuer_logo_delete,
    issuer_logo_upload,
)
from ispbill.partners.brand import issuer_brand, partner_brand_update
from ispbill.partners.models import Partner

router = Router(tags=["brand"])


class BrandIn(InSchema):
    """The brand settings; PUT replaces them all (an omitted field is emptied, i.e. falls
    back to the issuer's details)."""

    brand_name: Str100 = ""
    brand_color: HexColor = ""
    support_email: Str254 = ""
    support_phone: Str40 = ""
    support_website: Str200 = ""
    email_sender_name: Str100 = ""
    email_reply_to: Str254 = ""


class BrandEffective(Schema):
    """What customers see, every fallback applied."""

    name: str
    legal_name: str
    color: str
    text_color: str
    email: str
    phone: str
    website: str
    sender_name: str
    reply_to: str


class BrandOut(BrandIn):
    model_config = ConfigDict(extra="ignore")  # an answer, not a request body

    partner_id: int
    own_brand: bool  # False: a percentage or aggregated partner, whose customers see the ISP's
    logo_url: str  # "" when none
    effective: BrandEffective


class LogoIn(InSchema):
    filename: Str100
    content_base64: str


def _out(request: HttpRequest, partner: Partner) -> dict[str, Any]:
    brand = issuer_brand(partner)
    logo = issuer_logo(partner)
    return {
        "partner_id": partner.pk,
        "own_brand": partner.issues_own_documents,
        "brand_name": partner.brand_name,
        "brand_color": partner.brand_color,
        "support_email": partner.support_email,
        "support_phone": partner.support_phone,
        "support_website": partner.support_website,
        "email_sender_name": partner.email_sender_name,
        "email_reply_to": partner.email_reply_to,
        "logo_url": (
            request.build_absolute_uri(reverse("web:brand_logo", kwargs={"partner_id": partner.pk}))
            if logo is not None
            else ""
        ),
        "effective": {
            "name": brand.name,
            "legal_name": brand.legal_name,
            "color": brand.color,
            "text_color": brand.text_color,
            "email": brand.email,
            "phone": brand.phone,
            "website": brand.website,
            "sender_name": brand.sender_name,
            "reply_to": brand.reply_to,
        },
    }


@router.get("/partners/{partner_id}/brand", response={200: BrandOut, **ERROR_RESPONSES})
@guard("issuer.manage")
def brand_read(request: HttpRequest, partner_id: int) -> Any:
    return _out(request, resolved(request, "partner_id"))


@router.put("/partners/{partner_id}/brand", response={200: BrandOut, **ERROR_RESPONSES})
@guard("issuer.manage")
def brand_write(request: HttpRequest, partner_id: int, payload: BrandIn) -> Any:
    """Set the brand (audited as ``partner.brand_updated``); 422 for a partner whose
    customers the operator invoices."""
    partner = partner_brand_update(
        partner=resolved(request, "partner_id"), actor=actor(request), **payload.dict()
    )
    return _out(request, partner)


@router.put("/partners/{partner_id}/brand/logo", response={200: BrandOut, **ERROR_RESPONSES})
@guard("issuer.manage")
def brand_logo_write(request: HttpRequest, partner_id: int, payload: LogoIn) -> Any:
    """Upload the logo: PNG, JPEG or SVG (judged by content), base64-encoded, at most
    500 kB; it replaces the previous one."""
    partner = resolved(request, "partner_id")
    if len(payload.content_base64) > (MAX_LOGO_BYTES * 4) // 3 + 8:
        raise DomainValidationError.for_fields(
            {"content_base64": f"The logo is larger than {MAX_LOGO_BYTES // 1000} kB."}
        )
    try:
        content = base64.b64decode(payload.content_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DomainValidationError.for_fields(
            {"content_base64": "Send the file's bytes base64-encoded."}
        ) from exc
    if not partner.issues_own_documents:
        raise DomainValidationError(
            "This partner's customers see the operator's brand; it has no logo of its own."
        )
    issuer_logo_upload(
        issuer=partner, filename=payload.filename, content=content, actor=actor(request)
    )
    return _out(request, partner)


@router.delete("/partners/{partner_id}/brand/logo", response={200: BrandOut, **ERROR_RESPONSES})
@guard("issuer.manage")
def brand_logo_delete(request: HttpRequest, partner_id: int) -> Any:
    """Remove the logo: documents and the portal print the brand's name instead."""
    partner = resolved(request, "partner_id")
    issuer_logo_delete(issuer=partner, actor=actor(request))
    return _out(request, partner)
