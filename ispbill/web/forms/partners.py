"""Forms of partners and issuers: the partner record, issuer settings, numbering,
commission statements."""

from __future__ import annotations

from typing import Any

from django import forms

from ispbill.catalog.models import TaxRate
from ispbill.invoicing.models import DocumentType
from ispbill.invoicing.sequences import SEQUENCE_MAX
from ispbill.partners.models import SETTING_MODES, Partner, PartnerMode, setting_applies
from ispbill.web.forms.fields import (
    DateInput,
    DayField,
    FieldsetsMixin,
    MoneyField,
    PercentField,
    bp,
    country_select,
    currency_select,
    from_minor,
    percent,
    to_minor,
    today,
)

# Form fields named otherwise than the partner setting they set.
FORM_TO_SETTING = {"commission_percent": "commission_bp", "discount_percent": "discount_bp"}

PARTNER_MODEL_FIELDS = [
    "name",
    "legal_name",
    "street",
    "postcode",
    "city",
    "country",
    "vat_id",
    "email",
    "phone",
    "website",
    "iban",
    "bic",
    "currency",
    "prices_include_tax",
    "billing_day",
    "payment_due_days",
    "payment_period",
    "first_period_billing",
    "blocking_days",
    "deactivation_days",
    "reminder_days",
    "email_invoices_on_issue",
    "invoice_number_pattern",
    "credit_note_number_pattern",
    "receipt_number_pattern",
    "self_billing_number_pattern",
    "commission_base",
    "commission_statement_day",
    "aggregation_day",
    "aggregation_cycle",
    "aggregation_anchor_month",
    "block_subcustomers",
    "wholesale_charges",
    "runs_own_billing",
    "plan_change_credit",
    "plan_change_invoicing",
    "portal_plan_change",
    "late_fee_days",
]

# The fee amounts, typed as money in the form: form field -> model field (minor units).
FEE_FORM_FIELDS = {
    "fee_upgrade": "fee_upgrade_minor",
    "fee_downgrade": "fee_downgrade_minor",
    "fee_disconnection": "fee_disconnection_minor",
    "fee_reconnection": "fee_reconnection_minor",
    "fee_late_payment": "fee_late_payment_minor",
}

# Settings a post may leave out (forms built before they existed): empty means the default.
DEFAULTED_FIELDS = (
    "plan_change_credit",
    "plan_change_invoicing",
    "late_fee_days",
    "self_billing_number_pattern",
)

PLAN_CHANGE_SECTION = (
    "Plan changes and fees",
    "For the customers this issuer invoices. A plan change gives back the unused part of the "
    "old tariff and charges the rest of the period at the new one; fees are one-time charges "
    "on the next invoice (empty or 0: none).",
    [
        "plan_change_credit",
        "plan_change_invoicing",
        "portal_plan_change",
        "fee_upgrade",
        "fee_downgrade",
        "fee_disconnection",
        "fee_reconnection",
        "fee_late_payment",
        "late_fee_days",
        "fee_tax_rate",
    ],
)


class FeesMixin:
    """The issuer's fees as money fields, and its own tax rates for them."""

    def fees_init(self, currency: str) -> None:
        form: Any = self
        form.fee_currency = currency
        labels = {
            "fee_upgrade": "Upgrade fee",
            "fee_downgrade": "Downgrade fee",
            "fee_disconnection": "Disconnection fee",
            "fee_reconnection": "Reconnection fee",
            "fee_late_payment": "Late-payment fee",
        }
        for name, model_field in FEE_FORM_FIELDS.items():
            field = MoneyField(label=labels[name], required=False)
            field.currency = currency
            if form.instance.pk:
                field.initial = from_minor(getattr(form.instance, model_field), currency)
            form.fields[name] = field
        rates = TaxRate._base_manager.filter(partner_id=form.instance.pk or 0, is_active=True)
        form.fields["fee_tax_rate"] = forms.ModelChoiceField(
            queryset=rates,
            required=False,
            label="Tax rate of the fees",
            initial=form.instance.fee_tax_rate_id,
        )

    def fee_fields(self) -> dict[str, Any]:
        form: Any = self
        data: dict[str, Any] = {
            model_field: to_minor(form.cleaned_data.get(name), form.fee_currency) or 0
            for name, model_field in FEE_FORM_FIELDS.items()
            if name in form.fields
        }
        data["fee_tax_rate"] = form.cleaned_data.get("fee_tax_rate")
        return data


