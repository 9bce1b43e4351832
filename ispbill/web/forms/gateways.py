"""Forms of card payments: an issuer's Stripe account (secrets write-only) and autopay."""

from __future__ import annotations

from typing import Any

from django import forms

from ispbill.web.forms.fields import FieldsetsMixin


class SecretInput(forms.PasswordInput):
    """Never renders a value back: a stored secret is shown only as its hint."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(render_value=False, attrs={"autocomplete": "off"}, **kwargs)


class GatewaySettingsForm(FieldsetsMixin, forms.Form):
    enabled = forms.BooleanField(required=False, initial=True, label="Take card payments")
    publishable_key = forms.CharField(
        max_length=255, required=False, help_text="pk_live_… or pk_test_… (not secret)."
    )
    secret_key = forms.CharField(
        max_length=255,
        required=False,
        widget=SecretInput(),
        help_text="sk_… or a restricted key rk_…; leave empty to keep the stored one.",
    )
    webhook_secret = forms.CharField(
        max_length=255,
        required=False,
        label="Webhook signing secret",
        widget=SecretInput(),
        help_text="whsec_… of the endpoint below; leave empty to keep the stored one.",
    )

    def __init__(self, *args: Any, hints: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, hint in (hints or {}).items():
            if hint:
                self.fields[
                    name
                ].help_text = f"Set · ends with …{hint}. {self.fields[name].help_text}"


class IssuerChoiceForm(forms.Form):
    issuer = forms.TypedChoiceField(coerce=int, label="Issuer")

    def __init__(self, *args: Any, choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["issuer"]
        field.choices = choices


class AutopayForm(forms.Form):
    action = forms.ChoiceField(choices=[("setup", "setup"), ("on", "on"), ("off", "off")])
