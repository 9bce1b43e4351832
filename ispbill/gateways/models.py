"""Gateway credentials per issuer, payment sessions, processed webhook events and autopay.

Tenancy: settings belong to the issuer; sessions, autopay and attempts to the customer's
partner, like the customer's invoices and payments."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from ispbill.core.tenancy import PartnerScopedManager


class Provider(models.TextChoices):
    STRIPE = "stripe", "Stripe"


class GatewaySettings(models.Model):
    """One issuer's account with a gateway: money paid on its invoices goes there. The
    secrets are stored encrypted (``gateways.secrets``) and are never shown again: only
    their last four characters are kept in the clear, as a hint."""

    partner = models.OneToOneField(
        "partners.Partner", on_delete=models.PROTECT, related_name="gateway_settings"
    )
    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.STRIPE)
    enabled = models.BooleanField(default=True)
    publishable_key = models.CharField(max_length=255, blank=True)
    secret_key_encrypted = models.TextField(blank=True)
    secret_key_hint = models.CharField(max_length=4, blank=True)
    webhook_secret_encrypted = models.TextField(blank=True)
    webhook_secret_hint = models.CharField(max_length=4, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PartnerScopedManager()

    class Meta:
        verbose_name_plural = "gateway settings"

    def __str__(self) -> str:
        return f"{self.get_provider_display()} for partner {self.partner_id}"

    @property
    def ready(self) -> bool:
        return bool(self.enabled and self.secret_key_encrypted and self.webhook_secret_encrypted)


class SessionKind(models.TextChoices):
    PAYMENT = "payment", "Payment"
    SETUP = "setup", "Save a card for autopay"


class SessionStatus(models.TextChoices):
    OPEN = "open", "Waiting for the customer"
    PAID = "paid", "Paid"
    COMPLETE = "complete", "Card saved"
    EXPIRED = "expired", "Expired"


class PaymentSession(models.Model):
    """A checkout at the gateway for an amount on some invoices of one customer, created
    with the key of the invoices' issuer."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    issuer = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="payment_sessions"
    )
    kind = models.CharField(max_length=10, choices=SessionKind.choices, default="payment")
    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.STRIPE)
    provider_id = models.CharField(max_length=255, unique=True)
    url = models.CharField(max_length=2000)
    amount_minor = models.BigIntegerField(default=0, help_text="Minor units; 0 for a setup")
    currency = models.CharField(max_length=3)
    invoice_ids = models.JSONField(default=list, help_text="The invoices it pays, by id")
    status = models.CharField(max_length=10, choices=SessionStatus.choices, default="open")
    payment = models.ForeignKey(
        "payments.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_minor__gte=0), name="payment_session_amount_nonnegative"
            )
        ]


class WebhookEvent(models.Model):
    """A gateway event processed: the unique event id makes a delivery repeated by the
    gateway a no-op (the row is written in the transaction that books the payment)."""

    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="+", help_text="The issuer"
    )
    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.STRIPE)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=100)
    outcome = models.CharField(max_length=200, blank=True)
    processed_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["-processed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="gateway_event_once")
        ]


class Autopay(models.Model):
    """A customer's consent to be charged on the due date with a card saved at the issuer's
    gateway (off-session)."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    issuer = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.PROTECT, related_name="autopay"
    )
    enabled = models.BooleanField(default=False)
    provider_customer_id = models.CharField(max_length=255, blank=True)
    payment_method_id = models.CharField(max_length=255, blank=True)
    card_brand = models.CharField(max_length=30, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PartnerScopedManager()

    @property
    def active(self) -> bool:
        return bool(self.enabled and self.payment_method_id)


class AttemptStatus(models.TextChoices):
    SUCCEEDED = "succeeded", "Paid"
    FAILED = "failed", "Failed"


class AutopayAttempt(models.Model):
    """One off-session charge of a due invoice; failures are kept and shown to staff and
    to the customer, and the invoice is not tried again on its own (dunning follows)."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="autopay_attempts"
    )
    invoice = models.ForeignKey(
        "invoicing.Invoice", on_delete=models.PROTECT, related_name="autopay_attempts"
    )
    date = models.DateField()
    amount_minor = models.BigIntegerField(help_text="Minor units")
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10, choices=AttemptStatus.choices)
    provider_id = models.CharField(max_length=255, blank=True)
    error = models.CharField(max_length=500, blank=True)
    payment = models.ForeignKey(
        "payments.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["-date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["invoice"], name="autopay_attempt_once_per_invoice")
        ]
