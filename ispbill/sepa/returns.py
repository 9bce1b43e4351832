"""R-transactions: direct debits the bank rejected before settlement or returned after it,
read from camt.054 (or camt.053) notifications and pain.002 status reports, and booked:
the payment reversed, the invoices open again (so dunning takes them up), an optional
return fee as a one-time charge, the mandate ended for codes that say the account or the
mandate is gone (docs/payments.md, "Returns")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from lxml import etree

from ispbill.core.audit import audit_record
from ispbill.core.money import Money
from ispbill.payments.services import payment_reverse
from ispbill.sepa.models import (
    Collection,
    CollectionStatus,
    CreditorSettings,
    Debit,
    DebitReturn,
    DebitStatus,
    Mandate,
    MandateStatus,
    ReturnSource,
    SequenceType,
)
from ispbill.sepa.notices import creditor_settings_for
from ispbill.sepa.rules import MANDATE_ENDING_CODES, RETURN_REASONS, SepaError

__all__ = [
    "ReturnLine",
    "ReturnsResult",
    "debit_return_book",
    "returns_file_import",
    "returns_file_parse",
]

_MAX_FILE = 10 * 1024 * 1024


@dataclass(frozen=True)
class ReturnLine:
    """One R-transaction as a file states it."""

    end_to_end_id: str
    reason_code: str
    booking_date: date
    amount: Decimal | None
    bank_reference: str
    reason_text: str = ""


@dataclass
class ReturnsResult:
    format: str
    booked: list[DebitReturn] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # end-to-end ids returned already
    unknown: list[str] = field(default_factory=list)  # end-to-end ids of no debit of yours


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _find(node: Any, *path: str) -> Any:
    for name in path:
        if node is None:
            return None
        node = node.find(f"{{*}}{name}")
    return node


def _text(node: Any, *path: str) -> str:
    found = _find(node, *path)
    return (found.text or "").strip() if found is not None else ""


def _date(text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _amount(text: str) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None


def returns_file_parse(data: bytes) -> tuple[str, list[ReturnLine]]:
    """The R-transactions of a camt.054/camt.053 file (entries with return information) or a
    pain.002 report (transactions with status RJCT), and the format's name."""
    if len(data) > _MAX_FILE:
        raise SepaError("The file is larger than 10 MB; split it.")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise SepaError(f"The file is not XML: {exc}.") from exc
    namespace = etree.QName(root).namespace or ""
    kind = namespace.rsplit(":", 1)[-1]
    if kind.startswith(("camt.054", "camt.053")):
        return kind[:8], _camt_returns(root)
    if kind.startswith("pain.002"):
        return "pain.002", _pain002_rejects(root)
    raise SepaError(
        "This is not a camt.054, camt.053 or pain.002 file (its namespace is "
        f"{namespace or 'missing'})."
    )


def _camt_returns(root: Any) -> list[ReturnLine]:
    out: list[ReturnLine] = []
    for entry in root.iter("{*}Ntry"):
        status = _text(entry, "Sts") or _text(entry, "Sts", "Cd")
        if status and status != "BOOK":
            continue
        booked = _date(_text(entry, "BookgDt", "Dt") or _text(entry, "BookgDt", "DtTm"))
        booked = booked or _date(_text(entry, "ValDt", "Dt"))
        entry_ref = _text(entry, "AcctSvcrRef") or _text(entry, "NtryRef")
        for n, tx in enumerate(entry.iter("{*}TxDtls"), 1):
            info = _find(tx, "RtrInf")
            if info is None:
                continue
            e2e = _text(tx, "Refs", "EndToEndId")
            amount = _amount(_text(tx, "Amt")) or _amount(_text(tx, "AmtDtls", "InstdAmt", "Amt"))
            out.append(
                ReturnLine(
                    end_to_end_id=e2e,
                    reason_code=_text(info, "Rsn", "Cd") or _text(info, "Rsn", "Prtry"),
                    booking_date=booked or date.min,
                    amount=amount,
                    bank_reference=_text(tx, "Refs", "AcctSvcrRef") or f"{entry_ref}/{n}",
                    reason_text=_text(info, "AddtlInf"),
                )
            )
    return out


