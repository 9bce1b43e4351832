"""Partners (resellers) and the home partner (the operator itself)."""

from __future__ import annotations

from collections.abc import Collection

from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from ispbill.core.numbering import (
    DEFAULT_CREDIT_NOTE_PATTERN,
    DEFAULT_INVOICE_PATTERN,
    DEFAULT_RECEIPT_PATTERN,
    DEFAULT_SELF_BILLING_PATTERN,
)
from ispbill.core.tenancy import PartnerScopedManager
from ispbill.core.validators import (
    PAYMENT_DUE_DAYS_MAX,
    bic_clean,
    country_code_clean,
    currency_code_clean,
    hex_color_clean,
    iban_clean,
    model_fields_clean,
    number_pattern_clean,
    reminder_days_clean,
    vat_id_clean,
)


class PartnerMode(models.TextChoices):
    DIRECT = "direct", "Direct (home partner)"
    PERCENTAGE = "percentage", "Percentage commission"
    OWN_INVOICING = "own_invoicing", "Own invoicing"
    AGGREGATED = "aggregated", "Aggregated invoice"


class PaymentPeriod(models.TextChoices):
    PREPAID = "prepaid", "Prepaid"
    POSTPAID = "postpaid", "Postpaid"


class CommissionBase(models.TextChoices):
    PAID = "paid", "Payments received"
    INVOICED = "invoiced", "Invoiced amounts"


class AggregationCycle(models.IntegerChoices):
    MONTHLY = 1, "Monthly"
    QUARTERLY = 3, "Quarterly"
    YEARLY = 12, "Yearly"


class FirstPeriodBilling(models.TextChoices):
    NEXT_INVOICE = "next_invoice", "On the next billing date"
    ON_ACTIVATION = "on_activation", "At once on activation"


# Settings that apply only in some modes; every other setting applies in every mode. The
# partner form shows each only for its modes, and the services refuse changing one outside
# them (docs/reseller-modes.md, "Settings per mode"). Issuer settings (numbering, currency,
# billing and dunning defaults) apply to whoever issues the documents: the home partner
# and own-invoicing partners; the operator issues for percentage and aggregated partners.
_ISSUERS = frozenset({PartnerMode.DIRECT.value, PartnerMode.OWN_INVOICING.value})
_WHOLESALE = frozenset({PartnerMode.AGGREGATED.value, PartnerMode.OWN_INVOICING.value})
SETTING_MODES: dict[str, frozenset[str]] = {
    "commission_bp": frozenset({PartnerMode.PERCENTAGE.value}),
    "commission_base": frozenset({PartnerMode.PERCENTAGE.value}),
    "commission_statement_day": frozenset({PartnerMode.PERCENTAGE.value}),
    "wholesale_charges": frozenset({PartnerMode.OWN_INVOICING.value}),
    "runs_own_billing": frozenset({PartnerMode.OWN_INVOICING.value}),
    "discount_bp": _WHOLESALE,
    "aggregation_day": _WHOLESALE,
    "aggregation_cycle": _WHOLESALE,
    "aggregation_anchor_month": _WHOLESALE,
    "block_subcustomers": frozenset({PartnerMode.AGGREGATED.value}),
    # Aggregated: whether the partner's invoice bills the coming period or the past one.
    "payment_period": _ISSUERS | {PartnerMode.AGGREGATED.value},
    **{
        name: _ISSUERS
        for name in (
            "currency",
            "prices_include_tax",
            "billing_day",
            "payment_due_days",
            "first_period_billing",
            "blocking_days",
            "deactivation_days",
            "reminder_days",
            "email_invoices_on_issue",
            "invoice_number_pattern",
            "credit_note_number_pattern",
            "receipt_number_pattern",
        )
    },
    # Only the operator issues commission statements (self-billing credit notes).
    "self_billing_number_pattern": frozenset({PartnerMode.DIRECT.value}),
}


def setting_applies(name: str, mode: str) -> bool:
    """Whether the partner setting ``name`` means anything for a partner in ``mode``."""
    modes = SETTING_MODES.get(name)
    return modes is None or mode in modes


PARTNER_VALIDATORS = {
    "country": country_code_clean,
    "vat_id": vat_id_clean,
    "iban": iban_clean,
    "bic": bic_clean,
    "currency": currency_code_clean,
    "reminder_days": reminder_days_clean,
    "invoice_number_pattern": number_pattern_clean,
    "credit_note_number_pattern": number_pattern_clean,
    "receipt_number_pattern": number_pattern_clean,
    "self_billing_number_pattern": number_pattern_clean,
    "brand_color": hex_color_clean,
}


