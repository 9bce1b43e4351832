"""Tariffs, tax rates and wholesale partner prices."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from ispbill.core.tenancy import PartnerScopedManager


class TaxRate(models.Model):
    """A VAT rate of an issuer, in hundredths of a percent (19 % = 1900)."""

    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="tax_rates"
    )
    name = models.CharField(max_length=100)
    rate_bp = models.PositiveIntegerField(help_text="Hundredths of a percent: 19 % = 1900")
    category = models.CharField(
        max_length=2,
        default="S",
        help_text="EN 16931 VAT category code (S standard, Z zero, E exempt)",
    )
    is_active = models.BooleanField(default=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(rate_bp__lte=10000), name="taxrate_0_100"),
            models.UniqueConstraint(fields=["partner", "name"], name="taxrate_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class TariffKind(models.TextChoices):
    INTERNET = "internet", "Internet"
    RECURRING = "recurring", "Recurring"
    ONE_TIME = "one_time", "One-time"


class Tariff(models.Model):
    """A price list entry. Owned by the operator (home partner) or an own-invoicing partner;
    an operator tariff lists the partners allowed to sell it."""

    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="tariffs", help_text="Owner"
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=TariffKind.choices, default=TariffKind.INTERNET)
    price_minor = models.BigIntegerField(
        help_text="Price per period, minor units, net unless the issuer is tax-inclusive"
    )
    tax_rate = models.ForeignKey(TaxRate, on_delete=models.PROTECT, related_name="tariffs")
    period_months = models.PositiveSmallIntegerField(
        default=1, choices=[(1, "1"), (3, "3"), (6, "6"), (12, "12")]
    )
    download_kbps = models.PositiveIntegerField(null=True, blank=True)
    upload_kbps = models.PositiveIntegerField(null=True, blank=True)
    available_to = models.ManyToManyField(
        "partners.Partner", blank=True, related_name="available_tariffs"
    )
    is_active = models.BooleanField(default=True)
    # Customers may move to it themselves in the portal, where their issuer allows plan
    # changes there (docs/billing.md "Changing plan").
    customer_selectable = models.BooleanField(
        default=False, help_text="Customers may choose it when they change plan in the portal"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(price_minor__gte=0), name="tariff_price_nonnegative"
            ),
            models.CheckConstraint(
                condition=Q(period_months__in=[1, 3, 6, 12]), name="tariff_period_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in TariffKind]), name="tariff_kind_valid"
            ),
            models.UniqueConstraint(fields=["partner", "name"], name="tariff_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class PartnerPrice(models.Model):
    """Wholesale price of a tariff for one partner (aggregated mode, wholesale charges)."""

    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="partner_prices"
    )
    tariff = models.ForeignKey(Tariff, on_delete=models.PROTECT, related_name="partner_prices")
    price_minor = models.BigIntegerField(help_text="Minor units")

    objects = PartnerScopedManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tariff", "partner"], name="partnerprice_unique"),
            models.CheckConstraint(
                condition=Q(price_minor__gte=0), name="partnerprice_nonnegative"
            ),
        ]
