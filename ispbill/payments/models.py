"""Payments, their allocations to invoices, and refunds."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from ispbill.core.tenancy import PartnerScopedManager


class PaymentMethod(models.TextChoices):
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    DIRECT_DEBIT = "direct_debit", "Direct debit"
    CASH = "cash", "Cash"
    CARD = "card", "Card"
    OTHER = "other", "Other"


class Payment(models.Model):
    """Money received on a billing account. A bank reference is unique per method, so a
    statement imported twice adds nothing."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    issuer = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="payments"
    )
    amount_minor = models.BigIntegerField(help_text="Minor units, > 0")
    allocated_minor = models.BigIntegerField(
        default=0, help_text="Minor units allocated to invoices"
    )
    refunded_minor = models.BigIntegerField(default=0, help_text="Minor units refunded")
    currency = models.CharField(max_length=3)
    date = models.DateField()
    method = models.CharField(
        max_length=20, choices=PaymentMethod.choices, default=PaymentMethod.BANK_TRANSFER
    )
    reference = models.CharField(max_length=140, blank=True)
    # The receipt's number, from the issuer's gapless receipt series, drawn when the payment
    # is recorded; never changed. ``reference`` is the payer's free text (bank reference).
    receipt_number = models.CharField(max_length=64, blank=True)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["-date", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(
                    amount_minor__gte=models.F("allocated_minor") + models.F("refunded_minor")
                )
                & Q(allocated_minor__gte=0, refunded_minor__gte=0),
                name="payment_not_overused",
            ),
            models.UniqueConstraint(
                fields=["issuer", "method", "reference"],
                condition=~Q(reference=""),
                name="payment_reference_unique",
            ),
            models.UniqueConstraint(
                fields=["issuer", "receipt_number"],
                condition=~Q(receipt_number=""),
                name="payment_receipt_number_unique",
            ),
        ]
        indexes = [models.Index(fields=["customer", "date"])]

    @property
    def unallocated_minor(self) -> int:
        return self.amount_minor - self.allocated_minor - self.refunded_minor


class Allocation(models.Model):
    """Part of a payment applied to an invoice. Negative rows undo an allocation (a credit
    note on a paid invoice frees the money as credit); rows are never edited."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="allocations")
    invoice = models.ForeignKey(
        "invoicing.Invoice", on_delete=models.PROTECT, related_name="allocations"
    )
    amount_minor = models.BigIntegerField(help_text="Minor units")
    date = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["id"]


class Refund(models.Model):
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount_minor = models.BigIntegerField(help_text="Minor units, > 0")
    date = models.DateField()
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="refund_amount_positive")
        ]