class ChangeCredit(models.TextChoices):
    CREDIT_NOTE = "credit_note", "A credit note against the invoice that charged it"
    NEXT_INVOICE = "next_invoice", "A negative line on the next invoice"


class ChangeInvoicing(models.TextChoices):
    NEXT_INVOICE = "next_invoice", "With the next invoice"
    AT_ONCE = "at_once", "At once, on an invoice of its own"


FEE_FIELDS = (
    "fee_upgrade_minor",
    "fee_downgrade_minor",
    "fee_disconnection_minor",
    "fee_reconnection_minor",
    "fee_late_payment_minor",
)


class Partner(models.Model):
    """A reseller, or the home partner (mode ``direct``) that stands for the operator.

    Partners are never deleted, only disabled: their documents must stay readable.
    Percentages are stored in hundredths of a percent (12.50 % = 1250)."""

    name = models.CharField(max_length=200, unique=True)
    mode = models.CharField(max_length=20, choices=PartnerMode.choices)
    is_home = models.BooleanField(default=False, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # Issuer details: used on documents when this partner is the issuer.
    legal_name = models.CharField(max_length=200, blank=True)
    street = models.CharField(max_length=200, blank=True)
    postcode = models.CharField(max_length=20, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, default="DE", help_text="ISO 3166 country code")
    vat_id = models.CharField(max_length=30, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    website = models.URLField(blank=True)
    iban = models.CharField(max_length=34, blank=True)
    bic = models.CharField(max_length=11, blank=True)
    currency = models.CharField(max_length=3, default="EUR", help_text="ISO 4217 code")
    prices_include_tax = models.BooleanField(default=False)

    # Brand (docs/reseller-modes.md, "Brand"): what the customers of this issuer see in the
    # portal, in emails and on the default PDFs. Empty fields fall back to the issuer details
    # above (partners/brand.py); the logo is the issuer asset named logo.* (invoicing).
    brand_name = models.CharField(
        max_length=100, blank=True, help_text="Name customers see; empty: the legal name"
    )
    brand_color = models.CharField(
        max_length=7, blank=True, help_text="Primary colour, #rrggbb; empty: the default"
    )
    support_email = models.EmailField(blank=True, help_text="Empty: the issuer's e-mail")
    support_phone = models.CharField(
        max_length=40, blank=True, help_text="Empty: the issuer's phone"
    )
    support_website = models.URLField(blank=True, help_text="Empty: the issuer's website")
    email_sender_name = models.CharField(
        max_length=100, blank=True, help_text="From name of e-mails; empty: the brand name"
    )
    email_reply_to = models.EmailField(
        blank=True, help_text="Reply-To of e-mails; empty: the support e-mail"
    )

    # Billing defaults for the customers this partner issues to.
    billing_day = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(28)]
    )
    payment_due_days = models.PositiveSmallIntegerField(
        default=14, validators=[MaxValueValidator(PAYMENT_DUE_DAYS_MAX)]
    )
    payment_period = models.CharField(
        max_length=10, choices=PaymentPeriod.choices, default=PaymentPeriod.PREPAID
    )
    first_period_billing = models.CharField(
        max_length=20, choices=FirstPeriodBilling.choices, default=FirstPeriodBilling.NEXT_INVOICE
    )
    # Plan changes (docs/billing.md "Changing plan"): how the unused part of the old tariff
    # is given back, when the change is invoiced, and whether customers may change plan in
    # the portal (among the tariffs marked for customers).
    plan_change_credit = models.CharField(
        max_length=20, choices=ChangeCredit.choices, default=ChangeCredit.CREDIT_NOTE
    )
    plan_change_invoicing = models.CharField(
        max_length=20, choices=ChangeInvoicing.choices, default=ChangeInvoicing.NEXT_INVOICE
    )
    portal_plan_change = models.BooleanField(
        default=False, help_text="Customers may change plan in the portal"
    )
    # One-time fees (docs/billing.md "Fees"), minor units, net unless prices include tax;
    # 0: no fee. Charged at ``fee_tax_rate``.
    fee_upgrade_minor = models.BigIntegerField(default=0, help_text="Minor units; 0: none")
    fee_downgrade_minor = models.BigIntegerField(default=0, help_text="Minor units; 0: none")
    fee_disconnection_minor = models.BigIntegerField(default=0, help_text="Minor units; 0: none")
    fee_reconnection_minor = models.BigIntegerField(default=0, help_text="Minor units; 0: none")
    fee_late_payment_minor = models.BigIntegerField(default=0, help_text="Minor units; 0: none")
    late_fee_days = models.PositiveSmallIntegerField(
        default=7, help_text="Days after the due date when dunning charges the late-payment fee"
    )
    fee_tax_rate = models.ForeignKey(
        "catalog.TaxRate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The tax rate of the fees: one of this issuer's",
    )
    blocking_days = models.PositiveSmallIntegerField(
        null=True, blank=True, default=10, help_text="Days after due date; empty means never"
    )
    deactivation_days = models.PositiveSmallIntegerField(
        null=True, blank=True, default=60, help_text="Days after due date; empty means never"
    )
    reminder_days = models.CharField(max_length=50, default="3,5,7")
    # docs/documents.md, "Invoices e-mailed on issue".
    email_invoices_on_issue = models.BooleanField(
        "E-mail invoices when issued",
        default=True,
        help_text="Each invoice this issuer issues goes by e-mail, with its PDF, to the "
        "customer's address once issued (a billing run's after each chunk).",
    )

    # Numbering patterns (Splynx-compatible, see core/numbering.py).
    invoice_number_pattern = models.CharField(max_length=64, default=DEFAULT_INVOICE_PATTERN)
    credit_note_number_pattern = models.CharField(
        max_length=64, default=DEFAULT_CREDIT_NOTE_PATTERN
    )
    receipt_number_pattern = models.CharField(max_length=64, default=DEFAULT_RECEIPT_PATTERN)
    self_billing_number_pattern = models.CharField(
        max_length=64,
        default=DEFAULT_SELF_BILLING_PATTERN,
        help_text="Numbers of approved commission statements (self-billing credit notes)",
    )

    # Percentage mode.
    commission_bp = models.PositiveIntegerField(
        default=0, help_text="Commission in hundredths of a percent (12.50 % = 1250)"
    )
    commission_base = models.CharField(
        max_length=10, choices=CommissionBase.choices, default=CommissionBase.PAID
    )
    commission_statement_day = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(28)]
    )

    # Aggregated mode (and wholesale charges of own-invoicing partners).
    discount_bp = models.PositiveIntegerField(
        default=0, help_text="Wholesale discount off retail, hundredths of a percent"
    )
    aggregation_day = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(28)]
    )
    aggregation_cycle = models.PositiveSmallIntegerField(
        choices=AggregationCycle.choices, default=AggregationCycle.MONTHLY
    )
    aggregation_anchor_month = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    block_subcustomers = models.BooleanField(
        default=False, help_text="Block all sub-customers when the partner's account is blocked"
    )
    wholesale_charges = models.BooleanField(
        default=False, help_text="Own invoicing: the operator bills this partner at partner prices"
    )
    runs_own_billing = models.BooleanField(
        default=True,
        help_text="Own invoicing: its customers are billed and dunned by runs of its own (its "
        "panel, the API, the daily work's run for it), not by the operator's runs",
    )
    aggregated_through = models.DateField(
        null=True, blank=True, editable=False, help_text="Last aggregation date invoiced"
    )
    account = models.OneToOneField(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="account_of_partner",
        help_text="The customer record of the home partner that the operator bills",
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_home"], condition=Q(is_home=True), name="partner_one_home"
            ),
            models.CheckConstraint(
                condition=Q(is_home=False) | Q(mode="direct"), name="partner_home_is_direct"
            ),
            models.CheckConstraint(
                condition=Q(is_home=True) | ~Q(mode="direct"), name="partner_direct_is_home"
            ),
            models.CheckConstraint(
                condition=Q(mode__in=[m.value for m in PartnerMode]), name="partner_mode_valid"
            ),
            models.CheckConstraint(
                condition=Q(commission_bp__gte=0, commission_bp__lte=10000),
                name="partner_commission_0_100",
            ),
            models.CheckConstraint(
                condition=Q(discount_bp__gte=0, discount_bp__lte=10000),
                name="partner_discount_0_100",
            ),
            models.CheckConstraint(
                condition=Q(billing_day__gte=1, billing_day__lte=28),
                name="partner_billing_day_1_28",
            ),
            models.CheckConstraint(
                condition=Q(aggregation_day__gte=1, aggregation_day__lte=28),
                name="partner_aggregation_day_1_28",
            ),
            models.CheckConstraint(
                condition=Q(aggregation_cycle__in=[1, 3, 12]),
                name="partner_aggregation_cycle_valid",
            ),
            models.CheckConstraint(
                condition=Q(
                    fee_upgrade_minor__gte=0,
                    fee_downgrade_minor__gte=0,
                    fee_disconnection_minor__gte=0,
                    fee_reconnection_minor__gte=0,
                    fee_late_payment_minor__gte=0,
                ),
                name="partner_fees_nonnegative",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean_fields(self, exclude: Collection[str] | None = None) -> None:
        # The values documents, payments and dunning rely on are refused where they are
        # typed (web, API, import), not where a run trips on them (core/validators.py).
        model_fields_clean(
            self, PARTNER_VALIDATORS, exclude, lambda: super(Partner, self).clean_fields(exclude)
        )

    def clean(self) -> None:
        errors = {}
        if (
            self.fee_tax_rate_id is not None
            and apps.get_model("catalog", "TaxRate")
            ._base_manager.filter(pk=self.fee_tax_rate_id)
            .exclude(partner_id=self.pk)
            .exists()
        ):
            errors["fee_tax_rate"] = "Choose one of this issuer's own tax rates."
        elif self.fee_tax_rate_id is None and any(getattr(self, name) for name in FEE_FIELDS):
            errors["fee_tax_rate"] = "Choose the tax rate of the fees."
        if errors:
            raise ValidationError(errors)

    @property
    def issues_own_documents(self) -> bool:
        return self.mode in (PartnerMode.DIRECT, PartnerMode.OWN_INVOICING)


class CommissionOverride(models.Model):
    """A different commission percentage for one tariff of a percentage partner."""

    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="commission_overrides"
    )
    tariff = models.ForeignKey("catalog.Tariff", on_delete=models.PROTECT, related_name="+")
    rate_bp = models.PositiveIntegerField(help_text="Hundredths of a percent")

    objects = PartnerScopedManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "tariff"], name="commission_override_unique"
            ),
            models.CheckConstraint(
                condition=Q(rate_bp__lte=10000), name="commission_override_0_100"
            ),
        ]


class StatementStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    PAID = "paid", "Paid"


class CommissionStatement(models.Model):
    """A partner's commission for one month: the sum of its accrual lines."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="statements")
    period_start = models.DateField()
    period_end = models.DateField()
    currency = models.CharField(max_length=3)
    total_minor = models.BigIntegerField(default=0, help_text="Minor units; sum of its lines")
    # The statement as a self-billing credit note (docs/reseller-modes.md, "Percentage"):
    # numbered at approval in the issuer's self-billing series; VAT on the commission
    # (net = total_minor) by the partner's VAT registration, fixed at approval.
    number = models.CharField(max_length=64, blank=True)
    issue_date = models.DateField(null=True, blank=True, help_text="Approval (issue) date")
    tax_rate_bp = models.PositiveIntegerField(default=0)
    tax_category = models.CharField(max_length=2, default="O", help_text="EN 16931 code")
    tax_note = models.CharField(max_length=200, blank=True)
    tax_minor = models.BigIntegerField(default=0, help_text="Minor units; VAT on the total")
    gross_minor = models.BigIntegerField(default=0, help_text="Minor units; total plus VAT")
    pdf = models.CharField(max_length=300, blank=True)
    pdf_error = models.CharField(max_length=1000, blank=True)
    status = models.CharField(
        max_length=10, choices=StatementStatus.choices, default=StatementStatus.DRAFT
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    payout_reference = models.CharField(max_length=140, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["-period_start", "partner_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "period_start"], name="statement_once_per_month"
            ),
            models.UniqueConstraint(
                fields=["number"], condition=~Q(number=""), name="statement_number_unique"
            ),
        ]


class CommissionAccrual(models.Model):
    """One line of commission: positive for a sale or payment, negative for a credit note or
    refund. Never changed; a statement collects the lines of its month."""

    partner = models.ForeignKey(
        Partner,
        on_delete=models.PROTECT,
        related_name="accruals",
        db_constraint=False,
        db_index=False,  # the (partner, date) index serves it
    )
    date = models.DateField()
    source_type = models.CharField(max_length=20)  # invoice, allocation, credit_note
    source_id = models.BigIntegerField()
    invoice = models.ForeignKey(  # invoices are never deleted: no row-by-row check
        "invoicing.Invoice", on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    rate_bp = models.PositiveIntegerField()
    base_minor = models.BigIntegerField(help_text="Net amount the rate applies to, minor units")
    amount_minor = models.BigIntegerField(help_text="Commission, minor units, rounded per line")
    currency = models.CharField(max_length=3)
    # Written NULL by the billing run: no row-by-row check (a trigger refuses deleting a
    # statement that accruals refer to) and indexed only where set (Meta).
    statement = models.ForeignKey(
        CommissionStatement,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="lines",
        db_index=False,
        db_constraint=False,
    )

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source_type", "source_id", "rate_bp"], name="accrual_once_per_source_rate"
            ),
        ]
        indexes = [
            models.Index(fields=["partner", "date"]),
            models.Index(
                fields=["statement"],
                condition=models.Q(statement__isnull=False),
                name="accrual_statement_idx",
            ),
        ]
