"""Forms of the Webhooks page: an endpoint's URL, description and event types."""

from __future__ import annotations

from typing import Any

from django import forms

from ispbill.events.catalog import EVENT_TYPES


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(
        max_length=500,
        label="URL",
        assume_scheme="https",
        help_text="ispbill POSTs each event here as JSON, signed (docs/webhooks.md).",
    )
    description = forms.CharField(max_length=200, required=False)
    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in EVENT_TYPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Event types",
        help_text="None ticked: every type, including types added later.",
    )
    enabled = forms.BooleanField(required=False, initial=True, label="Enabled")

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not editing:
            del self.fields["enabled"]


class RotateSecretForm(forms.Form):
    grace_hours = forms.IntegerField(
        min_value=0,
        max_value=168,
        initial=24,
        label="Grace period (hours)",
        help_text="The previous secret keeps signing for this long (both signatures are "
        "sent); 0 ends it at once",
    )
