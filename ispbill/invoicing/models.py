"""Invoices, credit notes, their lines and tax groups, and number sequences.

Issued documents are immutable: only an invoice's payment status fields and notes change
after issue (enforced in ``save``); corrections are credit notes."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from ispbill.core.tenancy import PartnerScopedManager


class ImmutableDocumentError(Exception):
    """An attempt to change an issued document."""


class DocumentType(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    CREDIT_NOTE = "credit_note", "Credit note"
    RECEIPT = "receipt", "Receipt"
    SELF_BILLING = "self_billing", "Self-billing credit note (commission)"


class NumberSequence(models.Model):
    """The counter of one issuer's documents of one type (per year when the pattern has
    {year}). Locked and advanced inside the issuing transaction: numbers are gapless."""

    issuer = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    doc_type = models.CharField(max_length=20, choices=DocumentType.choices)
    period_key = models.CharField(max_length=10, blank=True)
    next_value = models.PositiveBigIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "doc_type", "period_key"], name="sequence_unique"
            ),
            models.CheckConstraint(condition=Q(next_value__gte=1), name="sequence_positive"),
        ]


class InvoiceKind(models.TextChoices):
    RECURRING = "recurring", "Recurring"
    ONE_OFF = "one_off", "Issued at once"
    AGGREGATED = "aggregated", "Aggregated (partner)"
    WHOLESALE = "wholesale", "Wholesale (partner)"


# Invoices to a partner's account for its customers' services: the operator's aggregated
# invoice and its wholesale invoice to an own-invoicing partner. Their lines carry the
# sub-customer (``InvoiceLine.section_customer``); they print a section per sub-customer, a
# summary above AGGREGATED_DETAIL_MAX_LINES lines, and have a line detail CSV
# (docs/documents.md, "Summary of a large aggregated invoice": wholesale invoices alike).
SECTIONED_KINDS = frozenset({InvoiceKind.AGGREGATED, InvoiceKind.WHOLESALE})


class InvoiceStatus(models.TextChoices):
    UNPAID = "unpaid", "Unpaid"
    PARTIALLY_PAID = "partially_paid", "Partially paid"
    PAID = "paid", "Paid"
    CREDITED = "credited", "Credited"


def invoice_status_for(*, total: int, allocated: int, credited: int) -> str:
    """An invoice's status from its total and what was allocated to it and credited."""
    if credited >= total:
        return InvoiceStatus.CREDITED
    if allocated + credited >= total:
        return InvoiceStatus.PAID
    if allocated > 0:
        return InvoiceStatus.PARTIALLY_PAID
    return InvoiceStatus.UNPAID


MUTABLE_INVOICE_FIELDS = frozenset(
    {"status", "allocated_minor", "credited_minor", "notes", "paid_at", "pdf", "pdf_error"}
)


