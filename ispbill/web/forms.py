"""Forms of the web UI: they parse and validate input; services do the writing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils import timezone

from ispbill.accounts.models import OPERATOR_ROLES, PARTNER_ROLES, Role, User
from ispbill.accounts.services import PARTNER_SCOPE_ROLES
from ispbill.billing.run import BillingRunDateError, billing_run_date_check
from ispbill.catalog.models import Tariff, TaxRate
from ispbill.core.money import (
    PERCENT_MAX_BP,
    QUANTITY_MAX,
    AmountDecimalsError,
    AmountError,
    AmountRangeError,
    Money,
    currency_exponent,
    line_check,
    percent_parse,
)
from ispbill.customers.models import Customer
from ispbill.invoicing.models import DocumentType
from ispbill.invoicing.sequences import SEQUENCE_MAX
from ispbill.partners.models import Partner, PartnerMode
from ispbill.payments.models import PaymentMethod


def today() -> date:
    return timezone.localdate()


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


class MoneyField(forms.CharField):
    """An amount typed as "12.50" (or "12,50") in the form's currency; cleaned to a Decimal,
    never a float. It is parsed by ``Money.parse``, the parser of the API and the imports,
    with the same decimals per currency and the same limits (ispbill/core/money.py)."""

    def __init__(self, *, allow_negative: bool = False, **kwargs: Any) -> None:
        self.allow_negative = allow_negative
        # Set by ``money_fields_currency`` from the form's currency.
        self.currency = "EUR"
        kwargs.setdefault("max_length", 40)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("inputmode", "decimal")
        self.widget.attrs.setdefault("placeholder", "0.00")

    def clean(self, value: Any) -> Any:
        text = super().clean(value)
        if text in (None, ""):
            return None
        text = str(text).strip().replace(" ", "")
        if "," in text and "." not in text:
            text = text.replace(",", ".")
        try:
            amount = Money.parse(text, self.currency).amount
        except AmountDecimalsError as exc:
            places = currency_exponent(self.currency)
            raise ValidationError(
                f"Use at most {places} decimals for {self.currency}."
                if places
                else f"{self.currency} has no decimals: enter a whole amount."
            ) from exc
        except AmountRangeError as exc:
            raise ValidationError(f"{exc}.") from exc
        except ValueError as exc:
            raise ValidationError("Enter an amount such as 12.50.") from exc
        if amount < 0 and not self.allow_negative:
            raise ValidationError("The amount cannot be negative.")
        return amount


def money_fields_currency(form: forms.BaseForm, currency: str) -> None:
    """Parse the form's amounts in ``currency`` (its decimals and limits)."""
    for field in form.fields.values():
        if isinstance(field, MoneyField):
            field.currency = currency


class QuantityField(forms.IntegerField):
    """A quantity from 1 to QUANTITY_MAX (ispbill/core/money.py)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", QUANTITY_MAX)
        kwargs.setdefault("initial", 1)
        super().__init__(**kwargs)


def to_minor(amount: Decimal | None, currency: str) -> int | None:
    if amount is None:
        return None
    return Money.parse(str(amount), currency).minor


def from_minor(minor: int | None, currency: str) -> str:
    if minor is None:
        return ""
    return str(Money.from_minor(minor, currency).amount)


class PercentField(forms.DecimalField):
    """A percentage 0-100 with two decimals, stored in hundredths of a percent; parsed by
    ``percent_parse``, the parser of the API's limits and the imports (ispbill/core/money.py)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", Decimal(0))
        kwargs.setdefault("max_value", Decimal(PERCENT_MAX_BP) / 100)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("max_digits", 5)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:  # a Decimal, or None (the stubs say int)
        if value in self.empty_values:
            return None
        try:
            return Decimal(percent_parse(str(value))) / 100
        except AmountError as exc:
            raise ValidationError(str(exc)) from exc


def bp(value: Decimal | None) -> int:
    return int((value or Decimal(0)) * 100)


def percent(bp_value: int | None) -> Decimal:
    return (Decimal(bp_value or 0) / 100).quantize(Decimal("0.01"))


