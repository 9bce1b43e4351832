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