class Invoice(models.Model):
    """Never modified after issue except the fields in MUTABLE_INVOICE_FIELDS."""

    # Partner and billing-run references carry no database constraint (checked by
    # ``ispbill check``; see ispbill/billing/models.py Charge), and no single-column index
    # where a composite one starts with the column (partner: the list indexes; issuer: the
    # number's uniqueness).
    partner = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Tenant: the account's partner",
        db_constraint=False,
        db_index=False,
    )
    issuer = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        related_name="issued_invoices",
        db_constraint=False,
        db_index=False,
    )
    customer = models.ForeignKey(  # see ispbill/billing/models.py Charge
        "customers.Customer",
        on_delete=models.PROTECT,
        related_name="invoices",
        db_index=False,  # the (customer, status, due date) index starts with it
        db_constraint=False,
    )
    kind = models.CharField(
        max_length=12, choices=InvoiceKind.choices, default=InvoiceKind.RECURRING
    )
    number = models.CharField(max_length=64)
    billing_date = models.DateField(null=True, blank=True)
    billing_run = models.ForeignKey(
        "billing.BillingRun",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoices",
        db_constraint=False,
    )
    issue_date = models.DateField()
    due_date = models.DateField()
    currency = models.CharField(max_length=3)
    prices_include_tax = models.BooleanField(default=False)
    net_minor = models.BigIntegerField(help_text="Minor units")
    tax_minor = models.BigIntegerField(help_text="Minor units")
    total_minor = models.BigIntegerField(help_text="Minor units")
    # Payment state: the only columns that change after issue.
    allocated_minor = models.BigIntegerField(default=0, help_text="Payments allocated, minor units")
    credited_minor = models.BigIntegerField(default=0, help_text="Credit notes, minor units")
    status = models.CharField(
        max_length=16, choices=InvoiceStatus.choices, default=InvoiceStatus.UNPAID
    )
    paid_at = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    pdf = models.CharField(
        max_length=300, blank=True, help_text="Stored PDF path, rendered once at issue"
    )
    # Why the stored PDF is not the issuer's template's, or why there is none yet
    # (docs/documents.md, "Limits"); empty when the issuer's template rendered it.
    pdf_error = models.CharField(max_length=1000, blank=True)
    # Snapshot of issuer and recipient as printed (documents never follow later edits).
    issuer_snapshot = models.JSONField(default=dict)
    customer_snapshot = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["-issue_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["issuer", "number"], name="invoice_number_unique"),
            models.UniqueConstraint(
                fields=["customer", "billing_date", "kind"],
                condition=Q(kind__in=["recurring", "aggregated", "wholesale"]),
                name="invoice_once_per_billing_date",
            ),
            models.CheckConstraint(condition=Q(total_minor__gt=0), name="invoice_total_positive"),
            models.CheckConstraint(
                condition=Q(allocated_minor__gte=0, credited_minor__gte=0),
                name="invoice_paid_nonnegative",
            ),
            models.CheckConstraint(
                condition=Q(
                    total_minor__gte=models.F("allocated_minor") + models.F("credited_minor")
                ),
                name="invoice_not_overpaid",
            ),
        ]
        indexes = [
            # Lists, newest first (docs/performance.md, "Reads at 1,000,000 invoices"): a
            # partner's invoices, optionally of one status, read in index order and stopped
            # after one page; ``id`` breaks the tie among one billing date's invoices.
            models.Index(fields=["partner", "-issue_date", "-id"], name="invoice_partner_issued"),
            models.Index(
                fields=["partner", "status", "-issue_date", "-id"], name="invoice_partner_status"
            ),
            models.Index(fields=["customer", "status", "due_date"]),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def open_minor(self) -> int:
        return self.total_minor - self.allocated_minor - self.credited_minor

    @property
    def has_sections(self) -> bool:
        """An invoice to a partner's account: sections per sub-customer and a line detail
        CSV (``SECTIONED_KINDS``)."""
        return self.kind in SECTIONED_KINDS

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            update_fields = kwargs.get("update_fields")
            if update_fields is None or not set(update_fields) <= MUTABLE_INVOICE_FIELDS:
                raise ImmutableDocumentError(
                    f"Invoice {self.number} is issued and cannot be changed; issue a credit note."
                )
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ImmutableDocumentError(f"Invoice {self.number} is issued and cannot be deleted.")


class InvoiceLine(models.Model):
    """A copy of a charge as printed; never modified."""

    # (invoice, position) is unique: that index serves the invoice's lines. No database
    # constraint: invoices are never deleted (see ispbill/billing/models.py Charge).
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="lines", db_index=False, db_constraint=False
    )
    position = models.PositiveIntegerField()
    # The sub-customer's title and record on an aggregated or wholesale invoice
    # (SECTIONED_KINDS); empty on other invoices.
    section = models.CharField(
        max_length=200, blank=True, help_text="Sub-customer on an aggregated invoice"
    )
    section_customer = models.ForeignKey(  # indexed only where set (Meta)
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    tariff = models.ForeignKey(
        "catalog.Tariff",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )
    description = models.CharField(max_length=300)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    unit_price_minor = models.BigIntegerField(help_text="Minor units")
    amount_minor = models.BigIntegerField(
        help_text="Minor units; net, or gross for tax-inclusive issuers"
    )
    # The charge's explanation of an amount that is not quantity x unit price (proration,
    # discount), as billing/rating.py charge_adjustment writes it; printed in the document's
    # language ("12/30 days", "discount 10 %").
    adjustment = models.JSONField(default=dict, blank=True)
    tax_rate_bp = models.PositiveIntegerField()
    tax_category = models.CharField(max_length=2, default="S")

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "position"], name="invoiceline_position_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=["section_customer"],
                condition=models.Q(section_customer__isnull=False),
                name="line_section_customer_idx",
            )
        ]


class InvoiceTax(models.Model):
    """VAT of one rate over the whole document (EN 16931 BR-CO-17)."""

    # (invoice, rate, category) is unique and serves it; invoices are never deleted.
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="taxes", db_index=False, db_constraint=False
    )
    rate_bp = models.PositiveIntegerField()
    category = models.CharField(max_length=2, default="S")
    net_minor = models.BigIntegerField()
    tax_minor = models.BigIntegerField()

    class Meta:
        ordering = ["invoice", "rate_bp"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "rate_bp", "category"], name="invoicetax_unique"
            )
        ]


