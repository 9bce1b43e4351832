"""Charges (what a service costs for one period) and billing runs."""

from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce

from ispbill.core.bulk import column_set, plain_rows, tuples_insert
from ispbill.core.tenancy import PartnerScopedManager


class ChargeKind(models.TextChoices):
    RETAIL = "retail", "Retail (billed to the customer or held for its partner's invoice)"
    WHOLESALE = "wholesale", "Wholesale (billed to an own-invoicing partner's account)"


class Charge(models.Model):
    """One service for one period, or one one-time charge. Rated once, never changed.

    ``customer`` is the customer the service belongs to; ``account`` is who is invoiced for it
    (the customer itself, or its partner's account in aggregated mode). The unique constraint
    on (service, kind, period_start) is what makes billing exactly-once."""

    # References from the high-volume tables (charges, invoices and their lines and tax groups,
    # postings, commission accruals) carry no foreign-key constraint: PostgreSQL checks those
    # row by row, which cost a third of the billing run; every chunk took a share lock on the
    # same few partner rows, and each new invoice and entry was locked again by its own lines
    # and postings. Instead: Django protects the referenced rows from deletion (PROTECT); on
    # both databases a trigger refuses to delete an invoice or a journal entry, and a partner,
    # tariff, billing run, customer, service or one-time charge while anything refers to it
    # (core/guards.py); the writers
    # refer only to rows they read in the same transaction; and ``ispbill check`` verifies
    # every such reference (``data.references``; docs/performance.md).
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    issuer = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="charges", db_constraint=False
    )
    # No single-column indexes where a composite one below starts with the column (account:
    # charge_uninvoiced_idx; service and one-time charge: the exactly-once constraints).
    account = models.ForeignKey(
        "customers.Customer",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    kind = models.CharField(max_length=10, choices=ChargeKind.choices, default=ChargeKind.RETAIL)
    service = models.ForeignKey(
        "subscriptions.Service",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="charges",
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
    one_time_charge = models.ForeignKey(
        "subscriptions.OneTimeCharge",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="charges",
        db_index=False,
        db_constraint=False,
    )
    billing_date = models.DateField(help_text="The billing date whose run rated it")
    period_start = models.DateField()
    period_end = models.DateField()
    description = models.CharField(max_length=300)
    quantity = models.PositiveIntegerField(default=1)
    unit_price_minor = models.BigIntegerField(help_text="Full-period unit price, minor units")
    amount_minor = models.BigIntegerField(
        help_text="Line amount, minor units, rounded once (gross for tax-inclusive issuers)"
    )
    # Why amount is not quantity x unit price: {"days": 12, "period_days": 30} for part of a
    # period, {"discount_bp": 1000} (with "discount_days" when fewer) for a discount; empty
    # otherwise (billing/rating.py, charge_adjustment). Copied to the invoice line.
    adjustment = models.JSONField(default=dict, blank=True)
    tax_rate_bp = models.PositiveIntegerField()
    tax_category = models.CharField(max_length=2, default="S")
    currency = models.CharField(max_length=3)
    # Invoices are never deleted (a database trigger refuses it): no row-by-row check.
    invoice = models.ForeignKey(
        "invoicing.Invoice",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="charges",
        db_constraint=False,
    )
    # Plan changes (docs/billing.md "Changing plan"). None of these is written by the billing
    # run, which inserts the columns above only; unconstrained as the others (a foreign key is
    # checked for every row inserted, even a NULL one), guarded as they are.
    # The first day a plan change gave back: the charge then stands for its period up to the
    # day before. Set once, by the change that credits it; a charge credited from its first
    # day holds no day and steps out of the exactly-once guard, so the new tariff can charge
    # the same period start.
    credited_from = models.DateField(null=True, blank=True)
    # A credit: a negative charge giving back ``credit_of`` from its period start, on the
    # next invoice, or settled by ``credit_note`` where the issuer credits by credit note.
    credit_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # the unique constraint below serves it
        db_constraint=False,
    )
    # Indexed only where set (partial indexes below): a billing run writes them NULL, and a
    # plain index takes an entry for every NULL too (docs/performance.md).
    credit_note = models.ForeignKey(
        "invoicing.CreditNote",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    plan_change = models.ForeignKey(
        "billing.PlanChange",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="charges",
        db_index=False,
        db_constraint=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["id"]
        constraints = [
            # Exactly once: a service's period is charged once per kind. A credit is no
            # charge of a period, and a charge given back from its first day holds none.
            models.UniqueConstraint(
                fields=["service", "kind", "period_start"],
                condition=Q(service__isnull=False, credit_of__isnull=True)
                & (Q(credited_from__isnull=True) | Q(credited_from__gt=models.F("period_start"))),
                name="charge_once_per_service_period",
            ),
            models.UniqueConstraint(
                fields=["credit_of"],
                condition=Q(credit_of__isnull=False),
                name="charge_credited_once",
            ),
            models.CheckConstraint(
                condition=Q(credited_from__isnull=True)
                | Q(
                    credited_from__gte=models.F("period_start"),
                    credited_from__lte=models.F("period_end"),
                ),
                name="charge_credited_within_period",
            ),
            models.UniqueConstraint(
                fields=["one_time_charge", "kind"],
                condition=Q(one_time_charge__isnull=False),
                name="charge_once_per_one_time_charge",
            ),
            models.CheckConstraint(
                condition=Q(service__isnull=False) ^ Q(one_time_charge__isnull=False),
                name="charge_service_xor_one_time",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")), name="charge_period_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["account", "invoice"], name="charge_uninvoiced_idx"),
            models.Index(
                fields=["credit_note"],
                condition=Q(credit_note__isnull=False),
                name="charge_credit_note_idx",
            ),
            models.Index(
                fields=["plan_change"],
                condition=Q(plan_change__isnull=False),
                name="charge_plan_change_idx",
            ),
        ]


class BillingRunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    # Finished for everyone else; the customers (or partners' aggregations) that failed are
    # its ``failures`` and are retried by the next run (docs/operations.md).
    PARTIAL = "partial", "Finished with failures"
    FAILED = "failed", "Failed"


class BillingRun(models.Model):
    """One start of the billing run; its figures are filled in as chunks finish."""

    run_date = models.DateField()
    dry_run = models.BooleanField(default=False)
    scope_partner = models.ForeignKey(
        "partners.Partner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Only this issuer's customers (an own-invoicing partner's run); empty = all",
    )
    status = models.CharField(
        max_length=10, choices=BillingRunStatus.choices, default=BillingRunStatus.RUNNING
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    customers_billed = models.PositiveIntegerField(default=0)
    invoices_issued = models.PositiveIntegerField(default=0)
    charges_created = models.PositiveIntegerField(default=0)
    totals = models.JSONField(
        default=dict, blank=True, help_text="Invoiced total per currency, minor units"
    )
    error = models.TextField(blank=True)
    failures_count = models.PositiveIntegerField(
        default=0, help_text="Customers and aggregations that failed and were skipped"
    )
    started_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # One run of a scope (every customer, or one own-invoicing partner's) and date at
            # a time: a second start while it runs (a double click, two operators, the API
            # retried) is refused by the database, whatever the code does.
            models.UniqueConstraint(
                Coalesce("scope_partner", Value(0)),
                "run_date",
                condition=Q(status="running", dry_run=False),
                name="billingrun_one_running_per_scope_date",
            ),
        ]

    @property
    def status_label(self) -> str:
        """The status as shown: "Finished with 3 failures" for a partial run."""
        if self.status == BillingRunStatus.PARTIAL:
            n = self.failures_count
            return f"Finished with {n} failure{'s' if n != 1 else ''}"
        return str(self.get_status_display())


class FailureStage(models.TextChoices):
    CUSTOMER = "customer", "Customer's billing"
    AGGREGATION = "aggregation", "Partner's aggregation"
    DUNNING = "dunning", "Dunning"
    REMINDER = "reminder", "Reminder"
    PLAN_CHANGE = "plan_change", "Plan change"


class BillingFailure(models.Model):
    """One customer (or partner's aggregation, or dunning step, or reminder) whose processing
    raised: recorded with its error and skipped, so the rest of the run finishes. Open until
    a later run processes it (``resolved_at``): a billing run retries every customer not
    billed yet, so the failed ones are exactly what the next run has left to do."""

    run = models.ForeignKey(
        BillingRun,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="failures",
        help_text="The billing run (empty for dunning and reminders)",
    )
    stage = models.CharField(max_length=12, choices=FailureStage.choices)
    partner = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Tenant: the customer's partner, or the partner aggregated",
    )
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    invoice = models.ForeignKey(
        "invoicing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    error = models.TextField()
    traceback = models.TextField(blank=True, help_text="The end of the traceback")
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by_run = models.ForeignKey(
        BillingRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The run that retried it",
    )

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["stage", "customer"],
                condition=Q(resolved_at__isnull=True),
                name="billingfailure_open_idx",
            ),
        ]


class PlanChangeStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    APPLIED = "applied", "Applied"
    CANCELLED = "cancelled", "Cancelled"


class PlanChange(models.Model):
    """A service moved to another tariff from ``effective_date`` on (the effective day is the
    new tariff's). Scheduled until the daily work (or the request itself, for today) applies
    it; cancellable until then. What it credited and charged are its ``charges`` (credits
    are the negative ones) and the credit notes they name (docs/billing.md "Changing
    plan")."""

    partner = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Tenant: the customer's partner",
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="plan_changes"
    )
    service = models.ForeignKey(
        "subscriptions.Service", on_delete=models.PROTECT, related_name="plan_changes"
    )
    old_tariff = models.ForeignKey("catalog.Tariff", on_delete=models.PROTECT, related_name="+")
    new_tariff = models.ForeignKey("catalog.Tariff", on_delete=models.PROTECT, related_name="+")
    effective_date = models.DateField()
    status = models.CharField(
        max_length=10, choices=PlanChangeStatus.choices, default=PlanChangeStatus.SCHEDULED
    )
    requested_by = models.CharField(max_length=150, blank=True)
    via_portal = models.BooleanField(default=False, help_text="Asked by the customer in the portal")
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.CharField(max_length=150, blank=True)
    fee = models.ForeignKey(
        "subscriptions.OneTimeCharge",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The upgrade or downgrade fee charged when it was applied",
    )
    invoice = models.ForeignKey(
        "invoicing.Invoice",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The invoice issued at once for it, where the issuer invoices changes so",
    )

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["-effective_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["service"],
                condition=Q(status="scheduled"),
                name="planchange_one_scheduled_per_service",
            ),
            models.CheckConstraint(
                condition=~Q(old_tariff=models.F("new_tariff")), name="planchange_new_tariff"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["scheduled", "applied", "cancelled"]),
                name="planchange_status_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["effective_date"],
                condition=Q(status="scheduled"),
                name="planchange_due_idx",
            )
        ]

    def __str__(self) -> str:
        return f"plan change of service {self.service_id} from {self.effective_date}"


