"""Forms of customers and what they buy: the customer record, services, one-time charges."""

from __future__ import annotations

from typing import Any

from django import forms

from ispbill.catalog.models import Tariff, TaxRate
from ispbill.core.money import (
    line_check,
)
from ispbill.customers.models import Customer
from ispbill.partners.models import Partner
from ispbill.web.forms.fields import (
    DateInput,
    DayField,
    FieldsetsMixin,
    MoneyField,
    PercentField,
    QuantityField,
    bp,
    country_select,
    from_minor,
    money_fields_currency,
    percent,
    to_minor,
    today,
)


class CustomerForm(FieldsetsMixin, forms.ModelForm):
    partner = forms.ModelChoiceField(queryset=Partner.objects.none(), required=True)
    min_balance = MoneyField(
        label="Minimum balance",
        required=False,
        allow_negative=True,
        help_text="Blocked when the balance stays below it past due (may be negative); "
        "empty for none.",
    )

    sections = [
        (
            "Customer",
            "",
            ["partner", "reference", "name", "company", "email", "phone", "language"],
        ),
        ("Address", "", ["street", "postcode", "city", "country", "vat_id"]),
        (
            "Billing",
            "Leave empty to follow the issuer's defaults.",
            ["billing_day", "payment_due_days", "payment_period", "min_balance"],
        ),
    ]

    class Meta:
        model = Customer
        fields = [
            "reference",
            "name",
            "company",
            "email",
            "phone",
            "street",
            "postcode",
            "city",
            "country",
            "vat_id",
            "language",
            "billing_day",
            "payment_due_days",
            "payment_period",
        ]
        labels = {"reference": "Customer number", "vat_id": "VAT ID"}
        widgets = {"country": country_select()}
        help_texts = {
            "vat_id": "Businesses: with the country prefix, e.g. DE123456788.",
            "billing_day": "Day of month 1-28; empty: the issuer's billing day.",
            "payment_due_days": "Empty: the issuer's payment terms.",
        }

    def __init__(
        self,
        *args: Any,
        partners: Any = None,
        fixed_partner: Partner | None = None,
        currency: str = "EUR",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        money_fields_currency(self, currency)
        if fixed_partner is not None or self.instance.pk:
            self.fields.pop("partner")
            if fixed_partner is not None and not self.instance.pk:
                self.instance.partner = fixed_partner
        else:
            self._choices("partner").queryset = partners
        if self.instance.pk and self.instance.min_balance_minor is not None:
            self.fields["min_balance"].initial = from_minor(
                self.instance.min_balance_minor, currency
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "partner" in data:
            self.instance.partner = data["partner"]
        return data

    def service_fields(self) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if k in self.Meta.fields}
        data["min_balance_minor"] = to_minor(self.cleaned_data.get("min_balance"), self.currency)
        return data


class ServiceForm(FieldsetsMixin, forms.Form):
    tariff = forms.ModelChoiceField(queryset=Tariff._base_manager.none())
    start_date = DayField(widget=DateInput, initial=today)
    quantity = QuantityField()
    description = forms.CharField(
        max_length=200, required=False, help_text="Printed on invoices; empty: the tariff name."
    )
    price_override = MoneyField(
        required=False, help_text="A price for this customer only; empty: the tariff price."
    )
    discount_percent = PercentField(label="Discount (%)", required=False)
    discount_until = DayField(
        widget=DateInput, required=False, help_text="Last day of the discount; empty: always."
    )

    def __init__(self, *args: Any, tariffs: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._choices("tariff").queryset = tariffs
        self.currency = currency
        money_fields_currency(self, currency)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        tariff, quantity = data.get("tariff"), data.get("quantity")
        if tariff is not None and quantity is not None:
            override = data.get("price_override")
            unit = tariff.price_minor if override is None else to_minor(override, self.currency)
            try:
                line_check(unit_minor=unit or 0, quantity=quantity, currency=self.currency)
            except ValueError as exc:
                self.add_error("quantity", str(exc))
        return data

    def service_fields(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "tariff": d["tariff"],
            "start_date": d["start_date"],
            "quantity": d["quantity"],
            "description": d["description"],
            "price_override_minor": to_minor(d.get("price_override"), self.currency),
            "discount_bp": bp(d.get("discount_percent")),
            "discount_until": d.get("discount_until"),
        }


class OneTimeChargeForm(forms.Form):
    description = forms.CharField(max_length=200, help_text="Installation, router, ...")
    quantity = QuantityField()
    unit_price = MoneyField(label="Unit price", help_text="Net, as tariff prices.")
    tax_rate = forms.ModelChoiceField(queryset=TaxRate._base_manager.none())
    charge_date = DayField(
        widget=DateInput, initial=today, help_text="Goes on the next invoice after this date."
    )

    def __init__(self, *args: Any, currency: str, tax_rates: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        money_fields_currency(self, currency)
        tax_field: Any = self.fields["tax_rate"]
        tax_field.queryset = tax_rates
        tax_field.initial = tax_rates.first()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("unit_price") is not None and data.get("quantity") is not None:
            try:
                line_check(
                    unit_minor=to_minor(data["unit_price"], self.currency) or 0,
                    quantity=data["quantity"],
                    currency=self.currency,
                )
            except ValueError as exc:
                self.add_error("quantity", str(exc))
        return data

    def service_fields(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "description": d["description"],
            "quantity": d["quantity"],
            "unit_price_minor": to_minor(d["unit_price"], self.currency),
            "tax_rate_id": d["tax_rate"].pk,
            "charge_date": d["charge_date"],
        }


class PartnerMoveForm(forms.Form):
    """Moving a customer to another partner: first the partner (a preview follows), then the
    same form with ``confirm`` to make the move."""

    partner = forms.ModelChoiceField(
        queryset=Partner.objects.none(),
        label="Move to partner",
        help_text="From each service's next period on; issued documents stay where they are.",
    )
    confirm = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, partners: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["partner"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = partners
        field.label_from_instance = lambda p: f"{p.name} ({p.get_mode_display()})"  # type: ignore[method-assign,assignment]

    @property
    def confirmed(self) -> bool:
        return self.cleaned_data.get("confirm") == "yes"


class ServiceEditForm(FieldsetsMixin, forms.Form):
    """What a user corrects on a service; the tariff changes by plan change and the end by
    "End service" (docs/billing.md "Ending and editing a service")."""

    description = forms.CharField(
        max_length=200, required=False, help_text="Printed on invoices; empty: the tariff name."
    )
    quantity = QuantityField()
    price_override = MoneyField(
        required=False, help_text="A price for this customer only; empty: the tariff price."
    )
    discount_percent = PercentField(label="Discount (%)", required=False)
    discount_until = forms.DateField(
        widget=DateInput, required=False, help_text="Last day of the discount; empty: always."
    )
    start_date = forms.DateField(widget=DateInput)
    status = forms.ChoiceField(
        choices=[("active", "Active"), ("paused", "Paused (not charged, no access)")],
    )

    def __init__(
        self, *args: Any, service: Any, currency: str, billed: bool, **kwargs: Any
    ) -> None:
        initial = {
            "description": service.description,
            "quantity": service.quantity,
            "price_override": from_minor(service.price_override_minor, currency) or None,
            "discount_percent": percent(service.discount_bp) if service.discount_bp else None,
            "discount_until": service.discount_until,
            "start_date": service.start_date,
            "status": service.status,
        }
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        self.service = service
        self.currency = currency
        money_fields_currency(self, currency)
        if service.status == "stopped":
            del self.fields["status"]  # ended: "End service" said so
        if billed:
            field = self.fields["start_date"]
            field.disabled = True
            field.help_text = "Billed already: the start date can no longer change."

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        quantity = data.get("quantity")
        if quantity is not None:
            override = data.get("price_override")
            unit = (
                self.service.tariff.price_minor
                if override is None
                else to_minor(override, self.currency)
            )
            try:
                line_check(unit_minor=unit or 0, quantity=quantity, currency=self.currency)
            except ValueError as exc:
                self.add_error("quantity", str(exc))
        return data

    def service_fields(self) -> dict[str, Any]:
        """The fields that differ from the service's."""
        d = self.cleaned_data
        asked = {
            "description": d["description"],
            "quantity": d["quantity"],
            "price_override_minor": to_minor(d.get("price_override"), self.currency),
            "discount_bp": bp(d.get("discount_percent")),
            "discount_until": d.get("discount_until"),
            "start_date": d["start_date"],
            "status": d.get("status", self.service.status),
        }
        return {k: v for k, v in asked.items() if getattr(self.service, k) != v}


class EndDateForm(forms.Form):
    end_date = forms.DateField(
        widget=DateInput,
        label="Last day of service",
        help_text="Included. Today or earlier stops the service at once.",
    )


class TerminateForm(forms.Form):
    date = forms.DateField(
        widget=DateInput,
        label="End services on",
        help_text="Today or earlier: the customer becomes inactive at once.",
    )