def _pain002_rejects(root: Any) -> list[ReturnLine]:
    out: list[ReturnLine] = []
    created = _date(_text(_find(root, "CstmrPmtStsRpt", "GrpHdr"), "CreDtTm"))
    message = _text(_find(root, "CstmrPmtStsRpt", "GrpHdr"), "MsgId")
    for tx in root.iter("{*}TxInfAndSts"):
        if _text(tx, "TxSts") != "RJCT":
            continue
        reason = _find(tx, "StsRsnInf")
        e2e = _text(tx, "OrgnlEndToEndId")
        out.append(
            ReturnLine(
                end_to_end_id=e2e,
                reason_code=_text(reason, "Rsn", "Cd") or _text(reason, "Rsn", "Prtry"),
                booking_date=created or date.min,
                amount=_amount(_text(tx, "OrgnlTxRef", "Amt", "InstdAmt")),
                bank_reference=f"{message}/{e2e}",
                reason_text=_text(reason, "AddtlInf"),
            )
        )
    return out


def returns_file_import(*, data: bytes, actor: Any = None, on: date | None = None) -> ReturnsResult:
    """Book every R-transaction of the file whose debit is one of the open scope's, in one
    transaction: a file imported twice adds nothing (one return per debit)."""
    fmt, lines = returns_file_parse(data)
    problems = [
        f"transaction {line.end_to_end_id or '(no end-to-end id)'}"
        for line in lines
        if not line.end_to_end_id or not line.reason_code or line.booking_date == date.min
    ]
    if problems:
        raise SepaError(
            "These R-transactions lack an end-to-end id, a reason code or a date: "
            + ", ".join(problems[:10])
        )
    source = {
        "camt.054": ReturnSource.CAMT054,
        "camt.053": ReturnSource.CAMT053,
        "pain.002": ReturnSource.PAIN002,
    }[fmt]
    result = ReturnsResult(format=fmt)
    with transaction.atomic():
        debits = {
            d.end_to_end_id: d
            for d in Debit.objects.filter(
                end_to_end_id__in=[line.end_to_end_id for line in lines]
            ).select_related("collection")
        }
        for line in lines:
            debit = debits.get(line.end_to_end_id)
            if debit is None:
                result.unknown.append(line.end_to_end_id)
                continue
            if DebitReturn.objects.filter(debit=debit).exists():
                result.duplicates.append(line.end_to_end_id)
                continue
            if line.amount is not None and Money(line.amount, debit.currency).minor != (
                debit.amount_minor
            ):
                raise SepaError(
                    f"The return of {line.end_to_end_id} is for {line.amount}, the debit was "
                    f"{Money.from_minor(debit.amount_minor, debit.currency)}; check the file."
                )
            result.booked.append(
                debit_return_book(
                    debit=debit,
                    reason_code=line.reason_code,
                    booking_date=on or line.booking_date,
                    bank_reference=line.bank_reference,
                    source=source,
                    reason_text=line.reason_text,
                    actor=actor,
                )
            )
    return result


