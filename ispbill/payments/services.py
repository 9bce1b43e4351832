"""Payments: record, allocate to the oldest open invoices, keep the rest as credit, refund."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q

from ispbill.core.audit import audit_record
from ispbill.core.bulk import column_set, columns_set
from ispbill.core.errors import DomainError
from ispbill.core.money import AMOUNT_MAX_MINOR, Money, amount_max
from ispbill.customers.models import Customer
from ispbill.customers.selectors import account_issuer
from ispbill.invoicing.models import DocumentType, Invoice, InvoiceStatus, invoice_status_for
from ispbill.invoicing.sequences import numbers_reserve
from ispbill.ledger.posting import ledger_post_many, payment_entry, refund_entry
from ispbill.payments.models import Allocation, Payment, PaymentMethod, Refund
from ispbill.payments.reinstate import customers_unblock_if_clear
from ispbill.payments.signals import allocations_written, payment_received, payment_returned


class PaymentError(DomainError):
    """A payment that cannot be recorded as asked; the message says why."""

    code = "payment"


class DuplicatePayment(PaymentError):
    """A payment whose bank reference was already recorded (answered as 409 by the API)."""

    code = "duplicate"


@dataclass
class AllocationResult:
    allocations: list[Allocation]
    unblocked: list[int]


# The invoice fields ``credit_apply`` and the receivers of ``allocations_written`` read.
ALLOCATION_INVOICE_FIELDS = (
    "id",
    "partner_id",
    "customer_id",
    "due_date",
    "currency",
    "net_minor",
    "total_minor",
    "allocated_minor",
    "credited_minor",
    "status",
    "paid_at",
)


def credit_apply(
    *, customer_ids: Iterable[int], on: date, first: Iterable[int] = ()
) -> AllocationResult:
    """Allocate every unallocated payment of these accounts to their open invoices, oldest
    due date first (the invoices ``first`` names before the others: those a direct debit
    collected). Set-based: two locked reads, bulk writes."""
    ids = sorted(set(customer_ids))
    if not ids:
        return AllocationResult([], [])
    payments = list(
        Payment.objects.select_for_update(no_key=True)
        .filter(
            customer_id__any_in=ids,
            amount_minor__gt=F("allocated_minor") + F("refunded_minor"),
        )
        # Only what allocating reads (a billing run allocates for every chunk).
        .only("id", "customer_id", "date", "amount_minor", "allocated_minor", "refunded_minor")
        .order_by("customer_id", "date", "id")
    )
    if not payments:
        return AllocationResult([], [])
    invoices = list(
        Invoice.objects.select_for_update(no_key=True)
        .filter(
            customer_id__any_in=list({p.customer_id for p in payments}),
            status__in=[InvoiceStatus.UNPAID, InvoiceStatus.PARTIALLY_PAID],
        )
        # Not the snapshots: what allocating and the allocations' receivers read.
        .only(*ALLOCATION_INVOICE_FIELDS)
        .order_by("customer_id", "due_date", "id")
    )
    preferred = set(first)
    if preferred:
        invoices.sort(key=lambda i: (i.customer_id, i.pk not in preferred, i.due_date, i.pk))
    open_by_customer: dict[int, list[Invoice]] = defaultdict(list)
    for inv in invoices:
        open_by_customer[inv.customer_id].append(inv)
    allocations: list[Allocation] = []
    touched_payments: dict[int, Payment] = {}
    touched_invoices: dict[int, Invoice] = {}
    for p in payments:
        queue = open_by_customer.get(p.customer_id, [])
        while p.unallocated_minor > 0 and queue:
            inv = queue[0]
            amount = min(p.unallocated_minor, inv.open_minor)
            if amount > 0:
                allocations.append(
                    Allocation(
                        partner_id=inv.partner_id,
                        payment=p,
                        invoice=inv,
                        amount_minor=amount,
                        date=max(on, p.date),
                    )
                )
                p.allocated_minor += amount
                inv.allocated_minor += amount
                inv.status = invoice_status_for(
                    total=inv.total_minor,
                    allocated=inv.allocated_minor,
                    credited=inv.credited_minor,
                )
                if inv.status == InvoiceStatus.PAID:
                    inv.paid_at = max(on, p.date)
                touched_invoices[inv.pk] = inv
                touched_payments[p.pk] = p
            if inv.open_minor <= 0:
                queue.pop(0)
    if not allocations:
        return AllocationResult([], [])
    Allocation.objects.bulk_create(allocations)
    # One UPDATE … FROM unnest per column (Django's bulk_update builds a CASE with a branch
    # per row, whose cost grows with the square of the rows: 17 s for 1,500 payments).
    column_set(
        Payment, "allocated_minor", {pk: p.allocated_minor for pk, p in touched_payments.items()}
    )
    columns_set(
        Invoice,
        ["allocated_minor", "status", "paid_at"],
        [(pk, i.allocated_minor, i.status, i.paid_at) for pk, i in touched_invoices.items()],
    )
    allocations_written.send(
        sender=Allocation,
        allocations=[(a.pk, a.invoice, a.amount_minor, a.date) for a in allocations],
    )
    unblocked = customers_unblock_if_clear(
        customer_ids=list({a.invoice.customer_id for a in allocations}), today=on
    )
    return AllocationResult(allocations, unblocked)


def allocations_undo(*, invoice: Invoice, amount_minor: int, on: date) -> list[Allocation]:
    """Take back up to ``amount_minor`` of what was allocated to ``invoice`` (latest payments
    first) as negative allocation rows; the money becomes credit on the account again."""
    rows: list[Allocation] = []
    remaining = amount_minor
    per_payment: dict[int, int] = defaultdict(int)
    for a in Allocation.objects.filter(invoice=invoice).order_by("id"):
        per_payment[a.payment_id] += a.amount_minor
    payments = {
        p.pk: p
        for p in Payment.objects.select_for_update(no_key=True).filter(pk__in=list(per_payment))
    }
    for payment_id in sorted(per_payment, reverse=True):
        if remaining <= 0:
            break
        take = min(per_payment[payment_id], remaining)
        if take <= 0:
            continue
        p = payments[payment_id]
        rows.append(
            Allocation(
                partner_id=invoice.partner_id,
                payment=p,
                invoice=invoice,
                amount_minor=-take,
                date=on,
            )
        )
        Payment.objects.filter(pk=p.pk).update(allocated_minor=F("allocated_minor") - take)
        remaining -= take
    Allocation.objects.bulk_create(rows)
    allocations_written.send(
        sender=Allocation, allocations=[(a.pk, invoice, a.amount_minor, on) for a in rows]
    )
    return rows


@transaction.atomic
def payment_record(
    *,
    customer: Customer,
    amount: Money,
    on: date,
    method: str = PaymentMethod.BANK_TRANSFER,
    reference: str = "",
    note: str = "",
    actor: Any = None,
    allocate_first: Iterable[int] = (),
) -> Payment:
    """Record money received and allocate it to the oldest open invoices (those named in
    ``allocate_first`` before the others); the rest is credit."""
    issuer = account_issuer(customer)
    if amount.currency != issuer.currency:
        raise PaymentError(f"This account is billed in {issuer.currency}, not {amount.currency}.")
    if amount.minor <= 0:
        raise PaymentError("A payment amount must be greater than zero.")
    if amount.minor > AMOUNT_MAX_MINOR:
        raise PaymentError(
            f"{amount} is above {amount_max(amount.currency):,} {amount.currency}, the largest "
            "amount ispbill accepts."
        )
    if amount.rounded() != amount:
        raise PaymentError(f"{amount.amount} has more decimals than {amount.currency} allows.")
    if method not in PaymentMethod.values:
        raise PaymentError(f"Unknown payment method {method!r}.")
    reference = reference.strip()
    if (
        reference
        and Payment.objects.filter(issuer=issuer, method=method, reference=reference).exists()
    ):
        duplicate = f"A {method} payment with reference {reference!r} is already recorded."
        raise DuplicatePayment(duplicate, fields={"reference": duplicate})
    try:
        with transaction.atomic():
            # Drawn in the savepoint: a duplicate rolls the number back, so none is skipped.
            (receipt_number,) = numbers_reserve(
                issuer=issuer,
                doc_type=DocumentType.RECEIPT,
                issue_date=on,
                customer_ids=[customer.pk],
            )
            payment = Payment.objects.create(
                partner_id=customer.partner_id,
                issuer=issuer,
                customer=customer,
                amount_minor=amount.minor,
                currency=amount.currency,
                date=on,
                method=method,
                reference=reference,
                receipt_number=receipt_number,
                note=note,
            )
    except IntegrityError as exc:
        duplicate = f"A {method} payment with reference {reference!r} is already recorded."
        raise DuplicatePayment(duplicate, fields={"reference": duplicate}) from exc
    ledger_post_many(
        [
            payment_entry(
                issuer_id=issuer.pk,
                payment_id=payment.pk,
                customer_id=customer.pk,
                on=on,
                currency=payment.currency,
                amount_minor=payment.amount_minor,
                reference=reference,
            )
        ]
    )
    credit_apply(customer_ids=[customer.pk], on=on, first=allocate_first)
    audit_record(
        action="payment.recorded",
        obj=payment,
        actor=actor,
        changes={
            "amount": str(amount),
            "date": on.isoformat(),
            "method": method,
            "reference": reference,
            "receipt_number": payment.receipt_number,
        },
    )
    payment.refresh_from_db()
    payment_received.send(sender=Payment, payment=payment)
    return payment


@transaction.atomic
def payment_refund(
    *,
    payment: Payment,
    amount: Money,
    on: date,
    reason: str = "",
    actor: Any = None,
    _reversal: bool = False,
) -> Refund:
    """Pay back unallocated money (credit) of a payment. Tells ``payment_returned``
    (``payment_reverse`` tells it once itself, as a reversal)."""
    locked = Payment.objects.select_for_update(no_key=True).get(pk=payment.pk)
    if amount.currency != locked.currency:
        refused = f"The payment is in {locked.currency}, not {amount.currency}."
        raise PaymentError(refused, fields={"amount": refused})
    if amount.minor <= 0:
        refused = "A refund amount must be greater than zero."
        raise PaymentError(refused, fields={"amount": refused})
    if amount.minor > locked.unallocated_minor:
        available = Money.from_minor(locked.unallocated_minor, locked.currency)
        refused = (
            f"Only {available} of this payment is unallocated credit and can be refunded; "
            "issue a credit note first to free more."
        )
        raise PaymentError(refused, fields={"amount": refused})
    refund = Refund.objects.create(
        partner_id=locked.partner_id,
        payment=locked,
        amount_minor=amount.minor,
        date=on,
        reason=reason,
    )
    Payment.objects.filter(pk=locked.pk).update(refunded_minor=F("refunded_minor") + amount.minor)
    ledger_post_many(
        [
            refund_entry(
                issuer_id=locked.issuer_id,
                refund_id=refund.pk,
                customer_id=locked.customer_id,
                on=on,
                currency=locked.currency,
                amount_minor=amount.minor,
            )
        ]
    )
    audit_record(
        action="payment.refunded",
        obj=locked,
        actor=actor,
        changes={"amount": str(amount), "reason": reason},
    )
    if not _reversal:
        locked.refresh_from_db()
        payment_returned.send(sender=Payment, payment=locked, refund=refund, reversed=False)
    return refund


@transaction.atomic
def payment_reverse(*, payment: Payment, on: date, reason: str, actor: Any = None) -> Refund:
    """Take a payment back whole: the bank returned it (a direct debit's R-transaction).
    What it paid on invoices is undone (negative allocation rows, commission reversed with
    them), the invoices are open again, and the whole amount goes back as a refund (ledger:
    receivable against bank) dated ``on``."""
    locked = Payment.objects.select_for_update(no_key=True).get(pk=payment.pk)
    per_invoice: dict[int, int] = defaultdict(int)
    for invoice_id, amount in Allocation.objects.filter(payment=locked).values_list(
        "invoice_id", "amount_minor"
    ):
        per_invoice[invoice_id] += amount
    invoices = {
        inv.pk: inv
        for inv in Invoice.objects.select_for_update(no_key=True)
        .filter(pk__in=[i for i, a in per_invoice.items() if a > 0])
        .order_by("pk")
    }
    rows = [
        Allocation(
            partner_id=inv.partner_id,
            payment=locked,
            invoice=inv,
            amount_minor=-per_invoice[inv.pk],
            date=on,
        )
        for inv in invoices.values()
    ]
    Allocation.objects.bulk_create(rows)
    taken = sum(-a.amount_minor for a in rows)
    for inv in invoices.values():
        inv.allocated_minor -= per_invoice[inv.pk]
        inv.status = invoice_status_for(
            total=inv.total_minor, allocated=inv.allocated_minor, credited=inv.credited_minor
        )
        inv.paid_at = None if inv.status != InvoiceStatus.PAID else inv.paid_at
    Invoice.objects.bulk_update(list(invoices.values()), ["allocated_minor", "status", "paid_at"])
    Payment.objects.filter(pk=locked.pk).update(allocated_minor=F("allocated_minor") - taken)
    allocations_written.send(
        sender=Allocation, allocations=[(a.pk, a.invoice, a.amount_minor, on) for a in rows]
    )
    locked.refresh_from_db()
    left = locked.amount_minor - locked.refunded_minor
    if left <= 0:
        raise PaymentError(f"Payment {locked.reference or locked.pk} is refunded already.")
    refund = payment_refund(
        payment=locked,
        amount=Money.from_minor(left, locked.currency),
        on=on,
        reason=reason,
        actor=actor,
        _reversal=True,
    )
    locked.refresh_from_db()
    payment_returned.send(sender=Payment, payment=locked, refund=refund, reversed=True)
    audit_record(
        action="payment.reversed",
        obj=locked,
        actor=actor,
        changes={
            "amount": str(Money.from_minor(left, locked.currency)),
            "invoices": sorted(inv.number for inv in invoices.values()),
            "reason": reason,
        },
    )
    return refund


def customer_credit_minor(customer_id: int) -> int:
    """Unallocated money on the account."""
    total = 0
    for amount, allocated, refunded in (
        Payment.objects.filter(customer_id=customer_id)
        .filter(~Q(amount_minor=F("allocated_minor") + F("refunded_minor")))
        .values_list("amount_minor", "allocated_minor", "refunded_minor")
    ):
        total += amount - allocated - refunded
    return total
