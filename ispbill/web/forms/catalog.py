"""Forms of the catalogue: tariffs and tax rates."""

from __future__ import annotations

from typing import Any

from django import forms

from ispbill.catalog.models import Tariff, TaxRate
from ispbill.catalog.selectors import PartnerTariffPrice
from ispbill.catalog.services import PriceListEntry
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

    overage_price = MoneyField(
        required=False,
        label="Overage price per started GB",
        help_text="Billed after the month for every started GB over the included volume.",
    )
    topup_price = MoneyField(
        required=False,
        label="Top-up pack price",
        help_text="Net price of one top-up pack, billed as a one-time charge.",
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
            "customer_selectable",
            "included_gb",
            "cap_action",
            "throttle_download_kbps",
            "throttle_upload_kbps",
            "topup_gb",
            "usage_alerts",
            "rollover",
        ]
        labels = {
            "topup_gb": "Top-up pack (GB)",
            "usage_alerts": "Usage alerts at (% of the allowance)",
            "rollover": "Unused volume rolls over",
            "included_gb": "Included volume per month (GB)",
            "cap_action": "When the volume is used up",
            "throttle_download_kbps": "Throttled download (kbit/s)",
            "throttle_upload_kbps": "Throttled upload (kbit/s)",
            "period_months": "Period (months)",
            "download_kbps": "Download (kbit/s)",
            "upload_kbps": "Upload (kbit/s)",
            "is_active": "On sale",
            "customer_selectable": "Customers may choose it",
        }
        help_texts = {
            "period_months": "Charged every N months in advance.",
            "customer_selectable": "Offered when customers change plan in the portal (where "
            "the issuer offers plan changes there).",
            "topup_gb": "Extra volume for the current month the customer, you or the reseller "
            "can buy; empty: no top-ups.",
            "usage_alerts": "E-mails to the customer at these percentages, e.g. 80,100; empty: "
            "none.",
            "rollover": "The included volume not used in a month is added to the next month "
            "(one month, at most the included volume).",
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
            if self.instance.overage_price_minor is not None:
                self.fields["overage_price"].initial = from_minor(
                    self.instance.overage_price_minor, currency
                )
            if self.instance.topup_price_minor is not None:
                self.fields["topup_price"].initial = from_minor(
                    self.instance.topup_price_minor, currency
                )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("price") is not None:
            self.instance.price_minor = to_minor(data["price"], self.currency) or 0
        self.instance.overage_price_minor = to_minor(data.get("overage_price"), self.currency)
        self.instance.topup_price_minor = to_minor(data.get("topup_price"), self.currency)
        return data

    def service_fields(self) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if k in self.Meta.fields}
        data.pop("available_to", None)
        data["price_minor"] = to_minor(self.cleaned_data["price"], self.currency)
        data["overage_price_minor"] = to_minor(
            self.cleaned_data.get("overage_price"), self.currency
        )
        data["topup_price_minor"] = to_minor(self.cleaned_data.get("topup_price"), self.currency)
        return data


class TaxRateForm(forms.Form):
    name = forms.CharField(max_length=100, initial="VAT 19%")
    rate_percent = PercentField(label="Rate (%)")
    category = forms.ChoiceField(
        choices=[("S", "S standard"), ("Z", "Z zero rated"), ("E", "E exempt")],
        help_text="EN 16931 VAT category.",
    )


class TaxRateEditForm(TaxRateForm):
    """A tax rate changed: the add form plus whether it is still offered."""

    is_active = forms.BooleanField(
        required=False,
        initial=True,
        label="In use",
        help_text="Retired rates are no longer offered for new tariffs; existing tariffs and "
        "issued documents keep theirs.",
    )


class PartnerPriceListForm(forms.Form):
    """One reseller's price list: for every operator tariff, whether the reseller may sell
    it and its partner price (empty: the partner's discount off retail applies). Amounts
    are in the operator's currency, parsed to Decimal and saved in minor units."""

    def __init__(
        self, *args: Any, rows: list[PartnerTariffPrice], currency: str, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.rows = rows
        self.currency = currency
        for r in rows:
            t = r.tariff
            self.fields[f"available_{t.pk}"] = forms.BooleanField(
                required=False, initial=r.available, label=f"{t.name}: available"
            )
            price = MoneyField(
                required=False,
                initial=from_minor(r.partner_price_minor, currency),
                label=f"{t.name}: partner price",
            )
            # Empty is not zero: the partner's discount off retail applies.
            price.widget.attrs["placeholder"] = "discount"
            self.fields[f"price_{t.pk}"] = price
        money_fields_currency(self, currency)

    def lines(self) -> list[tuple[PartnerTariffPrice, forms.BoundField, forms.BoundField]]:
        """(row, its "available" field, its price field) per tariff, for the template."""
        return [
            (r, self[f"available_{r.tariff.pk}"], self[f"price_{r.tariff.pk}"]) for r in self.rows
        ]

    def entries(self) -> list[PriceListEntry]:
        d = self.cleaned_data
        return [
            PriceListEntry(
                tariff_id=r.tariff.pk,
                available=bool(d.get(f"available_{r.tariff.pk}")),
                price_minor=to_minor(d.get(f"price_{r.tariff.pk}"), self.currency),
            )
            for r in self.rows
        ]
