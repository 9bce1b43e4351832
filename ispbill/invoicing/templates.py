"""Per-issuer document and email templates, and the assets (logo, fonts) they use.

An issuer (the home partner or an own-invoicing partner) may replace the default template of
each document type. A template is saved only after it renders the sample document in both
languages (and, when given, one of the issuer's real documents); a broken one is refused with
its line and error and the previous one stays active. Templates only ever see their own
issuer's assets: ``issuer_assets`` reads the rows of that one partner."""

from __future__ import annotations

import copy
import hashlib
import logging
import re
from typing import Any

from django.core.cache import cache
from django.db import transaction

from ispbill.core.audit import audit_record
from ispbill.core.errors import DomainValidationError
from ispbill.documents.assets import asset_content_refusal
from ispbill.documents.data import document_samples
from ispbill.documents.render import (
    MAX_ASSET_BYTES,
    RESERVED_NAMES,
    DocumentRenderError,
    DocumentTemplateError,
    document_pdf_render,
    document_template_check,
    document_template_default,
)
from ispbill.invoicing.emails import (
    EMAIL_DEFAULTS,
    EmailLimitError,
    EmailMessageText,
    EmailTemplateError,
    email_render,
    email_template_validate,
)
from ispbill.invoicing.models import (
    EMAIL_TEMPLATE_TYPES,
    DocumentTemplate,
    IssuerAsset,
    TemplateType,
)
from ispbill.partners.models import Partner

log = logging.getLogger(__name__)

__all__ = [
    "ASSET_KINDS",
    "document_template_active",
    "document_template_reset",
    "document_template_save",
    "issuer_asset_delete",
    "issuer_asset_upload",
    "issuer_assets",
    "issuer_data_with_logo",
    "issuer_email_render",
    "issuer_logo",
    "issuer_logo_delete",
    "issuer_logo_upload",
]

MAX_IMAGE_BYTES = 1_000_000
# Extension -> (content type, size limit in bytes).
ASSET_KINDS: dict[str, tuple[str, int]] = {
    ".png": ("image/png", MAX_IMAGE_BYTES),
    ".jpg": ("image/jpeg", MAX_IMAGE_BYTES),
    ".jpeg": ("image/jpeg", MAX_IMAGE_BYTES),
    ".svg": ("image/svg+xml", MAX_IMAGE_BYTES),
    ".ttf": ("font/ttf", MAX_ASSET_BYTES),
    ".otf": ("font/otf", MAX_ASSET_BYTES),
    ".typ": ("text/x-typst", 200_000),
}
_ASSET_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
LOGO_NAMES = ("logo.svg", "logo.png", "logo.jpg", "logo.jpeg")


def _check_type(document_type: str) -> str:
    if document_type not in TemplateType.values:
        raise DomainValidationError(
            f"{document_type!r} is not a template type; use one of "
            f"{', '.join(TemplateType.values)}."
        )
    return document_type


def _default(document_type: str) -> str:
    if document_type in EMAIL_TEMPLATE_TYPES:
        return EMAIL_DEFAULTS[document_type]
    return document_template_default(document_type)


def document_template_active_row(issuer_id: int, document_type: str) -> DocumentTemplate | None:
    return (
        DocumentTemplate.objects.filter(
            partner_id=issuer_id, document_type=document_type, is_active=True
        )
        .order_by("-pk")
        .first()
    )


def document_template_active(issuer: Partner | int, document_type: str) -> str:
    """The source the issuer's documents of ``document_type`` use now: its own, or the
    default."""
    _check_type(document_type)
    issuer_id = issuer if isinstance(issuer, int) else issuer.pk
    row = document_template_active_row(issuer_id, document_type)
    return row.source if row is not None else _default(document_type)


def issuer_assets(issuer: Partner | int) -> dict[str, bytes]:
    """The issuer's assets by name: the only files its templates can read."""
    issuer_id = issuer if isinstance(issuer, int) else issuer.pk
    return {
        name: bytes(content)
        for name, content in IssuerAsset.objects.filter(partner_id=issuer_id).values_list(
            "name", "content"
        )
    }


def issuer_data_with_logo(data: dict[str, Any], assets: dict[str, bytes]) -> dict[str, Any]:
    """``data`` with ``issuer.logo`` naming the issuer's logo asset, when it has one."""
    logo = next((name for name in LOGO_NAMES if name in assets), "")
    if not logo or data["issuer"].get("logo"):
        return data
    out = copy.copy(data)
    out["issuer"] = {**data["issuer"], "logo": logo}
    return out


