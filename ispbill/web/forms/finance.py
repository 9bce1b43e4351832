"""Forms of money: billing runs, payments, refunds, credit notes, sending invoices."""

from __future__ import annotations

import datetime
from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from ispbill.billing.run import BillingRunDateError, billing_run_date_check
from ispbill.core.validators import FieldValueError, payment_date_clean
from ispbill.customers.models import Customer
from ispbill.payments.models import PaymentMethod
from ispbill.web.forms.fields import (
    DateInput,
    DayField,
    FieldsetsMixin,
    MoneyField,
    money_fields_currency,
    to_minor,
    today,
)


class BillingRunForm(forms.Form):
    run_date = DayField(
        widget=DateInput,
        initial=today,
        label="Bill up to",
        help_text="Every billing date up to this day not processed yet is billed (catch-up).",
    )

    def clean_run_date(self) -> date:
        try:
            return billing_run_date_check(self.cleaned_data["run_date"])
        except BillingRunDateError as exc:
            raise ValidationError(str(exc)) from exc


class BillingRunStartForm(BillingRunForm):
    """The confirmation of a previewed run: its date, and how many customers (and partners'
    aggregations) the preview showed catching up more than one billing date, which a person
    confirms with the per-date breakdown in view."""

    caught_up = forms.IntegerField(
        min_value=0, max_value=10**9, widget=forms.HiddenInput, error_messages={"required": ""}
    )
    confirm_catch_up = forms.BooleanField(
        required=False,
        label="Yes, bill every billing date listed above (catch-up)",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "caught_up" in self.errors:
            self.errors.pop("caught_up")
            raise ValidationError("Preview the run first, then confirm it from the preview.")
        if data.get("caught_up") and not data.get("confirm_catch_up"):
            self.add_error(
                "confirm_catch_up",
                "This run bills more than one billing date for some customers: confirm the "
                "catch-up after checking the dates.",
            )
        return data


class DunningRunForm(forms.Form):
    """The confirmation of a previewed dunning run: the preview's fingerprint."""

    fingerprint = forms.RegexField(regex=r"^[0-9a-f]{32}$", widget=forms.HiddenInput)


class PaymentForm(FieldsetsMixin, forms.Form):
    # The account is chosen with the customer picker (web/payments/form.html): its radio
    # buttons post the id, checked here against the customers the user may pay for. The
    # field is never rendered as a <select> of every customer (docs/payments.md).
    customer = forms.ModelChoiceField(
        queryset=Customer._base_manager.none(),
        label="Account",
        error_messages={
            "required": "Choose the account the payment is for: search for the customer "
            "and pick it from the matches.",
            "invalid_choice": "That account is not one of your customers: search for the "
            "customer and pick it from the matches.",
        },
    )
    amount = MoneyField()
    date = DayField(widget=DateInput, initial=today)
    method = forms.ChoiceField(choices=PaymentMethod.choices)
    reference = forms.CharField(
        max_length=140,
        required=False,
        help_text="Bank reference; the same reference twice for one method is refused.",
    )
    note = forms.CharField(max_length=300, required=False)

    def __init__(
        self, *args: Any, customers: Any = None, currency: str = "EUR", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        money_fields_currency(self, currency)
        if customers is None:
            self.fields.pop("customer")
        else:
            self._choices("customer").queryset = customers

    def clean_amount(self) -> Decimal:
        amount = self.cleaned_data["amount"]
        if amount is None or amount <= 0:
            raise ValidationError("A payment amount must be greater than zero.")
        return amount

    def clean_date(self) -> datetime.date:  # ``date`` here is the field
        try:
            return payment_date_clean(self.cleaned_data["date"])
        except FieldValueError as exc:
            raise ValidationError(str(exc)) from exc


class RefundForm(forms.Form):
    amount = MoneyField(help_text="At most the unallocated credit of the payment.")
    date = DayField(widget=DateInput, initial=today)
    reason = forms.CharField(max_length=300, required=False)

    def __init__(self, *args: Any, currency: str = "EUR", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        money_fields_currency(self, currency)

    def clean_amount(self) -> Decimal:
        amount = self.cleaned_data["amount"]
        if amount is None or amount <= 0:
            raise ValidationError("A refund must be greater than zero.")
        return amount


# Up to this many lines the credit note form shows an amount field for every line; above it
# (aggregated and wholesale invoices run to 160,000 lines) it shows only the lines the user
# searches for, a page at a time, plus those already given an amount (docs/billing.md
# "Credit notes").
CREDIT_FORM_ALL_LINES_MAX = 50
CREDIT_FORM_SEARCH_PAGE = 25


class CreditNoteForm(forms.Form):
    reason = forms.CharField(max_length=300, help_text="Printed on the credit note.")
    date = DayField(widget=DateInput, initial=today)
    full = forms.BooleanField(
        required=False,
        label="Credit everything not credited yet",
        help_text="Or leave it unticked and enter the amounts to credit per line below.",
    )

    def __init__(
        self,
        *args: Any,
        lines: list[Any],
        currency: str,
        foreign_line_ids: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.foreign_line_ids = foreign_line_ids or []
        self.line_fields: list[tuple[Any, str]] = []
        for line in lines:
            name = f"line_{line.pk}"
            self.fields[name] = MoneyField(label=line.description, required=False)
            self.line_fields.append((line, name))
        money_fields_currency(self, currency)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.foreign_line_ids:
            raise ValidationError(
                "These lines are not lines of this invoice: "
                + ", ".join(self.foreign_line_ids)
                + ". Search for the lines of this invoice and enter the amounts again."
            )
        typed = any(data.get(n) for _line, n in self.line_fields)
        if data.get("full") and typed:
            raise ValidationError(
                "Either tick “Credit everything not credited yet” or enter amounts "
                "per line, not both: untick the box to credit only the amounts entered, or "
                "clear the amounts to credit everything."
            )
        if not data.get("full") and not typed:
            raise ValidationError(
                "Enter an amount on at least one line, or tick “Credit everything not "
                "credited yet”."
            )
        return data

    def line_amounts(self) -> dict[int, int] | None:
        if self.cleaned_data.get("full"):
            return None
        out = {}
        for line, name in self.line_fields:
            amount = self.cleaned_data.get(name)
            if amount:
                out[line.pk] = to_minor(amount, self.currency) or 0
        return out


class InvoiceSendForm(forms.Form):
    to = forms.EmailField(
        label="Send to",
        max_length=254,
        help_text="The customer's address on the invoice; change it to send elsewhere.",
    )
