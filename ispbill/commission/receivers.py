"""Commission follows invoicing and payments (connected by CommissionConfig.ready): an
invoice issued (invoiced base), a credit note (its reversal), an allocation written or
undone (paid base). Invoicing and payments tell; they do not know commission exists."""

from __future__ import annotations

from typing import Any

from ispbill.commission.accruals import (
    commission_accrue_allocations,
    commission_accrue_credit_note,
    commission_accrue_invoiced,
)
from ispbill.invoicing.signals import credit_note_issued, invoices_issued
from ispbill.payments.signals import allocations_written


def on_invoices_issued(*, invoices: Any, lines: Any, **kwargs: Any) -> None:
    commission_accrue_invoiced(invoices, lines)


def on_credit_note_issued(
    *, credit_note_id: int, invoice: Any, net_minor: int, on: Any, **kwargs: Any
) -> None:
    commission_accrue_credit_note(
        credit_note_id=credit_note_id, invoice=invoice, net_minor=net_minor, on=on
    )


def on_allocations_written(*, allocations: Any, **kwargs: Any) -> None:
    commission_accrue_allocations(allocations)


def commission_receivers_connect() -> None:
    invoices_issued.connect(on_invoices_issued, dispatch_uid="commission.invoiced")
    credit_note_issued.connect(on_credit_note_issued, dispatch_uid="commission.credit_note")
    allocations_written.connect(on_allocations_written, dispatch_uid="commission.allocations")