class PartnerForm(FeesMixin, FieldsetsMixin, forms.ModelForm):
    mode = forms.ChoiceField(
        choices=[(m.value, m.label) for m in PartnerMode if m != PartnerMode.DIRECT],
        help_text="How this reseller works with you; a change applies from each "
        "service's next period.",
    )
    commission_percent = PercentField(
        label="Commission (%)",
        required=False,
        help_text="Percentage mode: share of the net amount the partner earns, 0-100 "
        "with two decimals.",
    )
    discount_percent = PercentField(
        label="Wholesale discount (%)",
        required=False,
        help_text="Aggregated mode and wholesale charges: discount off your retail price "
        "where no partner price is set.",
    )

    sections = [
        (
            "Partner",
            "The name you and your staff see, and how the partner works with you.",
            ["name", "mode", "email", "phone", "website"],
        ),
        (
            "Percentage commission",
            "You invoice the partner's customers and collect their payments; the partner earns "
            "a commission on each payment received (or on each invoice), net of tax. A monthly "
            "statement collects it for approval and payout.",
            ["commission_percent", "commission_base", "commission_statement_day"],
        ),
        (
            "Own invoicing",
            "The partner invoices its customers under its own name, numbering and tax "
            "settings. With wholesale charges you also bill the partner for its customers' "
            "services at partner prices. Running its own billing, its customers are billed "
            "and dunned by runs of its own (the daily work starts one for it), not by yours.",
            ["wholesale_charges", "runs_own_billing"],
        ),
        (
            "Partner prices and cycle",
            "Aggregated mode: the partner's customers get no invoices; on this day and cycle "
            "you send one invoice to the partner for all of them, at partner prices. Own "
            "invoicing with wholesale charges: your invoice to the partner for its customers' "
            "services, on the same day and cycle.",
            [
                "discount_percent",
                "aggregation_day",
                "aggregation_cycle",
                "aggregation_anchor_month",
                "block_subcustomers",
            ],
        ),
        (
            "Issuer details",
            "Printed on documents this partner issues (own invoicing), on its statements and "
            "its account's invoices; the bank account receives commission payouts.",
            [
                "legal_name",
                "street",
                "postcode",
                "city",
                "country",
                "vat_id",
                "iban",
                "bic",
                "currency",
                "prices_include_tax",
            ],
        ),
        (
            "Billing defaults",
            "For the customers this partner issues to; a customer may override them.",
            [
                "billing_day",
                "payment_due_days",
                "payment_period",
                "first_period_billing",
                "blocking_days",
                "deactivation_days",
                "reminder_days",
                "email_invoices_on_issue",
            ],
        ),
        PLAN_CHANGE_SECTION,
        (
            "Numbering",
            "Patterns as Splynx: {year}, {month}, {day}, {partner_id|N}, {customer_id}, "
            "{next|N}. Numbers are gapless per issuer and document type.",
            [
                "invoice_number_pattern",
                "credit_note_number_pattern",
                "receipt_number_pattern",
                "self_billing_number_pattern",
            ],
        ),
    ]

    class Meta:
        model = Partner
        fields = PARTNER_MODEL_FIELDS
        help_texts = {
            "billing_day": "Day of month 1-28 on which customers are billed.",
            "payment_due_days": "Days between the invoice date and its due date.",
            "blocking_days": "Days after the due date before an unpaid customer is blocked; "
            "empty means never.",
            "deactivation_days": "Days after the due date before the customer becomes "
            "inactive and is no longer billed; empty means never.",
            "reminder_days": "Days after the due date on which reminders are sent, "
            "comma-separated.",
            "email_invoices_on_issue": "Each invoice goes by e-mail, with its PDF, to the "
            "customer's address once issued. Customers without an address get none; any "
            "invoice can still be sent from its page.",
            "commission_base": "Payments received (as Splynx) or invoiced amounts.",
            "commission_statement_day": "Day of month from which the daily work builds the "
            "statement of the month just closed.",
            "self_billing_number_pattern": "Numbers of approved commission statements "
            "(self-billing credit notes, “Gutschrift”); its own gapless series.",
            "aggregation_day": "Day of month 1-28 of the partner's aggregated invoice.",
            "aggregation_cycle": "How often the partner receives its aggregated invoice.",
            "aggregation_anchor_month": "Month (1-12) in which a quarterly or yearly cycle starts.",
            "prices_include_tax": "Tariff prices are gross (VAT included).",
            "payment_period": "Prepaid bills the period that starts on the billing date "
            "(aggregated: the partner's invoice bills the coming cycle).",
            "country": "ISO 3166 country code.",
            "vat_id": "With the country prefix, e.g. DE123456788; checked for its "
            "country's format and check digit.",
            "iban": "Spaces are removed; checked for its country's length and check digits.",
            "bic": "8 or 11 characters, e.g. COBADEFFXXX.",
            "currency": "ISO 4217 currency code of the documents this partner issues.",
            "plan_change_credit": "How the unused part of the old tariff is given back.",
            "plan_change_invoicing": "When what a plan change charges is invoiced.",
            "portal_plan_change": "Customers may change plan in the portal, among the tariffs "
            "marked “customers may choose it”.",
            "late_fee_days": "Days after the due date when dunning charges the late-payment "
            "fee (once per invoice).",
        }
        labels = {"vat_id": "VAT ID", "iban": "IBAN", "bic": "BIC"}
        widgets = {"country": country_select(), "currency": currency_select()}

    def __init__(self, *args: Any, creating: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.creating = creating
        self.fees_init(self.instance.currency or "EUR")
        for name in DEFAULTED_FIELDS:
            if name in self.fields:
                self.fields[name].required = False
        for name, field in self.fields.items():
            modes = SETTING_MODES.get(FORM_TO_SETTING.get(name, name))
            if modes is not None:
                field.modes = " ".join(sorted(modes))  # type: ignore[attr-defined]
        if self.instance.pk:
            self.fields["mode"].initial = self.instance.mode
            self.fields["commission_percent"].initial = percent(self.instance.commission_bp)
            self.fields["discount_percent"].initial = percent(self.instance.discount_bp)
        if self.instance.is_home:
            for name in (
                "mode",
                "commission_percent",
                "commission_base",
                "commission_statement_day",
                "discount_percent",
                "aggregation_day",
                "aggregation_cycle",
                "aggregation_anchor_month",
                "block_subcustomers",
                "wholesale_charges",
                "runs_own_billing",
            ):
                self.fields.pop(name, None)

    def chosen_mode(self) -> str | None:
        """The mode the form is saved in: the one posted, else the partner's."""
        if "mode" not in self.fields:
            return self.instance.mode or None
        posted = self.data.get(self.add_prefix("mode")) if self.is_bound else None
        if posted and self.fields["mode"].valid_value(posted):  # type: ignore[attr-defined]
            return str(posted)
        return self.instance.mode if self.instance.pk else None

    def full_clean(self) -> None:
        # Settings of other modes than the chosen one are hidden in the browser and ignored
        # here: validated as if not sent (the stored values stay), whatever was posted.
        mode = self.chosen_mode() if self.is_bound else None
        ignored = [
            field
            for name, field in self.fields.items()
            if mode and not setting_applies(FORM_TO_SETTING.get(name, name), mode)
        ]
        for field in ignored:
            field.disabled = True
        try:
            super().full_clean()
        finally:
            for field in ignored:
                field.disabled = False

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in DEFAULTED_FIELDS:
            if name in data and data[name] in (None, ""):
                data[name] = getattr(self.instance if self.instance.pk else Partner(), name)
        if "mode" in data:
            self.instance.mode = data["mode"]
        return data

    def service_fields(self) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if k in PARTNER_MODEL_FIELDS}
        if "commission_percent" in self.fields:
            data["commission_bp"] = bp(self.cleaned_data.get("commission_percent"))
        if "discount_percent" in self.fields:
            data["discount_bp"] = bp(self.cleaned_data.get("discount_percent"))
        data.update(self.fee_fields())
        return data


