"""The brand of an issuer: the name, colour and contact its customers see in the portal, in
emails and on the default PDFs (docs/reseller-modes.md, "Brand").

Only issuers have a brand: the home partner and own-invoicing partners. Customers of
percentage and aggregated partners are invoiced by the operator and see the operator's brand.
Every brand field is optional; an empty one falls back to the issuer's details. The logo is
a file, kept with the issuer's template assets (``ispbill.invoicing.templates``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import model_to_dict

from ispbill.core.audit import audit_record, model_diff
from ispbill.partners.models import Partner

__all__ = [
    "BRAND_FIELDS",
    "DEFAULT_BRAND_COLOR",
    "Brand",
    "brand_text_color",
    "issuer_brand",
    "partner_brand_update",
]

BRAND_FIELDS = (
    "brand_name",
    "brand_color",
    "support_email",
    "support_phone",
    "support_website",
    "email_sender_name",
    "email_reply_to",
)
# The accent of the default templates and of the portal when an issuer chose none.
DEFAULT_BRAND_COLOR = "#1f4e79"


def brand_text_color(color: str) -> str:
    """White or near-black, whichever reads better on ``color`` (#rrggbb): the WCAG
    relative luminance decides, so a light brand colour gets dark text."""

    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(color[i : i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    # Contrast with white (1.05 / (L + 0.05)) against with black ((L + 0.05) / 0.05).
    return "#ffffff" if 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 else "#18212f"


@dataclass(frozen=True)
class Brand:
    """An issuer's brand with every fallback applied: what templates and pages print."""

    issuer_id: int
    name: str
    legal_name: str
    color: str  # #rrggbb, never empty
    text_color: str  # legible on ``color``
    custom_color: bool  # False: the default colour, the issuer chose none
    email: str
    phone: str
    website: str
    sender_name: str
    reply_to: str

    def contact_lines(self) -> list[str]:
        """The contact footer of emails: name, e-mail and phone, website."""
        reach = " · ".join(v for v in (self.email, self.phone) if v)
        return [line for line in (self.legal_name, reach, self.website) if line]


def issuer_brand(issuer: Partner) -> Brand:
    """``issuer``'s brand (the home partner or an own-invoicing partner), fallbacks applied.
    Callers pass the issuer (``customers.selectors.account_issuer`` for a customer)."""
    legal = issuer.legal_name or issuer.name
    name = issuer.brand_name or legal
    color = issuer.brand_color or DEFAULT_BRAND_COLOR
    email = issuer.support_email or issuer.email
    return Brand(
        issuer_id=issuer.pk,
        name=name,
        legal_name=legal,
        color=color,
        text_color=brand_text_color(color),
        custom_color=bool(issuer.brand_color),
        email=email,
        phone=issuer.support_phone or issuer.phone,
        website=issuer.support_website or issuer.website,
        sender_name=issuer.email_sender_name or name,
        reply_to=issuer.email_reply_to or email,
    )


@transaction.atomic
def partner_brand_update(*, partner: Partner, actor: Any = None, **fields: Any) -> Partner:
    """Change an issuer's brand settings (``BRAND_FIELDS``); audited as ``partner.brand_updated``.
    Refused for partners that issue no documents: their customers see the operator's brand."""
    unknown = set(fields) - set(BRAND_FIELDS)
    if unknown:
        raise ValueError(f"not brand settings: {sorted(unknown)}")
    locked = Partner.objects.select_for_update(no_key=True).get(pk=partner.pk)
    if not locked.issues_own_documents:
        raise ValidationError(
            f"{locked.name}'s customers are invoiced by the operator and see the operator's "
            "brand; only the home partner and own-invoicing partners have a brand of their own."
        )
    before = model_to_dict(locked, fields=list(BRAND_FIELDS))
    for name, value in fields.items():
        setattr(locked, name, "" if value is None else str(value).strip())
    # Only the brand is checked: a legacy value elsewhere must not block a colour change.
    others = [f.name for f in Partner._meta.concrete_fields if f.name not in BRAND_FIELDS]
    locked.full_clean(exclude=others, validate_unique=False, validate_constraints=False)
    if fields:
        locked.save(update_fields=list(fields))
    changes = model_diff(before, model_to_dict(locked, fields=list(BRAND_FIELDS)))
    if changes:
        audit_record(action="partner.brand_updated", obj=locked, actor=actor, changes=changes)
    return locked