def _validate_pdf_template(
    *,
    source: str,
    document_type: str,
    assets: dict[str, bytes],
    document: dict[str, Any] | None,
) -> None:
    document_template_check(source)
    documents = document_samples(document_type=document_type)
    if document is not None:
        documents.append(document)
    for data in documents:
        try:
            document_pdf_render(
                data=issuer_data_with_logo(data, assets), template_source=source, assets=assets
            )
        except DocumentTemplateError:
            raise
        except DocumentRenderError as exc:
            raise DocumentTemplateError(exc.message, line=exc.line, column=exc.column) from None


def document_template_validate_for_issuer(
    *,
    issuer: Partner,
    document_type: str,
    source: str,
    document: dict[str, Any] | None = None,
) -> None:
    """Raise DocumentTemplateError (``.line``, ``.message``) unless the template works for
    this issuer: rendered on the sample in both languages and on ``document`` if given."""
    _check_type(document_type)
    if not source.strip():
        raise DocumentTemplateError("the template is empty", line=1, column=1)
    if document_type in EMAIL_TEMPLATE_TYPES:
        email_template_validate(source, document_type=document_type)
    else:
        _validate_pdf_template(
            source=source,
            document_type=document_type,
            assets=issuer_assets(issuer),
            document=document,
        )


def document_template_save(
    *,
    issuer: Partner,
    document_type: str,
    source: str,
    actor: Any = None,
    document: dict[str, Any] | None = None,
) -> DocumentTemplate:
    """Make ``source`` the issuer's template for ``document_type``.

    Refused with DocumentTemplateError (line, column, message) when it does not render; the
    previous template then stays active. Documents already stored keep their PDF."""
    source = source.replace("\r\n", "\n")
    document_template_validate_for_issuer(
        issuer=issuer, document_type=document_type, source=source, document=document
    )
    with transaction.atomic():
        Partner.objects.select_for_update().filter(pk=issuer.pk).first()
        DocumentTemplate.objects.filter(
            partner_id=issuer.pk, document_type=document_type, is_active=True
        ).update(is_active=False)
        row = DocumentTemplate.objects.create(
            partner_id=issuer.pk,
            document_type=document_type,
            source=source,
            is_active=True,
            created_by=str(getattr(actor, "username", None) or actor or "system")[:200],
        )
        audit_record(
            action="document_template.saved",
            obj=row,
            actor=actor,
            changes={"document_type": document_type, "characters": len(source)},
        )
    return row


def document_template_reset(*, issuer: Partner, document_type: str, actor: Any = None) -> None:
    """Go back to the default template (the saved versions stay as history)."""
    _check_type(document_type)
    with transaction.atomic():
        changed = DocumentTemplate.objects.filter(
            partner_id=issuer.pk, document_type=document_type, is_active=True
        ).update(is_active=False)
        if changed:
            audit_record(
                action="document_template.reset",
                obj=issuer,
                actor=actor,
                changes={"document_type": document_type},
            )


def _asset_refusal(name: str, content: bytes) -> str | None:
    if not _ASSET_NAME_RE.match(name) or ".." in name or name in RESERVED_NAMES:
        return (
            f"{name!r} cannot be used as a file name: use letters, digits, '.', '_' and '-' "
            "only, without folders."
        )
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in ASSET_KINDS:
        return "Upload a logo (PNG, JPEG or SVG), a font (TTF, OTF) or a Typst part (.typ)."
    limit = ASSET_KINDS[suffix][1]
    if not content:
        return "The file is empty."
    if len(content) > limit:
        return f"The file is larger than {limit // 1000} kB; upload a smaller one."
    if suffix != ".typ":
        # By content, with a real font parser and a real image decoder: a "font" holding
        # Typst code is refused here (and again where it is rendered).
        refusal = asset_content_refusal(name, content)
        if refusal:
            return refusal[0].upper() + refusal[1:] + "."
    if suffix == ".typ":
        try:
            document_template_check(content.decode("utf-8"))
        except UnicodeDecodeError:
            return "A Typst part must be UTF-8 text."
        except DocumentTemplateError as exc:
            return f"line {exc.line}: {exc.message}"
    return None


def issuer_asset_upload(
    *,
    issuer: Partner,
    name: str,
    content: bytes,
    actor: Any = None,
) -> IssuerAsset:
    """Store a file the issuer's templates may use (a new upload of a name replaces it)."""
    name = name.strip()
    refusal = _asset_refusal(name, content)
    if refusal:
        raise DomainValidationError.for_fields({"file": refusal})
    suffix = "." + name.rsplit(".", 1)[-1].lower()
    with transaction.atomic():
        asset, created = IssuerAsset.objects.update_or_create(
            partner_id=issuer.pk,
            name=name,
            defaults={"content": content, "content_type": ASSET_KINDS[suffix][0]},
        )
        audit_record(
            action="issuer_asset.uploaded",
            obj=asset,
            actor=actor,
            changes={"name": name, "bytes": len(content), "replaced": not created},
        )
    return asset