ISSUER_SETTINGS_FIELDS = [
    f
    for f in PARTNER_MODEL_FIELDS
    if f
    not in {
        "name",
        "commission_base",
        "commission_statement_day",
        "aggregation_day",
        "aggregation_cycle",
        "aggregation_anchor_month",
        "block_subcustomers",
        "wholesale_charges",
        "runs_own_billing",
    }
]


class IssuerSettingsForm(FeesMixin, FieldsetsMixin, forms.ModelForm):
    """The issuer's own settings (home partner, or an own-invoicing partner)."""

    sections = [s for s in PartnerForm.sections if s[0] in ("Issuer details", "Billing defaults")]
    sections = [
        ("Company", "Printed on every document you issue.", ["email", "phone", "website"]),
        *sections,
        PLAN_CHANGE_SECTION,
        PartnerForm.sections[-1],
    ]

    class Meta:
        model = Partner
        fields = ISSUER_SETTINGS_FIELDS
        help_texts = PartnerForm.Meta.help_texts
        labels = PartnerForm.Meta.labels
        widgets = {"country": country_select(), "currency": currency_select()}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fees_init(self.instance.currency or "EUR")
        if "self_billing_number_pattern" in self.fields:
            if self.instance.is_home:
                self.fields["self_billing_number_pattern"].required = False
            else:  # only the operator issues commission statements
                del self.fields["self_billing_number_pattern"]

    def service_fields(self) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if k in ISSUER_SETTINGS_FIELDS}
        if not data.get("self_billing_number_pattern"):
            data.pop("self_billing_number_pattern", None)  # left out or empty: unchanged
        data.update(self.fee_fields())
        return data


class SequenceNextForm(forms.Form):
    """Continue an issuer's numbering from another system: the next number of one type."""

    doc_type = forms.ChoiceField(choices=DocumentType.choices, widget=forms.HiddenInput)
    next_value = forms.IntegerField(
        min_value=1,
        max_value=SEQUENCE_MAX,
        label="Next number",
        help_text="Forward only: numbers already issued are never reused.",
    )


class StatementPayForm(forms.Form):
    date = DayField(widget=DateInput, initial=today, label="Paid on")
    reference = forms.CharField(max_length=140, help_text="Bank transfer reference.")


class StatementBuildForm(forms.Form):
    month = DayField(widget=DateInput, initial=today, help_text="Any day of the month to build.")