@transaction.atomic
def debit_return_book(
    *,
    debit: Debit,
    reason_code: str,
    booking_date: date,
    bank_reference: str = "",
    source: str = ReturnSource.MANUAL,
    reason_text: str = "",
    actor: Any = None,
) -> DebitReturn:
    """Book one R-transaction. A debit collected has its payment reversed on the booking
    date (its invoices open again); one still pending (a pain.002 reject before the batch
    was marked collected) is only marked rejected and will not be booked."""
    locked = Debit.objects.select_for_update().select_related("mandate").get(pk=debit.pk)
    batch = Collection.objects.get(pk=locked.collection_id)
    code = reason_code.strip().upper()[:4]
    if not code:
        raise SepaError("Give the R-transaction's reason code (e.g. AC04).")
    if locked.status in (DebitStatus.RETURNED, DebitStatus.REJECTED):
        raise SepaError(f"The debit {locked.end_to_end_id} is returned already.", code="conflict")
    if batch.status == CollectionStatus.DRAFT:
        raise SepaError(
            f"Batch {batch.message_id} was not submitted; discard it instead.", code="conflict"
        )
    reason = RETURN_REASONS.get(code, "") or reason_text.strip()
    refund = None
    if locked.status == DebitStatus.COLLECTED and locked.payment_id is not None:
        if booking_date < batch.collection_date:
            raise SepaError(
                f"A return cannot be booked before the collection date "
                f"{batch.collection_date.isoformat()}."
            )
        refund = payment_reverse(
            payment=locked.payment,  # type: ignore[arg-type]
            on=booking_date,
            reason=f"SEPA return {code} {reason}".strip(),
            actor=actor,
        )
        locked.status = DebitStatus.RETURNED
    else:
        locked.status = DebitStatus.REJECTED
    locked.save(update_fields=["status"])
    fee = _return_fee(locked, code, booking_date, actor)
    mandate_ended = _mandate_after_return(locked, code, booking_date, actor)
    row = DebitReturn.objects.create(
        partner_id=locked.partner_id,
        customer_id=locked.customer_id,
        debit=locked,
        reason_code=code,
        reason=reason[:200],
        booking_date=booking_date,
        amount_minor=locked.amount_minor,
        bank_reference=bank_reference[:140],
        source=source,
        refund=refund,
        fee_charge=fee,
        mandate_ended=mandate_ended,
    )
    audit_record(
        action="sepa.debit_returned",
        obj=row,
        actor=actor,
        changes={
            "end_to_end_id": locked.end_to_end_id,
            "reason_code": code,
            "booking_date": booking_date.isoformat(),
            "amount": str(Money.from_minor(locked.amount_minor, locked.currency)),
            "fee": bool(fee),
            "mandate_ended": mandate_ended,
        },
    )
    return row


def _return_fee(debit: Debit, code: str, on: date, actor: Any) -> Any:
    """The issuer's return fee, as a one-time charge on the customer's next invoice."""
    issuer_id = Collection.objects.values_list("partner_id", flat=True).get(pk=debit.collection_id)
    settings: CreditorSettings | None = creditor_settings_for([issuer_id]).get(issuer_id)
    if settings is None or settings.return_fee_minor <= 0 or settings.return_fee_tax_rate is None:
        return None
    from ispbill.subscriptions.services import one_time_charge_create

    customer = debit.customer
    return one_time_charge_create(
        customer=customer,
        actor=actor,
        description=f"Returned direct debit {debit.end_to_end_id} ({code})",
        quantity=1,
        unit_price_minor=settings.return_fee_minor,
        tax_rate=settings.return_fee_tax_rate,
        charge_date=on,
    )


def _mandate_after_return(debit: Debit, code: str, on: date, actor: Any) -> bool:
    """Codes saying the account or the mandate is gone end the mandate; a returned first
    debit leaves the mandate's next collection a first one again. True if it ended."""
    mandate = Mandate.objects.select_for_update().get(pk=debit.mandate_id)
    if code in MANDATE_ENDING_CODES and mandate.status == MandateStatus.ACTIVE:
        mandate.status = MandateStatus.REVOKED
        mandate.ended_on = on
        mandate.end_reason = f"return {code}: {RETURN_REASONS.get(code, '')}".strip(": ")
        mandate.save(update_fields=["status", "ended_on", "end_reason"])
        audit_record(
            action="sepa.mandate_revoked",
            obj=mandate,
            actor=actor,
            changes={"reference": mandate.reference, "reason": mandate.end_reason},
        )
        return True
    if debit.sequence == SequenceType.FRST and mandate.status == MandateStatus.ACTIVE:
        used = Debit.objects.filter(mandate=mandate, status=DebitStatus.COLLECTED).exists()
        if not used:
            Mandate.objects.filter(pk=mandate.pk).update(sequence=SequenceType.FRST)
    return False
