"""Partners (resellers) and the home partner (the operator itself)."""

from __future__ import annotations

from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from ispbill.core.numbering import (
    DEFAULT_CREDIT_NOTE_PATTERN,
    DEFAULT_INVOICE_PATTERN,
    DEFAULT_RECEIPT_PATTERN,
    PatternError,
    validate_pattern,
)
from ispbill.core.tenancy import PartnerScopedManager


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

    # Billing defaults for the customers this partner issues to.
    billing_day = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(28)]
    )
    payment_due_days = models.PositiveSmallIntegerField(default=14)
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

    # Numbering patterns (Splynx-compatible, see core/numbering.py).
    invoice_number_pattern = models.CharField(max_length=64, default=DEFAULT_INVOICE_PATTERN)
    credit_note_number_pattern = models.CharField(
        max_length=64, default=DEFAULT_CREDIT_NOTE_PATTERN
    )
    receipt_number_pattern = models.CharField(max_length=64, default=DEFAULT_RECEIPT_PATTERN)

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

    def clean(self) -> None:
        # A pattern that cannot number documents would stop this issuer's invoicing; refuse it
        # where it is typed (web, API), not where a run trips on it.
        errors = {}
        for name in (
            "invoice_number_pattern",
            "credit_note_number_pattern",
            "receipt_number_pattern",
        ):
            try:
                validate_pattern(getattr(self, name))
            except PatternError as exc:
                errors[name] = str(exc)
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
    statement = models.ForeignKey(
        CommissionStatement, null=True, blank=True, on_delete=models.PROTECT, related_name="lines"
    )

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source_type", "source_id", "rate_bp"], name="accrual_once_per_source_rate"
            ),
        ]
        indexes = [models.Index(fields=["partner", "date"])]
