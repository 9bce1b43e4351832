"""Bank statement import: match each credit line to a customer, book it as a payment, queue
what cannot be matched.

Matching (docs/data-import-export.md): the remittance text is split into words; a word equal
to an invoice number of the issuer names that invoice's customer, else a word equal to the
reference of a customer billed by the issuer names that customer. Exactly one customer must
come out; none or several queue the line. A line in another currency than the issuer's is
queued, never booked. A line whose bank reference is already a payment or already queued is a
duplicate and adds nothing, so importing the same file twice adds nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ispbill.core.audit import audit_record
from ispbill.core.money import Money
from ispbill.customers.models import Customer
from ispbill.customers.selectors import account_issuer
from ispbill.dataio.bank_files import BankLine, remittance_tokens
from ispbill.dataio.models import UnmatchedBankLine, UnmatchedReason, UnmatchedStatus
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import Partner, PartnerMode
from ispbill.payments.models import Payment, PaymentMethod
from ispbill.payments.services import DuplicatePayment, PaymentError, payment_record


class BankImportError(ValueError):
    """An assignment or import refused; the message says why and what to do."""


@dataclass
class BankImportResult:
    booked: list[tuple[BankLine, Payment]] = field(default_factory=list)
    queued: list[tuple[BankLine, str]] = field(default_factory=list)
    duplicates: list[BankLine] = field(default_factory=list)
    debits: list[BankLine] = field(default_factory=list)  # money paid out: not payments

    def summary(self) -> str:
        return (
            f"{len(self.booked)} booked, {len(self.queued)} queued for assignment, "
            f"{len(self.duplicates)} already imported, {len(self.debits)} debits skipped"
        )


def issuer_customers(issuer: Partner) -> Q:
    """The customers whose payments go to ``issuer``'s bank account (account_issuer)."""
    if issuer.mode == PartnerMode.OWN_INVOICING:
        return Q(partner_id=issuer.pk)
    return ~Q(partner__mode=PartnerMode.OWN_INVOICING)


def _matches(
    lines: list[BankLine], issuer: Partner
) -> tuple[dict[str, set[int]], dict[str, set[int]]]:
    """word -> customer ids, for invoice numbers and for customer references (two queries)."""
    words: set[str] = set()
    for line in lines:
        words |= remittance_tokens(line.remittance)
    by_invoice: dict[str, set[int]] = {}
    by_reference: dict[str, set[int]] = {}
    if not words:
        return by_invoice, by_reference
    chunked = sorted(words)
    for start in range(0, len(chunked), 2000):
        chunk = chunked[start : start + 2000]
        for number, customer_id in Invoice._base_manager.filter(
            issuer=issuer, number__in=chunk
        ).values_list("number", "customer_id"):
            by_invoice.setdefault(number, set()).add(customer_id)
        for reference, customer_id in (
            Customer._base_manager.filter(issuer_customers(issuer), reference__in=chunk)
            .values_list("reference", "pk")
            .iterator()
        ):
            by_reference.setdefault(reference, set()).add(customer_id)
    return by_invoice, by_reference


def line_customer(
    line: BankLine, by_invoice: dict[str, set[int]], by_reference: dict[str, set[int]]
) -> tuple[int | None, str]:
    """The one customer a line names, else (None, reason)."""
    words = remittance_tokens(line.remittance)
    for table in (by_invoice, by_reference):
        found: set[int] = set()
        for word in words:
            found |= table.get(word, set())
        if len(found) == 1:
            return next(iter(found)), ""
        if len(found) > 1:
            return None, UnmatchedReason.AMBIGUOUS
    return None, UnmatchedReason.NO_MATCH


