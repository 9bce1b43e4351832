"""The queue of bank statement lines no customer could be found for."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from ispbill.core.tenancy import PartnerScopedManager


class UnmatchedReason(models.TextChoices):
    NO_MATCH = "no_match", "No invoice number or customer reference found"
    AMBIGUOUS = "ambiguous", "Matches more than one customer"
    FOREIGN_CURRENCY = "foreign_currency", "Not in the account's currency"
    REFUSED = "refused", "The payment could not be recorded"


class UnmatchedStatus(models.TextChoices):
    OPEN = "open", "Open"
    ASSIGNED = "assigned", "Assigned"


class UnmatchedBankLine(models.Model):
    """A credit line of a bank statement waiting to be assigned to a customer by hand.

    Its ``partner`` is the issuer whose bank account received the money (the home partner,
    or an own-invoicing partner). A line is queued once per (partner, method, reference), so
    importing the same statement twice queues nothing new. Never deleted: an assigned line
    keeps a link to the payment it became."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    method = models.CharField(max_length=20, default="bank_transfer")
    reference = models.CharField(max_length=140, help_text="Bank reference of the line")
    booking_date = models.DateField()
    amount_minor = models.BigIntegerField(help_text="Minor units of ``currency``, > 0")
    currency = models.CharField(max_length=3)
    counterparty = models.CharField(max_length=200, blank=True)
    counterparty_iban = models.CharField(max_length=34, blank=True)
    remittance = models.CharField(max_length=500, blank=True)
    reason = models.CharField(max_length=20, choices=UnmatchedReason.choices)
    detail = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=200, blank=True, help_text="File it came from")
    status = models.CharField(
        max_length=10, choices=UnmatchedStatus.choices, default=UnmatchedStatus.OPEN
    )
    payment = models.ForeignKey(
        "payments.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    assigned_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["-booking_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "method", "reference"], name="unmatched_line_once"
            ),
            models.CheckConstraint(
                condition=Q(amount_minor__gt=0), name="unmatched_line_amount_positive"
            ),
        ]
        indexes = [models.Index(fields=["partner", "status"])]

    def __str__(self) -> str:
        return f"{self.booking_date} {self.reference}"


class DatevChart(models.TextChoices):
    SKR03 = "03", "SKR 03"
    SKR04 = "04", "SKR 04"


class DebitorNumbering(models.TextChoices):
    REFERENCE = "reference", "Start + customer number (numeric customer numbers)"
    ID = "id", "Start + internal customer id"
    SINGLE = "single", "One collective debitor account (the start number)"


class DatevSettings(models.Model):
    """How one issuer's books go to DATEV (docs/data-import-export.md, "DATEV"): the
    operator's (the home partner) or an own-invoicing partner's. Accounts left empty take
    the chart's default."""

    partner = models.OneToOneField(
        "partners.Partner",
        on_delete=models.PROTECT,
        related_name="datev_settings",
        help_text="The issuer whose books these are",
    )
    consultant_number = models.PositiveIntegerField(
        default=1001, help_text="Beraternummer (1001–9999999)"
    )
    client_number = models.PositiveIntegerField(default=1, help_text="Mandantennummer (1–99999)")
    fiscal_year_start_month = models.PositiveSmallIntegerField(
        default=1, help_text="Month the fiscal year (Wirtschaftsjahr) begins"
    )
    account_length = models.PositiveSmallIntegerField(
        default=4, help_text="Sachkontenlänge (4–8); debitors have one digit more"
    )
    chart = models.CharField(max_length=2, choices=DatevChart.choices, default=DatevChart.SKR03)
    automatic_accounts = models.BooleanField(
        default=True,
        help_text="The revenue accounts are DATEV automatic accounts (no BU key); off: the "
        "BU key of the rate is written with each revenue booking",
    )
    revenue_account_standard = models.PositiveIntegerField(null=True, blank=True)
    revenue_account_reduced = models.PositiveIntegerField(null=True, blank=True)
    revenue_account_eu = models.PositiveIntegerField(null=True, blank=True)
    revenue_account_exempt = models.PositiveIntegerField(null=True, blank=True)
    bank_account = models.PositiveIntegerField(null=True, blank=True)
    cash_account = models.PositiveIntegerField(null=True, blank=True)
    transit_account = models.PositiveIntegerField(null=True, blank=True)
    debitor_numbering = models.CharField(
        max_length=10, choices=DebitorNumbering.choices, default=DebitorNumbering.ID
    )
    debitor_start = models.PositiveIntegerField(default=10000)
    label = models.CharField(
        max_length=30, blank=True, help_text="Bezeichnung of the batch; empty: ispbill and month"
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = PartnerScopedManager()

    def __str__(self) -> str:
        return f"DATEV settings of partner {self.partner_id}"
