"""Importing payments from a bank statement: rows already recorded are skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import transaction

from ispbill.core.money import Money
from ispbill.customers.models import Customer
from ispbill.payments.models import Payment
from ispbill.payments.services import DuplicatePayment, payment_record


@dataclass(frozen=True)
class ImportRow:
    customer: Customer
    amount: Money
    on: date
    method: str
    reference: str
    note: str = ""


@dataclass
class ImportResult:
    created: list[Payment] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # references already recorded


@transaction.atomic
def payments_import(*, rows: list[ImportRow], actor: Any = None) -> ImportResult:
    """Record every row; a row whose (method, reference) is already recorded is skipped, so
    importing the same statement twice adds nothing. Any other error aborts the import."""
    result = ImportResult()
    for row in rows:
        try:
            with transaction.atomic():
                payment = payment_record(
                    customer=row.customer,
                    amount=row.amount,
                    on=row.on,
                    method=row.method,
                    reference=row.reference,
                    note=row.note,
                    actor=actor,
                )
        except DuplicatePayment:
            result.skipped.append(row.reference)
            continue
        result.created.append(payment)
    return result