CHARGE_FIELDS = [
    "partner_id",
    "issuer_id",
    "customer_id",
    "account_id",
    "kind",
    "service_id",
    "tariff_id",
    "one_time_charge_id",
    "billing_date",
    "period_start",
    "period_end",
    "description",
    "quantity",
    "unit_price_minor",
    "amount_minor",
    "adjustment",
    "tax_rate_bp",
    "tax_category",
    "currency",
    "invoice_id",
]


@dataclass(slots=True)
class ChargeRow:
    """A charge being rated, before it is stored: the billing run builds hundreds of thousands
    of these, so they are plain objects, written with one COPY (``charges_insert``)."""

    partner_id: int
    issuer_id: int
    customer_id: int
    account_id: int
    kind: str
    billing_date: date
    period_start: date
    period_end: date
    description: str
    quantity: int
    unit_price_minor: int
    amount_minor: int
    tax_rate_bp: int
    tax_category: str
    currency: str
    service_id: int | None = None
    tariff_id: int | None = None
    one_time_charge_id: int | None = None
    invoice_id: int | None = None
    adjustment: dict[str, int] = dataclasses.field(default_factory=dict)
    pk: int | None = None


# ChargeRow's fields in their order but its pk (the last), for building rows positionally.
_CHARGE_ROW_ORDER = [f.name for f in dataclasses.fields(ChargeRow)][:-1]


def charge_rows(queryset: Any) -> list[ChargeRow]:
    """Stored charges of ``queryset`` as plain rows (with their ``pk``), in its order."""
    return [ChargeRow(*values) for values in plain_rows(queryset, [*_CHARGE_ROW_ORDER, "pk"])]


def charges_insert(rows: list[Any]) -> None:
    """Store new charges (ChargeRow or unsaved Charge objects)."""
    values = operator.attrgetter(*CHARGE_FIELDS)
    tuples_insert(Charge, CHARGE_FIELDS, [values(r) for r in rows])


def invoiced_charges_store(charges: list[Any]) -> None:
    """Store the charges ``invoices_issue`` linked to their invoices: new ones inserted,
    stored ones linked with one UPDATE per batch."""
    charges_insert([c for c in charges if not c.pk])
    column_set(Charge, "invoice", {c.pk: c.invoice_id for c in charges if c.pk})
