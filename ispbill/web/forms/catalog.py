"""Forms of the catalogue: tariffs and tax rates."""

from __future__ import annotations

from typing import Any

from django import forms

from ispbill.catalog.models import Tariff, TaxRate
from ispbill.partners.models import Partner
from ispbill.web.forms.fields import (
    FieldsetsMixin,
    ModelIdsField,
    MoneyField,
    PercentField,
    from_minor,
    money_fields_currency,
    to_minor,
)


class TariffForm(FieldsetsMixin, forms.ModelForm):
    price = MoneyField(help_text="Per period, net unless the issuer's prices include tax.")
    # Declared here: a model-generated field would query the scoped manager at import.
    tax_rate = forms.ModelChoiceField(queryset=TaxRate._base_manager.none(), label="Tax rate")
    available_to = ModelIdsField(
        queryset=Partner._base_manager.none(),
        required=False,
        label="Available to",
        help_text="Resellers allowed to sell this tariff.",
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Tariff
        fields = [
            "name",
            "kind",
            "tax_rate",
            "period_months",
            "download_kbps",
            "upload_kbps",
            "available_to",
            "is_active",
        ]
        labels = {
            "period_months": "Period (months)",
            "download_kbps": "Download (kbit/s)",
            "upload_kbps": "Upload (kbit/s)",
            "is_active": "On sale",
        }
        help_texts = {
            "period_months": "Charged every N months in advance.",
        }

    def __init__(
        self, *args: Any, tax_rates: Any, partners: Any, currency: str, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        money_fields_currency(self, currency)
        self._choices("tax_rate").queryset = tax_rates
        if partners is None:
            self.fields.pop("available_to")
        else:
            self._choices("available_to").queryset = partners
        if self.instance.pk:
            self.fields["price"].initial = from_minor(self.instance.price_minor, currency)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("price") is not None:
            self.instance.price_minor = to_minor(data["price"], self.currency) or 0
        return data

    def service_fields(self) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if k in self.Meta.fields}
        data.pop("available_to", None)
        data["price_minor"] = to_minor(self.cleaned_data["price"], self.currency)
        return data


class TaxRateForm(forms.Form):
    name = forms.CharField(max_length=100, initial="VAT 19%")
    rate_percent = PercentField(label="Rate (%)")
    category = forms.ChoiceField(
        choices=[("S", "S standard"), ("Z", "Z zero rated"), ("E", "E exempt")],
        help_text="EN 16931 VAT category.",
    )
