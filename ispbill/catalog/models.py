"""Tariffs, tax rates and wholesale partner prices."""

from __future__ import annotations

from django.core.exceptions import ValidationError
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


class CapAction(models.TextChoices):
    NONE = "", "Nothing (only overage, if priced)"
    THROTTLE = "throttle", "Throttle to the reduced speeds"
    BLOCK = "block", "Block until the next month"


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
    # Usage rule (docs/usage.md): volume included per calendar month, what happens when it
    # is used up, and the price of every started GB over it.
    included_gb = models.PositiveIntegerField(
        null=True, blank=True, help_text="Volume included per month, GB (10^9 bytes)"
    )
    cap_action = models.CharField(
        max_length=8, choices=CapAction.choices, blank=True, default=CapAction.NONE
    )
    throttle_download_kbps = models.PositiveIntegerField(null=True, blank=True)
    throttle_upload_kbps = models.PositiveIntegerField(null=True, blank=True)
    overage_price_minor = models.BigIntegerField(
        null=True, blank=True, help_text="Price per started GB over the included volume"
    )
    # Top-up pack (docs/usage.md): extra volume for the current month, bought as a
    # one-time charge by the customer (portal), the operator or the partner.
    topup_gb = models.PositiveIntegerField(
        null=True, blank=True, help_text="Volume of one top-up pack, GB"
    )
    topup_price_minor = models.BigIntegerField(
        null=True, blank=True, help_text="Price of one top-up pack, net"
    )
    # Alert e-mails at these percentages of the month's allowance, e.g. "80,100".
    usage_alerts = models.CharField(
        max_length=40,
        blank=True,
        default="80,100",
        help_text="Percentages of the allowance, comma-separated; empty: no alerts",
    )
    rollover = models.BooleanField(
        default=False,
        help_text="Unused included volume carries to the next month (one month, at most "
        "the included volume)",
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
                condition=Q(overage_price_minor__isnull=True) | Q(overage_price_minor__gte=0),
                name="tariff_overage_nonnegative",
            ),
            models.CheckConstraint(
                condition=Q(topup_price_minor__isnull=True) | Q(topup_price_minor__gte=0),
                name="tariff_topup_nonnegative",
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

    def clean(self) -> None:
        if self.cap_action and not self.included_gb:
            raise ValidationError({"included_gb": "A cap action needs an included volume."})
        if self.cap_action == CapAction.THROTTLE and not (
            self.throttle_download_kbps and self.throttle_upload_kbps
        ):
            raise ValidationError(
                {"throttle_download_kbps": "Throttling needs the reduced download and upload."}
            )
        if self.overage_price_minor is not None and not self.included_gb:
            raise ValidationError({"included_gb": "Overage needs an included volume."})
        if (self.topup_gb is None) != (self.topup_price_minor is None):
            raise ValidationError(
                {"topup_gb": "A top-up pack needs both its volume and its price."}
            )
        if self.topup_gb is not None and (not self.included_gb or self.topup_gb < 1):
            raise ValidationError(
                {"topup_gb": "A top-up pack needs an included volume and at least 1 GB."}
            )
        if self.rollover and not self.included_gb:
            raise ValidationError({"rollover": "Rollover needs an included volume."})
        try:
            self.usage_alerts = ",".join(str(p) for p in alert_percents(self.usage_alerts))
        except ValueError as exc:
            raise ValidationError({"usage_alerts": str(exc)}) from exc


def alert_percents(text: str) -> list[int]:
    """ "80, 100" → [80, 100] (sorted, once each); each from 1 to 1000."""
    out: set[int] = set()
    for part in (text or "").replace(" ", "").split(","):
        if not part:
            continue
        if not part.isdigit() or not 1 <= int(part) <= 1000:
            raise ValueError(f"{part!r} is not a percentage from 1 to 1000; write e.g. 80,100.")
        out.add(int(part))
    if len(out) > 10:
        raise ValueError("At most 10 alert thresholds.")
    return sorted(out)


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