class CreditNote(models.Model):
    """A correction of an invoice, totally or partly. Immutable once issued."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    issuer = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="credit_notes"
    )
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    number = models.CharField(max_length=64)
    issue_date = models.DateField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=300)
    net_minor = models.BigIntegerField(help_text="Minor units, positive")
    tax_minor = models.BigIntegerField(help_text="Minor units, positive")
    total_minor = models.BigIntegerField(help_text="Minor units, positive")
    pdf = models.CharField(max_length=300, blank=True)
    pdf_error = models.CharField(max_length=1000, blank=True)  # as on Invoice
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["-issue_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["issuer", "number"], name="creditnote_number_unique"),
            models.CheckConstraint(
                condition=Q(total_minor__gt=0), name="creditnote_total_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def save(self, *args: Any, **kwargs: Any) -> None:
        if (
            self.pk is not None
            and not self._state.adding
            and set(kwargs.get("update_fields") or ["*"]) - {"pdf", "pdf_error"}
        ):
            raise ImmutableDocumentError(
                f"Credit note {self.number} is issued and cannot be changed."
            )
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ImmutableDocumentError(f"Credit note {self.number} is issued and cannot be deleted.")


class CreditNoteLine(models.Model):
    credit_note = models.ForeignKey(CreditNote, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveIntegerField()
    invoice_line = models.ForeignKey(
        InvoiceLine, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    description = models.CharField(max_length=300)
    amount_minor = models.BigIntegerField(
        help_text="Minor units, positive; net or gross as the invoice"
    )
    tax_rate_bp = models.PositiveIntegerField()
    tax_category = models.CharField(max_length=2, default="S")

    class Meta:
        ordering = ["credit_note", "position"]


class CreditNoteTax(models.Model):
    credit_note = models.ForeignKey(CreditNote, on_delete=models.PROTECT, related_name="taxes")
    rate_bp = models.PositiveIntegerField()
    category = models.CharField(max_length=2, default="S")
    net_minor = models.BigIntegerField()
    tax_minor = models.BigIntegerField()


class TemplateType(models.TextChoices):
    """Documents and emails an issuer can design."""

    INVOICE = "invoice", "Invoice"
    CREDIT_NOTE = "credit_note", "Credit note"
    AGGREGATED_INVOICE = "aggregated_invoice", "Aggregated invoice"
    RECEIPT = "receipt", "Payment receipt"
    COMMISSION_STATEMENT = "commission_statement", "Commission statement"
    CUSTOMER_STATEMENT = "customer_statement", "Customer statement"
    EMAIL_INVOICE = "email_invoice", "Invoice email"
    EMAIL_REMINDER = "email_reminder", "Reminder email"


EMAIL_TEMPLATE_TYPES = frozenset({TemplateType.EMAIL_INVOICE, TemplateType.EMAIL_REMINDER})


class DocumentTemplate(models.Model):
    """One saved version of an issuer's template (Typst for PDFs, Jinja2 for emails).

    Saving writes a new row and makes it the only active one of its (issuer, type); older
    rows stay as history. Stored PDFs never follow a later change: they are files."""

    partner = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The issuer whose documents use the template",
    )
    document_type = models.CharField(max_length=24, choices=TemplateType.choices)
    source = models.TextField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=200, blank=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["partner", "document_type", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "document_type"],
                condition=Q(is_active=True),
                name="documenttemplate_one_active",
            )
        ]

    def __str__(self) -> str:
        return f"{self.document_type} template of partner {self.partner_id}"


class IssuerAsset(models.Model):
    """A file a partner's templates may use (logo, font, Typst part), by its flat name."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=100)
    content = models.BinaryField()
    content_type = models.CharField(max_length=100)
    uploaded_at = models.DateTimeField(auto_now=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["partner", "name"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "name"], name="issuerasset_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class EmailKind(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    REMINDER = "reminder", "Reminder"
    OTHER = "other", "Other"


class EmailStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class EmailDelivery(models.Model):
    """One email to send, and the log of sending it. Recorded in the transaction that decides
    to send; sent after commit by a task that locks the row, so the unique idempotency key
    makes a message (an explicit send, a reminder step) go out at most once. Subject, body
    and sender are kept as rendered: a retry sends the same message."""

    partner = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Tenant: the customer's partner, as on the invoice",
    )
    issuer = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="email_deliveries",
    )
    kind = models.CharField(max_length=10, choices=EmailKind.choices)
    invoice = models.ForeignKey(
        Invoice,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="email_deliveries",
        help_text="Invoice and reminder emails: the invoice (its PDF is attached to the former)",
    )
    idempotency_key = models.CharField(max_length=400, unique=True)
    to = models.EmailField(max_length=254)
    from_email = models.CharField(max_length=300, help_text='"Sender name <address>"')
    reply_to = models.CharField(max_length=254, blank=True, help_text="Reply-To; empty: none")
    subject = models.CharField(max_length=998)
    body = models.TextField()
    message_id = models.CharField(max_length=300, help_text="Message-ID header, kept on retries")
    status = models.CharField(
        max_length=10, choices=EmailStatus.choices, default=EmailStatus.QUEUED
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "email deliveries"
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="emaildelivery_sent_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["partner", "-created_at"]),
            models.Index(fields=["status", "created_at"]),
            # The operator's E-mails page, newest first: a billing run e-mails every invoice.
            models.Index(fields=["-created_at", "-id"], name="emaildelivery_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} email to {self.to} ({self.status})"
