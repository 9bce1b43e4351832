"""SEPA direct debit: creditor settings per issuer, mandates, pre-notifications, collection
batches and their returns (docs/payments.md).

Tenancy: settings and batches belong to the issuer (the partner that collects); mandates,
notices, debits and returns to the customer's partner, like the customer's invoices."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from ispbill.core.tenancy import PartnerScopedManager


class SequenceType(models.TextChoices):
    FRST = "FRST", "First"
    RCUR = "RCUR", "Recurring"
    FNAL = "FNAL", "Final"


class CreditorSettings(models.Model):
    """How one issuer collects by SEPA direct debit (Core): the home partner for its direct,
    percentage and partner-account customers, an own-invoicing partner for its own customers
    into its own account under its own creditor identifier."""

    partner = models.OneToOneField(
        "partners.Partner",
        on_delete=models.PROTECT,
        related_name="sepa_creditor",
        help_text="The issuer that collects",
    )
    enabled = models.BooleanField(default=True)
    creditor_id = models.CharField(max_length=35, help_text="SEPA creditor identifier (AT-02)")
    creditor_name = models.CharField(max_length=70)
    iban = models.CharField(max_length=34, help_text="The account collected into")
    bic = models.CharField(max_length=11, blank=True)
    notice_days = models.PositiveSmallIntegerField(
        default=14, help_text="Days from the invoice (the pre-notification) to the collection"
    )
    return_fee_minor = models.BigIntegerField(
        default=0, help_text="Minor units charged for a returned debit; 0: none"
    )
    return_fee_tax_rate = models.ForeignKey(
        "catalog.TaxRate", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    mandate_text = models.TextField(
        blank=True, help_text="Extra terms shown with the mandate text in the portal"
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = PartnerScopedManager()

    class Meta:
        verbose_name_plural = "creditor settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(return_fee_minor__gte=0), name="creditor_return_fee_nonnegative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.creditor_name} ({self.creditor_id})"


class MandateStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"
    COMPLETED = "completed", "Completed (final collection done)"


class MandateSource(models.TextChoices):
    STAFF = "staff", "Entered by staff"
    IMPORT = "import", "Imported"
    PORTAL = "portal", "Signed in the portal"
    API = "api", "API"


class Mandate(models.Model):
    """A customer's SEPA Core mandate for one creditor. Account details never change: a new
    account is a new mandate. ``sequence`` is the type of its next collection."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="sepa_mandates"
    )
    creditor = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The issuer that collects under it",
    )
    reference = models.CharField(max_length=35)
    signature_date = models.DateField()
    debtor_name = models.CharField(max_length=70)
    iban = models.CharField(max_length=34)
    bic = models.CharField(max_length=11, blank=True)
    status = models.CharField(
        max_length=10, choices=MandateStatus.choices, default=MandateStatus.ACTIVE
    )
    sequence = models.CharField(
        max_length=4, choices=SequenceType.choices, default=SequenceType.FRST
    )
    last_collection_date = models.DateField(null=True, blank=True)
    ended_on = models.DateField(null=True, blank=True)
    end_reason = models.CharField(max_length=200, blank=True)
    source = models.CharField(
        max_length=10, choices=MandateSource.choices, default=MandateSource.STAFF
    )
    # The mandate text as shown and confirmed (portal), with the creditor named in it.
    signed_text = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["creditor", "reference"], name="mandate_reference_unique_per_creditor"
            ),
            models.UniqueConstraint(
                fields=["customer", "creditor"],
                condition=Q(status="active"),
                name="mandate_one_active_per_customer",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in MandateStatus]),
                name="mandate_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(sequence__in=[s.value for s in SequenceType]),
                name="mandate_sequence_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.reference


