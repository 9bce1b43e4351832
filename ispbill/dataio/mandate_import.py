"""SEPA mandates from a CSV file (docs/payments.md, "Mandate import"): all or nothing, every
row checked first, errors listed per row and column."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from ispbill.core.errors import DomainValidationError
from ispbill.customers.models import Customer
from ispbill.dataio.customer_import import RowError, csv_rows
from ispbill.partners.models import Partner
from ispbill.sepa.mandates import mandate_create
from ispbill.sepa.models import Mandate, MandateSource

__all__ = ["MANDATE_COLUMNS", "MandateImportResult", "mandates_import"]

MANDATE_COLUMNS = {
    "customer": "customer number (required)",
    "partner": "partner name or id (operator only; empty: the home partner, or the one chosen)",
    "iban": "the debtor's IBAN (required)",
    "bic": "BIC (optional inside the EEA)",
    "signature_date": "YYYY-MM-DD (required)",
    "reference": "mandate reference, ≤ 35 SEPA characters (empty: <customer number>-<n>)",
    "debtor_name": "account holder (empty: the customer's name)",
}


@dataclass
class MandateImportResult:
    dry_run: bool
    errors: list[RowError] = field(default_factory=list)
    rows: int = 0
    created: list[Mandate] = field(default_factory=list)


class _Refused(Exception):
    pass


def mandates_import(
    *,
    csv_text: str,
    partner: Partner | None = None,
    may_choose_partner: bool = True,
    dry_run: bool = False,
    actor: Any = None,
) -> MandateImportResult:
    """Create a mandate per row through ``mandate_create`` (the checks and the audit of a
    mandate entered by hand), in one transaction: one error anywhere and nothing is written;
    a dry run checks every row the same way and rolls back."""
    result = MandateImportResult(dry_run=dry_run)
    header, rows = csv_rows(csv_text)
    missing = [c for c in ("customer", "iban", "signature_date") if c not in header]
    if missing:
        result.errors.append(RowError(1, ", ".join(missing), "required column missing"))
        return result
    home = Partner.objects.get(is_home=True)
    by_key = {p.name.lower(): p for p in Partner.objects.all()} | {
        str(p.pk): p for p in Partner.objects.all()
    }
    result.rows = len(rows)
    try:
        with transaction.atomic():
            for n, cells in enumerate(rows, 2):
                values = {
                    h: (cells[i].strip() if i < len(cells) else "") for i, h in enumerate(header)
                }
                _row(n, values, result, partner, may_choose_partner, by_key, home, actor)
            if result.errors or dry_run:
                raise _Refused
    except _Refused:
        if not result.errors:
            result.created = []
    return result


def _row(
    n: int,
    values: dict[str, str],
    result: MandateImportResult,
    fixed: Partner | None,
    may_choose: bool,
    by_key: dict[str, Partner],
    home: Partner,
    actor: Any,
) -> None:
    chosen_key = values.get("partner", "")
    owner = fixed or home
    if chosen_key:
        chosen = by_key.get(chosen_key.lower())
        if chosen is None or (not may_choose and fixed is not None and chosen.pk != fixed.pk):
            result.errors.append(RowError(n, "partner", f"no partner {chosen_key!r} of yours"))
            return
        owner = chosen
    customer = Customer.objects.filter(partner=owner, reference=values.get("customer", "")).first()
    if customer is None:
        result.errors.append(
            RowError(
                n, "customer", f"no customer number {values.get('customer')!r} at {owner.name}"
            )
        )
        return
    try:
        signed = date.fromisoformat(values.get("signature_date", ""))
    except ValueError:
        result.errors.append(RowError(n, "signature_date", "write the date as YYYY-MM-DD"))
        return
    if signed > timezone.localdate():
        result.errors.append(RowError(n, "signature_date", "a mandate cannot be signed later"))
        return
    try:
        with transaction.atomic():
            mandate = mandate_create(
                customer=customer,
                iban=values.get("iban", ""),
                bic=values.get("bic", ""),
                signature_date=signed,
                reference=values.get("reference", ""),
                debtor_name=values.get("debtor_name", ""),
                source=MandateSource.IMPORT,
                actor=actor,
            )
    except DomainValidationError as exc:
        if exc.fields:
            for column, message in exc.fields.items():
                result.errors.append(RowError(n, column, message))
        else:
            result.errors.append(RowError(n, "", exc.message))
        return
    result.created.append(mandate)