def bank_lines_import(
    *,
    lines: list[BankLine],
    issuer: Partner,
    actor: Any = None,
    source: str = "",
    method: str = PaymentMethod.BANK_TRANSFER,
) -> BankImportResult:
    """Book every matched credit line of ``issuer``'s bank account as a payment and queue the
    others, in one transaction."""
    result = BankImportResult()
    credits: list[BankLine] = []
    for line in lines:
        (credits if line.is_credit and line.amount > 0 else result.debits).append(line)
    with transaction.atomic():
        references = [line.reference for line in credits]
        # Uniqueness lookups on the issuer's own rows; the base manager because a payment of
        # a partner's account customer lies outside that partner's scope yet is a duplicate.
        seen = set(
            Payment._base_manager.filter(
                issuer=issuer, method=method, reference__in=references
            ).values_list("reference", flat=True)
        ) | set(
            UnmatchedBankLine._base_manager.filter(
                partner=issuer, method=method, reference__in=references
            ).values_list("reference", flat=True)
        )
        by_invoice, by_reference = _matches(credits, issuer)
        customers = {
            c.pk: c
            for c in Customer._base_manager.filter(
                pk__in={i for ids in (*by_invoice.values(), *by_reference.values()) for i in ids}
            )
        }
        queue: list[UnmatchedBankLine] = []
        for line in credits:
            if line.reference in seen:
                result.duplicates.append(line)
                continue
            seen.add(line.reference)
            reason, detail = "", ""
            customer_id: int | None = None
            if line.currency != issuer.currency:
                reason = UnmatchedReason.FOREIGN_CURRENCY
                detail = f"{line.currency}, the account is kept in {issuer.currency}"
            else:
                customer_id, reason = line_customer(line, by_invoice, by_reference)
            if customer_id is not None:
                try:
                    with transaction.atomic():
                        payment = payment_record(
                            customer=customers[customer_id],
                            amount=Money.parse(str(line.amount), line.currency),
                            on=line.booking_date,
                            method=method,
                            reference=line.reference,
                            note=line.remittance[:300],
                            actor=actor,
                        )
                except DuplicatePayment:
                    result.duplicates.append(line)
                    continue
                except (PaymentError, ValueError) as exc:
                    reason, detail = UnmatchedReason.REFUSED, str(exc)
                else:
                    result.booked.append((line, payment))
                    continue
            queue.append(
                UnmatchedBankLine(
                    partner=issuer,
                    method=method,
                    reference=line.reference,
                    booking_date=line.booking_date,
                    amount_minor=_minor(line),
                    currency=line.currency,
                    counterparty=line.counterparty,
                    counterparty_iban=line.counterparty_iban,
                    remittance=line.remittance,
                    reason=reason,
                    detail=detail[:300],
                    source=source[:200],
                )
            )
            result.queued.append((line, reason))
        UnmatchedBankLine._base_manager.bulk_create(queue)
        audit_record(
            action="payments.imported",
            obj=issuer,
            actor=actor,
            changes={
                "source": source,
                "booked": len(result.booked),
                "queued": len(result.queued),
                "duplicates": len(result.duplicates),
                "debits": len(result.debits),
            },
        )
    return result


def _minor(line: BankLine) -> int:
    try:
        return Money(line.amount, line.currency).minor
    except ValueError:
        # An unknown currency code: kept in hundredths so the line is still shown.
        return int((line.amount * 100).to_integral_value())


@transaction.atomic
def unmatched_line_assign(
    *,
    line: UnmatchedBankLine,
    customer: Customer,
    amount: Money | None = None,
    actor: Any = None,
) -> Payment:
    """Book a queued line as a payment of ``customer``. A foreign-currency line needs
    ``amount``: what was credited in the account's currency."""
    locked = UnmatchedBankLine._base_manager.select_for_update().get(pk=line.pk)
    if locked.status != UnmatchedStatus.OPEN:
        raise BankImportError("This bank line is already assigned.")
    issuer = account_issuer(customer)
    if issuer.pk != locked.partner_id:
        raise BankImportError(
            f"{customer.name} pays {issuer.name}'s bank account, not the one this line is on."
        )
    if amount is None:
        if locked.currency != issuer.currency:
            raise BankImportError(
                f"The line is in {locked.currency}; enter the amount credited in {issuer.currency}."
            )
        amount = Money.from_minor(locked.amount_minor, locked.currency)
    try:
        payment = payment_record(
            customer=customer,
            amount=amount,
            on=locked.booking_date,
            method=locked.method,
            reference=locked.reference,
            note=locked.remittance[:300],
            actor=actor,
        )
    except PaymentError as exc:
        raise BankImportError(str(exc)) from exc
    locked.status = UnmatchedStatus.ASSIGNED
    locked.payment = payment
    locked.assigned_at = timezone.now()
    locked.assigned_by = str(getattr(actor, "username", None) or actor or "system")[:150]
    locked.save(update_fields=["status", "payment", "assigned_at", "assigned_by"])
    audit_record(
        action="bank_line.assigned",
        obj=locked,
        actor=actor,
        changes={"customer": customer.reference, "payment": payment.pk, "amount": str(amount)},
    )
    return payment