class DebitNotice(models.Model):
    """The pre-notification printed on an invoice issued while its customer had an active
    mandate: the invoice's amount due is collected on ``collection_date`` under this mandate.
    Written with the invoice and, like it, never changed."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    invoice = models.OneToOneField(
        "invoicing.Invoice", on_delete=models.PROTECT, related_name="debit_notice"
    )
    mandate = models.ForeignKey(Mandate, on_delete=models.PROTECT, related_name="notices")
    creditor_id = models.CharField(max_length=35)
    mandate_reference = models.CharField(max_length=35)
    iban_masked = models.CharField(max_length=50)
    collection_date = models.DateField()

    objects = PartnerScopedManager()

    class Meta:
        indexes = [models.Index(fields=["customer", "collection_date"])]


class CollectionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted to the bank"
    COLLECTED = "collected", "Collected"


class Collection(models.Model):
    """A batch of direct debits of one issuer for one collection date: one pain.008 file,
    kept as generated."""

    partner = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The issuer that collects",
    )
    collection_date = models.DateField()
    status = models.CharField(
        max_length=10, choices=CollectionStatus.choices, default=CollectionStatus.DRAFT
    )
    message_id = models.CharField(max_length=35, unique=True)
    currency = models.CharField(max_length=3)
    count = models.PositiveIntegerField(default=0)
    total_minor = models.BigIntegerField(default=0, help_text="Minor units; sum of its debits")
    creditor_id = models.CharField(max_length=35)
    creditor_name = models.CharField(max_length=70)
    iban = models.CharField(max_length=34)
    bic = models.CharField(max_length=11, blank=True)
    xml = models.TextField(help_text="The pain.008.001.02 file, as generated")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    collected_at = models.DateTimeField(null=True, blank=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["-collection_date", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in CollectionStatus]),
                name="collection_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.message_id


class DebitStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    COLLECTED = "collected", "Collected"
    REJECTED = "rejected", "Rejected before settlement"
    RETURNED = "returned", "Returned"


class Debit(models.Model):
    """One direct debit of a batch: the open invoices of one mandate, one transaction."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="debits")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="sepa_debits"
    )
    mandate = models.ForeignKey(Mandate, on_delete=models.PROTECT, related_name="debits")
    sequence = models.CharField(max_length=4, choices=SequenceType.choices)
    end_to_end_id = models.CharField(max_length=35, unique=True)
    amount_minor = models.BigIntegerField(help_text="Minor units, > 0")
    currency = models.CharField(max_length=3)
    remittance = models.CharField(max_length=140)
    status = models.CharField(
        max_length=10, choices=DebitStatus.choices, default=DebitStatus.PENDING
    )
    payment = models.OneToOneField(
        "payments.Payment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sepa_debit",
    )

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="debit_amount_positive"),
        ]


class DebitInvoice(models.Model):
    """An invoice collected by a debit. Unique per invoice: an invoice is collected by direct
    debit at most once, whatever the code does."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    debit = models.ForeignKey(Debit, on_delete=models.CASCADE, related_name="invoices")
    invoice = models.OneToOneField(
        "invoicing.Invoice", on_delete=models.PROTECT, related_name="sepa_debit"
    )
    amount_minor = models.BigIntegerField(help_text="Minor units: the invoice's open amount")

    objects = PartnerScopedManager()


class ReturnSource(models.TextChoices):
    CAMT054 = "camt.054", "camt.054 notification"
    CAMT053 = "camt.053", "camt.053 statement"
    PAIN002 = "pain.002", "pain.002 status report"
    MANUAL = "manual", "Entered by hand"


class DebitReturn(models.Model):
    """An R-transaction: a debit rejected before settlement or returned after it. The
    payment booked for it is reversed on ``booking_date``; one per debit."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="sepa_returns"
    )
    debit = models.OneToOneField(Debit, on_delete=models.PROTECT, related_name="sepa_return")
    reason_code = models.CharField(max_length=4)
    reason = models.CharField(max_length=200, blank=True)
    booking_date = models.DateField()
    amount_minor = models.BigIntegerField(help_text="Minor units, the debit's amount")
    bank_reference = models.CharField(max_length=140, blank=True)
    source = models.CharField(max_length=10, choices=ReturnSource.choices)
    refund = models.OneToOneField(
        "payments.Refund", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    fee_charge = models.OneToOneField(
        "subscriptions.OneTimeCharge",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    mandate_ended = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["-booking_date", "-id"]