def issuer_asset_delete(*, issuer: Partner, name: str, actor: Any = None) -> None:
    with transaction.atomic():
        asset = IssuerAsset.objects.filter(partner_id=issuer.pk, name=name).first()
        if asset is None:
            return
        audit_record(action="issuer_asset.deleted", obj=asset, actor=actor, changes={"name": name})
        IssuerAsset.objects.filter(pk=asset.pk).delete()


MAX_LOGO_BYTES = 500_000


def issuer_logo(issuer: Partner | int) -> IssuerAsset | None:
    """The issuer's logo (the asset named logo.svg, .png, .jpg or .jpeg, in that order), the
    one the default templates and the portal show."""
    issuer_id = issuer if isinstance(issuer, int) else issuer.pk
    # Unscoped: a customer's portal shows its issuer's logo (a customer's scope reads no
    # assets). Callers decide who sees which issuer's brand (web/views_brand.py).
    rows = {
        a.name: a
        for a in IssuerAsset._base_manager.filter(partner_id=issuer_id, name__in=LOGO_NAMES)
    }
    return next((rows[name] for name in LOGO_NAMES if name in rows), None)


def issuer_logo_upload(
    *, issuer: Partner, filename: str, content: bytes, actor: Any = None
) -> IssuerAsset:
    """Make the image ``content`` the issuer's logo: PNG, JPEG or SVG (by its content, not
    only its name), at most ``MAX_LOGO_BYTES``. It replaces the previous logo, whatever its
    type; audited as an asset upload."""
    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix not in (".png", ".jpg", ".jpeg", ".svg"):
        raise DomainValidationError.for_fields(
            {"logo": "Upload the logo as a PNG, JPEG or SVG image."}
        )
    if len(content) > MAX_LOGO_BYTES:
        raise DomainValidationError.for_fields(
            {"logo": f"The logo is larger than {MAX_LOGO_BYTES // 1000} kB; upload a smaller one."}
        )
    name = "logo" + (".jpg" if suffix == ".jpeg" else suffix)
    refusal = _asset_refusal(name, content)
    if refusal:
        raise DomainValidationError.for_fields({"logo": refusal})
    with transaction.atomic():
        Partner.objects.select_for_update(no_key=True).filter(pk=issuer.pk).first()
        for other in LOGO_NAMES:
            if other != name:
                issuer_asset_delete(issuer=issuer, name=other, actor=actor)
        return issuer_asset_upload(issuer=issuer, name=name, content=content, actor=actor)


def issuer_logo_delete(*, issuer: Partner, actor: Any = None) -> None:
    """Remove the issuer's logo: documents and the portal show its name instead."""
    with transaction.atomic():
        for name in LOGO_NAMES:
            issuer_asset_delete(issuer=issuer, name=name, actor=actor)


# How long an email template that broke a limit is skipped for its issuer (keyed by its
# content: a new version is tried at once).
EMAIL_OVER_LIMIT_SECONDS = 24 * 3600


def issuer_email_render(
    issuer: Partner | int,
    document_type: str,
    context: dict[str, Any],
    *,
    templates: dict[tuple[int, str], str] | None = None,
) -> EmailMessageText:
    """The issuer's email of ``document_type`` rendered with ``context``, within the email
    limits. A saved template that fails on real data (it passed the sample when saved) or
    breaks a limit falls back to the default, so the email still goes out; one that broke a
    limit is not tried again for this issuer (``EMAIL_OVER_LIMIT_SECONDS``), so a dunning run
    waits on it once at most. ``templates`` keeps each issuer's active template by (issuer,
    document type) across the calls of one batch (a dunning run's reminders), read once."""
    issuer_id = issuer if isinstance(issuer, int) else issuer.pk
    if templates is None:
        source = document_template_active(issuer, document_type)
    else:
        kept = (issuer_id, document_type)
        if kept not in templates:
            templates[kept] = document_template_active(issuer, document_type)
        source = templates[kept]
    default = EMAIL_DEFAULTS[document_type]
    if source == default:
        return email_render(source, context)
    key = (
        f"ispbill:email-over-limit:{issuer_id}:{hashlib.sha256(source.encode('utf-8')).hexdigest()}"
    )
    error = cache.get(key)
    if error is None:
        try:
            return email_render(source, context)
        except EmailTemplateError as exc:
            error = str(exc)
            if isinstance(exc, EmailLimitError):
                cache.set(key, error, EMAIL_OVER_LIMIT_SECONDS)
    log.warning(
        "email_template.fallback",
        extra={"issuer": issuer_id, "document_type": document_type, "error": error},
    )
    return email_render(default, context)