class FieldsetsMixin:
    """Forms that group their fields with a title and an explanation."""

    def _choices(self, name: str) -> Any:
        form: Any = self
        return form.fields[name]

    sections: list[tuple[str, str, list[str]]] = []

    def fieldsets(self) -> list[tuple[str, str, list[Any]]]:
        form: Any = self
        out = []
        for title, explain, names in self.sections:
            fields = [form[name] for name in names if name in form.fields]
            if fields:
                out.append((title, explain, fields))
        return out


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
    "invoice_number_pattern",
    "credit_note_number_pattern",
    "receipt_number_pattern",
    "commission_base",
    "commission_statement_day",
    "aggregation_day",
    "aggregation_cycle",
    "aggregation_anchor_month",
    "block_subcustomers",
    "wholesale_charges",
]


class PartnerForm(FieldsetsMixin, forms.ModelForm):
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
            "Aggregated invoice",
            "The partner's customers get no invoices; on the aggregation day you send one "
            "invoice to the partner for all of them, at partner prices.",
            [
                "discount_percent",
                "aggregation_day",
                "aggregation_cycle",
                "aggregation_anchor_month",
                "block_subcustomers",
            ],
        ),
        (
            "Own invoicing",
            "The partner invoices its customers under its own name, numbering and tax "
            "settings. With wholesale charges you also bill the partner for its customers' "
            "services at partner prices.",
            ["wholesale_charges"],
        ),
        (
            "Issuer details",
            "Printed on documents this partner issues (own invoicing) and on its statements.",
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
            ],
        ),
        (
            "Numbering",
            "Patterns as Splynx: {year}, {month}, {day}, {partner_id|N}, {customer_id}, "
            "{next|N}. Numbers are gapless per issuer and document type.",
            ["invoice_number_pattern", "credit_note_number_pattern", "receipt_number_pattern"],
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
            "commission_base": "Payments received (as Splynx) or invoiced amounts.",
            "commission_statement_day": "Day of month on which the statement is built.",
            "aggregation_day": "Day of month 1-28 of the partner's aggregated invoice.",
            "aggregation_cycle": "How often the partner receives its aggregated invoice.",
            "aggregation_anchor_month": "Month (1-12) in which a quarterly or yearly cycle starts.",
            "prices_include_tax": "Tariff prices are gross (VAT included).",
            "payment_period": "Prepaid bills the period that starts on the billing date.",
        }

    def __init__(self, *args: Any, creating: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.creating = creating
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
            ):
                self.fields.pop(name, None)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "mode" in data:
            self.instance.mode = data["mode"]
        return data

    def service_fields(self) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if k in PARTNER_MODEL_FIELDS}
        if "commission_percent" in self.fields:
            data["commission_bp"] = bp(self.cleaned_data.get("commission_percent"))
        if "discount_percent" in self.fields:
            data["discount_bp"] = bp(self.cleaned_data.get("discount_percent"))
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
    }
]


