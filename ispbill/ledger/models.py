"""Double-entry ledger: journal entries of postings that net to zero. Append-only."""

from __future__ import annotations

from typing import Any

from django.db import models

from ispbill.core.tenancy import PartnerScopedManager


class AccountCode(models.TextChoices):
    RECEIVABLE = "receivable", "Accounts receivable"
    REVENUE = "revenue", "Revenue"
    VAT_PAYABLE = "vat_payable", "VAT payable"
    BANK = "bank", "Bank"
    COMMISSION_EXPENSE = "commission_expense", "Commission expense"
    COMMISSION_PAYABLE = "commission_payable", "Commission payable"


class AppendOnlyError(Exception):
    """Ledger rows are never changed or deleted; post a reversing entry instead."""


class JournalEntry(models.Model):
    """One business event in one issuer's books. Its postings sum to zero."""

    # No database constraint on the partner references of the ledger (checked by
    # ``ispbill check``; see ispbill/billing/models.py Charge for why).
    partner = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Whose books (the issuer)",
        db_constraint=False,
    )
    date = models.DateField()
    kind = models.CharField(max_length=30)
    description = models.CharField(max_length=300)
    source_type = models.CharField(max_length=30)
    source_id = models.BigIntegerField()
    # Entries are never deleted (a trigger refuses it): no row-by-row check, and indexed
    # only where set (Meta), as a run writes every entry with none.
    reverses = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["source_type", "source_id"]),
            models.Index(
                fields=["reverses"],
                condition=models.Q(reverses__isnull=False),
                name="entry_reverses_idx",
            ),
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("journal entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("journal entries are append-only")


class Posting(models.Model):
    """Debit positive, credit negative, in minor units."""

    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    # Entries are never deleted (a database trigger refuses it): no row-by-row check.
    entry = models.ForeignKey(
        JournalEntry, on_delete=models.PROTECT, related_name="postings", db_constraint=False
    )
    account = models.CharField(max_length=30, choices=AccountCode.choices)
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The billing account, on receivable postings",
        db_constraint=False,
    )
    counterparty = models.ForeignKey(
        "partners.Partner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The partner, on commission postings",
        db_index=False,  # indexed only where set (Meta)
        db_constraint=False,
    )
    amount_minor = models.BigIntegerField(help_text="Minor units: debit > 0, credit < 0")
    currency = models.CharField(max_length=3)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["account", "customer"]),
            models.Index(
                fields=["counterparty"],
                condition=models.Q(counterparty__isnull=False),
                name="posting_counterparty_idx",
            ),
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("postings are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("postings are append-only")
