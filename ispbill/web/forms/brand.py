"""The brand of an issuer: name, colour, logo and contact its customers see."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models

from ispbill.invoicing.templates import MAX_LOGO_BYTES
from ispbill.partners.brand import BRAND_FIELDS
from ispbill.partners.models import Partner
from ispbill.web.forms.fields import FieldsetsMixin


def _formfield(field: models.Field[Any, Any], **kwargs: Any) -> forms.Field | None:
    if isinstance(field, models.URLField):
        kwargs["assume_scheme"] = "https"  # "alpenfunk.example" means the https site
    return field.formfield(**kwargs)


class BrandForm(FieldsetsMixin, forms.ModelForm):
    """Brand settings; the colour is checked by the model (``hex_color_clean``), the logo by
    ``issuer_logo_upload`` (type by content, size)."""

    logo = forms.FileField(
        required=False,
        label="Logo",
        help_text=f"PNG, JPEG or SVG, at most {MAX_LOGO_BYTES // 1000} kB. "
        "Replaces the current one.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/svg+xml"}),
    )
    remove_logo = forms.BooleanField(required=False, label="Remove the logo")

    sections = [
        (
            "Look",
            "Shown in your customers' portal and on your default invoice and document PDFs.",
            ["brand_name", "brand_color", "logo", "remove_logo"],
        ),
        (
            "Contact",
            "Where your customers reach you: the portal, the footer of every e-mail. "
            "Empty fields use your company's e-mail, phone and website.",
            ["support_email", "support_phone", "support_website"],
        ),
        (
            "E-mail",
            "Invoices and reminders are sent with this sender name; replies go to the "
            "Reply-To address (empty: the support e-mail).",
            ["email_sender_name", "email_reply_to"],
        ),
    ]

    class Meta:
        model = Partner
        fields = list(BRAND_FIELDS)
        formfield_callback = _formfield
        labels = {
            "brand_name": "Display name",
            "brand_color": "Primary colour",
            "support_email": "Support e-mail",
            "support_phone": "Support phone",
            "support_website": "Website",
            "email_sender_name": "E-mail sender name",
            "email_reply_to": "Reply-To address",
        }
        widgets = {
            "brand_color": forms.TextInput(
                attrs={"placeholder": "#1f4e79", "pattern": "#?[0-9A-Fa-f]{3}([0-9A-Fa-f]{3})?"}
            ),
        }

    def service_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in BRAND_FIELDS}