class IssuerSettingsForm(FieldsetsMixin, forms.ModelForm):
    """The issuer's own settings (home partner, or an own-invoicing partner)."""

    sections = [s for s in PartnerForm.sections if s[0] in ("Issuer details", "Billing defaults")]
    sections = [
        ("Company", "Printed on every document you issue.", ["email", "phone", "website"]),
        *sections,
        PartnerForm.sections[-1],
    ]

    class Meta:
        model = Partner
        fields = ISSUER_SETTINGS_FIELDS
        help_texts = PartnerForm.Meta.help_texts


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
        help_texts = {
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
    start_date = forms.DateField(widget=DateInput, initial=today)
    quantity = QuantityField()
    description = forms.CharField(
        max_length=200, required=False, help_text="Printed on invoices; empty: the tariff name."
    )
    price_override = MoneyField(
        required=False, help_text="A price for this customer only; empty: the tariff price."
    )
    discount_percent = PercentField(label="Discount (%)", required=False)
    discount_until = forms.DateField(
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
    charge_date = forms.DateField(
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


class TariffForm(FieldsetsMixin, forms.ModelForm):
    price = MoneyField(help_text="Per period, net unless the issuer's prices include tax.")
    # Declared here: a model-generated field would query the scoped manager at import.
    tax_rate = forms.ModelChoiceField(queryset=TaxRate._base_manager.none(), label="Tax rate")

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
            "available_to": "Resellers allowed to sell this tariff.",
            "period_months": "Charged every N months in advance.",
        }
        widgets = {"available_to": forms.CheckboxSelectMultiple}

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


class BillingRunForm(forms.Form):
    run_date = forms.DateField(
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


class PaymentForm(FieldsetsMixin, forms.Form):
    customer = forms.ModelChoiceField(queryset=Customer._base_manager.none(), label="Account")
    amount = MoneyField()
    date = forms.DateField(widget=DateInput, initial=today)
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


class RefundForm(forms.Form):
    amount = MoneyField(help_text="At most the unallocated credit of the payment.")
    date = forms.DateField(widget=DateInput, initial=today)
    reason = forms.CharField(max_length=300, required=False)

    def __init__(self, *args: Any, currency: str = "EUR", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        money_fields_currency(self, currency)

    def clean_amount(self) -> Decimal:
        amount = self.cleaned_data["amount"]
        if amount is None or amount <= 0:
            raise ValidationError("A refund must be greater than zero.")
        return amount


class CreditNoteForm(forms.Form):
    reason = forms.CharField(max_length=300, help_text="Printed on the credit note.")
    date = forms.DateField(widget=DateInput, initial=today)
    full = forms.BooleanField(
        required=False,
        initial=True,
        label="Credit everything not credited yet",
        help_text="Untick to credit only the amounts entered per line below.",
    )

    def __init__(self, *args: Any, lines: list[Any], currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.line_fields: list[tuple[Any, str]] = []
        for line in lines:
            name = f"line_{line.pk}"
            self.fields[name] = MoneyField(label=line.description, required=False)
            self.line_fields.append((line, name))
        money_fields_currency(self, currency)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("full") and not any(data.get(n) for _line, n in self.line_fields):
            raise ValidationError("Enter an amount for at least one line, or credit all.")
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
    date = forms.DateField(widget=DateInput, initial=today, label="Paid on")
    reference = forms.CharField(max_length=140, help_text="Bank transfer reference.")


class StatementBuildForm(forms.Form):
    month = forms.DateField(
        widget=DateInput, initial=today, help_text="Any day of the month to build."
    )


class ProfileForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = ["email", "phone", "street", "postcode", "city", "language"]


class InvoiceSendForm(forms.Form):
    to = forms.EmailField(
        label="Send to",
        max_length=254,
        help_text="The customer's address on the invoice; change it to send elsewhere.",
    )


USERNAME_VALIDATOR = RegexValidator(
    r"^[\w.@+-]+$", "Letters, digits and . @ + - _ only, without spaces."
)
PASSWORD_CHOICES = [
    ("link", "Email a link to choose a password"),
    ("set", "Set an initial password now"),
]


def _role_choices(roles: Any) -> list[tuple[str, str]]:
    return [(r.value, r.label) for r in Role if r in roles]


class UserCreateForm(FieldsetsMixin, forms.Form):
    """A new user. Operators choose any role and partner; in a partner's panel the partner
    is fixed and only partner staff and portal users can be chosen."""

    username = forms.CharField(
        max_length=150,
        validators=[USERNAME_VALIDATOR],
        help_text="Used to sign in; cannot be changed later.",
    )
    email = forms.EmailField(max_length=254, required=False)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    role = forms.ChoiceField(choices=[])
    partner = forms.ModelChoiceField(
        queryset=Partner._base_manager.none(),
        required=False,
        empty_label="None (your own staff)",
        help_text="Partner roles and portal users only; empty for your own staff.",
    )
    customer = forms.CharField(
        label="Customer number",
        max_length=64,
        required=False,
        help_text="Portal users only: the customer whose invoices and services they see.",
    )
    password_mode = forms.ChoiceField(
        label="How they get a password",
        choices=PASSWORD_CHOICES,
        initial="link",
        help_text="A link needs an email address; it works once and expires.",
    )
    password = forms.CharField(
        label="Initial password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Only when setting it now: at least 8 characters, not a common one.",
    )
    password_again = forms.CharField(
        label="Initial password again",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    sections = [
        ("Who", "", ["username", "email", "first_name", "last_name"]),
        (
            "Role",
            "Operator staff work for all partners; partner administrators and staff only for "
            "their partner; portal users see one customer's own services and invoices.",
            ["role", "partner", "customer"],
        ),
        ("Sign-in", "", ["password_mode", "password", "password_again"]),
    ]

    def __init__(self, *args: Any, partners: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        role: Any = self.fields["role"]
        if partners is None:
            role.choices = _role_choices(PARTNER_SCOPE_ROLES)
            role.initial = Role.PARTNER_STAFF
            self.fields.pop("partner")
            self.sections = [
                (
                    title,
                    "Administrators and staff work in this panel; portal users see one of "
                    "your customers' own services and invoices."
                    if title == "Role"
                    else explain,
                    names,
                )
                for title, explain, names in self.sections
            ]
        else:
            role.choices = _role_choices(Role)
            role.initial = Role.SUPPORT
            self._choices("partner").queryset = partners

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        role = data.get("role")
        partner = data.get("partner")
        if "partner" in self.fields and role:
            if role in OPERATOR_ROLES and partner is not None:
                self.add_error("partner", "Operator staff belong to no partner; leave it empty.")
            if role in PARTNER_ROLES and partner is None:
                self.add_error("partner", "Choose the partner this user works for.")
        if role == Role.CUSTOMER and not data.get("customer"):
            self.add_error("customer", "Give the customer number of the portal user.")
        if role and role != Role.CUSTOMER and data.get("customer"):
            self.add_error("customer", "Only portal users belong to a customer.")
        if data.get("password_mode") == "link" and not data.get("email"):
            self.add_error("email", "The link is sent by email: give an address.")
        if data.get("password_mode") == "set":
            if not data.get("password"):
                self.add_error("password", "Enter the initial password.")
            elif data.get("password") != data.get("password_again"):
                self.add_error("password_again", "The two passwords differ.")
        return data


class UserEditForm(FieldsetsMixin, forms.Form):
    email = forms.EmailField(max_length=254, required=False)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    role = forms.ChoiceField(choices=[])

    def __init__(self, *args: Any, user: User, editing_self: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "role": user.role,
            },
        )
        super().__init__(*args, **kwargs)
        role: Any = self.fields["role"]
        if user.role in OPERATOR_ROLES:
            role.choices = _role_choices(OPERATOR_ROLES)
        elif user.role in PARTNER_ROLES:
            role.choices = _role_choices(PARTNER_ROLES)
        else:
            role.choices = _role_choices({Role.CUSTOMER})
        if user.role == Role.CUSTOMER or editing_self:
            self.fields.pop("role")


# Service field names -> form field names, for errors a service reports per field.
SERVICE_TO_FORM = {
    "partner_id": "partner",
    "tariff_id": "tariff",
    "tax_rate_id": "tax_rate",
    "price_minor": "price",
    "price": "price",
    "commission_bp": "commission_percent",
    "discount_bp": "discount_percent",
    "min_balance_minor": "min_balance",
    "unit_price_minor": "unit_price",
    "rate_bp": "rate_percent",
    "price_override_minor": "price_override",
    "customer_id": "customer",
}


def errors_to_form(form: forms.BaseForm, exc: Exception) -> None:
    """Show a service's refusal beside the fields it names (else above the form)."""
    fields: dict[str, str] = getattr(exc, "fields", None) or {}
    placed = False
    for name, text in fields.items():
        target = SERVICE_TO_FORM.get(name, name)
        if target in form.fields:
            form.add_error(target, text)
            placed = True
        else:
            form.add_error(None, text)
            placed = True
    if not placed:
        messages = getattr(exc, "messages", None)
        form.add_error(None, " ".join(messages) if messages else str(exc))
