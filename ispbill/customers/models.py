"""Customers: the billing accounts."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from ispbill.core.tenancy import PartnerScopedManager
from ispbill.core.validators import (
    PAYMENT_DUE_DAYS_MAX,
    country_code_clean,
    model_fields_clean,
    vat_id_clean,
)
from ispbill.partners.models import PaymentPeriod


class CustomerStatus(models.TextChoices):
    NEW = "new", "New"
    ACTIVE = "active", "Active"
    BLOCKED = "blocked", "Blocked"
    INACTIVE = "inactive", "Inactive"


@dataclass(slots=True)
class CustomerRow:
    """A customer as the billing run reads it: plain values in the order of
    ``CUSTOMER_ROW_FIELDS`` (a chunk reads thousands; model instances cost more than the
    billing of them)."""

    pk: int
    partner_id: int
    reference: str
    name: str
    company: str
    street: str
    postcode: str
    city: str
    country: str
    vat_id: str
    email: str
    language: str
    status: str
    billing_day: int | None
    payment_due_days: int | None
    payment_period: str
    billed_through: date | None


CUSTOMER_ROW_FIELDS = tuple(CustomerRow.__dataclass_fields__)


CUSTOMER_VALIDATORS = {"country": country_code_clean, "vat_id": vat_id_clean}


class Customer(models.Model):
    """Who owes money and has a balance. Billing settings left empty follow the issuer's."""

    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="customers"
    )
    reference = models.CharField(
        max_length=40, help_text="Customer number, unique per partner; used in bank transfers"
    )
    name = models.CharField(max_length=200)
    company = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    street = models.CharField(max_length=200, blank=True)
    postcode = models.CharField(max_length=20, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, default="DE")
    vat_id = models.CharField(max_length=30, blank=True)
    language = models.CharField(
        max_length=5, default="en", choices=[("en", "English"), ("de", "Deutsch")]
    )
    status = models.CharField(
        max_length=10, choices=CustomerStatus.choices, default=CustomerStatus.ACTIVE
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    blocked_with_partner = models.BooleanField(
        default=False,
        editable=False,
        help_text="Blocked because its aggregated partner's account was blocked or "
        "deactivated; unblocked when the partner pays (ispbill.payments.reinstate)",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    billing_day = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(28)]
    )
    payment_due_days = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(PAYMENT_DUE_DAYS_MAX)]
    )
    payment_period = models.CharField(
        max_length=10, choices=PaymentPeriod.choices, blank=True, default=""
    )
    min_balance_minor = models.BigIntegerField(
        null=True, blank=True, help_text="Minimum balance in minor units (may be negative)"
    )

    # Last billing date processed for this customer: the run resumes after it (catch-up).
    billed_through = models.DateField(null=True, blank=True, editable=False)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "reference"],
                name="customer_reference_unique",
                violation_error_message="This customer number is already used by another "
                "customer of the same partner; choose another one.",
            ),
            models.CheckConstraint(
                condition=Q(billing_day__isnull=True) | Q(billing_day__gte=1, billing_day__lte=28),
                name="customer_billing_day_1_28",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in CustomerStatus]),
                name="customer_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["partner", "status"]), models.Index(fields=["name"])]

    def __str__(self) -> str:
        return f"{self.reference} {self.name}"

    def clean_fields(self, exclude: Collection[str] | None = None) -> None:
        model_fields_clean(
            self, CUSTOMER_VALIDATORS, exclude, lambda: super(Customer, self).clean_fields(exclude)
        )

    @property
    def is_billable(self) -> bool:
        """Blocked customers are still billed; inactive ones are not."""
        return self.status in (CustomerStatus.ACTIVE, CustomerStatus.BLOCKED, CustomerStatus.NEW)


class Reminder(models.Model):
    """A payment reminder sent for an invoice at one of the issuer's reminder days."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(
        "invoicing.Invoice", on_delete=models.PROTECT, related_name="reminders"
    )
    days_after_due = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField(auto_now_add=True)
    email = models.EmailField(blank=True)

    objects = PartnerScopedManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "days_after_due"], name="reminder_once_per_day"
            )
        ]
