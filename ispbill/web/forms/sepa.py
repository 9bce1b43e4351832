"""Forms of SEPA direct debit: creditor settings, mandates, collection runs, returns."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms

from ispbill.catalog.models import TaxRate
from ispbill.web.forms.fields import (
    DateInput,
    DayField,
    FieldsetsMixin,
    MoneyField,
    money_fields_currency,
    today,
)

RETURN_FILE_MAX = 10 * 1024 * 1024


class CreditorSettingsForm(FieldsetsMixin, forms.Form):
    enabled = forms.BooleanField(required=False, initial=True, label="Collect by direct debit")
    creditor_id = forms.CharField(
        max_length=40,
        label="Creditor identifier",
        help_text="As assigned by your central bank, e.g. DE98ZZZ09999999999.",
    )
    creditor_name = forms.CharField(max_length=70, help_text="As your bank knows you.")
    iban = forms.CharField(max_length=42, label="IBAN collected into")
    bic = forms.CharField(max_length=11, required=False, label="BIC", help_text="Optional.")
    notice_days = forms.IntegerField(
        min_value=0,
        max_value=60,
        initial=14,
        label="Pre-notification days",
        help_text="Days between the invoice and its collection (SEPA's default is 14).",
    )
    return_fee = MoneyField(
        required=False, help_text="Charged on the next invoice for each returned debit."
    )
    return_fee_tax_rate = forms.ModelChoiceField(
        queryset=TaxRate._base_manager.none(), required=False, label="Tax rate of the fee"
    )
    mandate_text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=2000,
        help_text="Extra terms shown with the mandate text in the customer portal.",
    )

    def __init__(
        self, *args: Any, tax_rates: Any = None, currency: str = "EUR", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        money_fields_currency(self, currency)
        self._choices("return_fee_tax_rate").queryset = tax_rates


class MandateForm(FieldsetsMixin, forms.Form):
    iban = forms.CharField(max_length=42, label="IBAN")
    bic = forms.CharField(
        max_length=11, required=False, label="BIC", help_text="Optional inside the EEA."
    )
    debtor_name = forms.CharField(
        max_length=70, required=False, label="Account holder", help_text="Default: the customer."
    )
    signature_date = DayField(widget=DateInput, initial=today)
    reference = forms.CharField(
        max_length=35,
        required=False,
        label="Mandate reference",
        help_text="Empty: the next free <customer number>-<n>.",
    )


class PortalMandateForm(forms.Form):
    iban = forms.CharField(max_length=42, label="IBAN")
    bic = forms.CharField(
        max_length=11, required=False, label="BIC", help_text="Optional inside the EEA."
    )
    debtor_name = forms.CharField(max_length=70, label="Account holder")
    confirm = forms.BooleanField(
        label="I authorise the creditor named above to collect my invoices by SEPA direct "
        "debit as the mandate text says."
    )


class MandateRevokeForm(forms.Form):
    reason = forms.CharField(max_length=200, required=False, initial="revoked by the customer")


def _later() -> Any:
    return today() + timedelta(days=5)


class CollectionRunForm(forms.Form):
    on = DayField(widget=DateInput, initial=today, label="Run date")
    until = DayField(
        widget=DateInput,
        initial=_later,
        label="Collect notified up to",
        help_text="Invoices whose pre-notified collection date is up to this day.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("on") and data.get("until") and data["until"] < data["on"]:
            self.add_error("until", "Choose a day on or after the run date.")
        if data.get("until") and data.get("on") and data["until"] > data["on"] + timedelta(days=60):
            self.add_error("until", "Collect at most 60 days ahead.")
        return data


class ReturnsUploadForm(forms.Form):
    file = forms.FileField(
        label="camt.054, camt.053 or pain.002 file",
        help_text="R-transactions (returns, rejects) of your direct debits.",
    )

    def clean_file(self) -> bytes:
        upload = self.cleaned_data["file"]
        if upload.size > RETURN_FILE_MAX:
            raise forms.ValidationError("The file is larger than 10 MB; split it.")
        return bytes(upload.read())


class MandateImportForm(forms.Form):
    file = forms.FileField(label="CSV file of mandates")
    dry_run = forms.BooleanField(
        required=False, initial=True, label="Check only (dry run): write nothing"
    )

    def clean_file(self) -> bytes:
        upload = self.cleaned_data["file"]
        if upload.size > RETURN_FILE_MAX:
            raise forms.ValidationError("The file is larger than 10 MB; split it.")
        return bytes(upload.read())
