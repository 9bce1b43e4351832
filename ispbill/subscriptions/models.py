"""Services (subscriptions to tariffs) and one-time charges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models import F, Q

from ispbill.core.money import AMOUNT_MAX_MINOR, AmountRangeError, line_check
from ispbill.core.tenancy import PartnerScopedManager


class ServiceStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    STOPPED = "stopped", "Stopped"


@dataclass(slots=True)
class ServiceRow:
    """A service as the billing run reads it, its tariff and tax rate flattened in: plain
    values in the order of ``SERVICE_ROW_FIELDS``."""

    pk: int
    partner_id: int
    customer_id: int
    tariff_id: int
    description: str
    quantity: int
    price_override_minor: int | None
    discount_bp: int
    discount_until: date | None
    start_date: date
    end_date: date | None
    status: str
    charged_through: date | None
    wholesale_charged_through: date | None
    tariff_name: str
    tariff_period_months: int
    tariff_price_minor: int
    tax_rate_bp: int
    tax_category: str


SERVICE_ROW_FIELDS = (
    "pk",
    "partner_id",
    "customer_id",
    "tariff_id",
    "description",
    "quantity",
    "price_override_minor",
    "discount_bp",
    "discount_until",
    "start_date",
    "end_date",
    "status",
    "charged_through",
    "wholesale_charged_through",
    "tariff__name",
    "tariff__period_months",
    "tariff__price_minor",
    "tariff__tax_rate__rate_bp",
    "tariff__tax_rate__category",
)


def service_rows(queryset: Any) -> list[ServiceRow]:
    """The services of ``queryset`` (in its order) with their tariff and tax rate, as rows."""
    from ispbill.core.bulk import plain_rows

    return [ServiceRow(*values) for values in plain_rows(queryset, SERVICE_ROW_FIELDS)]


def _line_clean(*, unit_minor: int, quantity: int | None) -> None:
    """A line's quantity and unit price times quantity within the domain limits."""
    try:
        if quantity is not None:
            line_check(unit_minor=unit_minor, quantity=quantity)
        elif abs(unit_minor) > AMOUNT_MAX_MINOR:
            raise AmountRangeError("The price is above the largest amount ispbill accepts.")
    except AmountRangeError as exc:
        field = "quantity" if "quantity" in str(exc).lower() else NON_FIELD_ERRORS
        raise ValidationError({field: str(exc)}) from exc


class Service(models.Model):
    """A customer's subscription to a tariff. Start and end dates are both included."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="services"
    )
    tariff = models.ForeignKey("catalog.Tariff", on_delete=models.PROTECT, related_name="services")
    description = models.CharField(max_length=200, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    price_override_minor = models.BigIntegerField(null=True, blank=True, help_text="Minor units")
    discount_bp = models.PositiveIntegerField(default=0, help_text="Hundredths of a percent")
    discount_until = models.DateField(null=True, blank=True, help_text="Last day of the discount")
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=ServiceStatus.choices, default=ServiceStatus.ACTIVE
    )
    # First day not yet charged: the run resumes from here (the unique charge constraint is
    # the guarantee; this pointer only saves work).
    charged_through = models.DateField(null=True, blank=True, editable=False)
    wholesale_charged_through = models.DateField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="service_quantity_positive"),
            models.CheckConstraint(
                condition=Q(price_override_minor__isnull=True) | Q(price_override_minor__gte=0),
                name="service_price_nonnegative",
            ),
            models.CheckConstraint(
                condition=Q(discount_bp__lte=10000), name="service_discount_0_100"
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="service_end_after_start",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in ServiceStatus]),
                name="service_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["customer", "status"])]

    def __str__(self) -> str:
        return self.description or str(self.tariff_id)

    def clean(self) -> None:
        # The domain limits (ispbill/core/money.py), for every entry point's full_clean.
        unit = self.price_override_minor
        if unit is None and self.tariff_id is not None:
            unit = self.tariff.price_minor
        _line_clean(unit_minor=unit or 0, quantity=self.quantity)


class FeeKind(models.TextChoices):
    """The one-time fees an issuer may charge (docs/billing.md "Fees")."""

    UPGRADE = "upgrade", "Upgrade fee"
    DOWNGRADE = "downgrade", "Downgrade fee"
    DISCONNECTION = "disconnection", "Disconnection fee"
    RECONNECTION = "reconnection", "Reconnection fee"
    LATE_PAYMENT = "late_payment", "Late-payment fee"


class OneTimeCharge(models.Model):
    """Installation, equipment: goes on the next invoice, or at once when asked. Fees are
    one-time charges too, with ``fee`` saying which and what they were charged for."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="one_time_charges"
    )
    description = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField(default=1)
    unit_price_minor = models.BigIntegerField(help_text="Minor units")
    tax_rate = models.ForeignKey("catalog.TaxRate", on_delete=models.PROTECT, related_name="+")
    charge_date = models.DateField()
    fee = models.CharField(max_length=16, choices=FeeKind.choices, blank=True)
    service = models.ForeignKey(  # a plan change's or a disconnection's fee
        Service, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    fee_invoice = models.ForeignKey(  # a late-payment fee: the invoice paid late
        "invoicing.Invoice",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="otc_quantity_positive"),
            models.CheckConstraint(
                condition=Q(unit_price_minor__gte=0), name="otc_price_nonnegative"
            ),
            models.CheckConstraint(
                condition=Q(fee="") | Q(fee__in=[k.value for k in FeeKind]),
                name="otc_fee_valid",
            ),
            # Charged once: a service's disconnection, an invoice's late payment.
            models.UniqueConstraint(
                fields=["service"], condition=Q(fee="disconnection"), name="otc_disconnection_once"
            ),
            models.UniqueConstraint(
                fields=["fee_invoice"],
                condition=Q(fee="late_payment"),
                name="otc_late_payment_once",
            ),
        ]

    def clean(self) -> None:
        _line_clean(unit_minor=self.unit_price_minor or 0, quantity=self.quantity)
