"""The plan-change form: the new tariff and when it takes effect (operator, partner and
portal alike; the portal offers only the tariffs marked for customers)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from ispbill.billing.plan_changes import NEXT_BILLING_DATE, TODAY
from ispbill.catalog.models import Tariff
from ispbill.core.money import Money
from ispbill.web.forms.fields import DateInput, DayField, today

ON_DATE = "date"


class TariffChoice(forms.ModelChoiceField):
    def __init__(self, *args: Any, currency: str = "EUR", **kwargs: Any) -> None:
        self.currency = currency
        super().__init__(*args, **kwargs)

    def label_from_instance(self, obj: Any) -> str:
        price = Money.from_minor(obj.price_minor, self.currency)
        every = "month" if obj.period_months == 1 else f"{obj.period_months} months"
        speed = ""
        if obj.download_kbps:
            speed = f", {obj.download_kbps // 1000}/{(obj.upload_kbps or 0) // 1000} Mbit/s"
        return f"{obj.name} — {price} per {every}{speed}"


class PlanChangeForm(forms.Form):
    tariff = TariffChoice(
        queryset=Tariff._base_manager.none(), label="New tariff", empty_label=None
    )
    when = forms.ChoiceField(
        label="Takes effect",
        choices=[
            (TODAY, "Today"),
            (NEXT_BILLING_DATE, "On the next billing date"),
            (ON_DATE, "On a date"),
        ],
        initial=TODAY,
        widget=forms.RadioSelect,
    )
    date = DayField(
        widget=DateInput,
        required=False,
        label="Date",
        help_text="For “On a date”: today or later.",
    )

    def __init__(self, *args: Any, tariffs: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["tariff"]
        field.queryset = tariffs
        field.currency = currency

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("when") == ON_DATE and not data.get("date"):
            self.add_error("date", "Choose the date the change takes effect.")
        return data

    def effective(self) -> str | dt.date:
        """``today``, ``next_billing_date`` or the date chosen."""
        d = self.cleaned_data
        if d["when"] == ON_DATE:
            return d["date"] or today()
        return str(d["when"])
