"""Collection runs: notified open invoices of customers with an active mandate become one
batch per issuer and collection date, with its pain.008 file; a batch is submitted to the
bank, then marked collected, which books its payments (docs/payments.md, "Collections")."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ispbill.core.audit import audit_record
from ispbill.core.money import Money
from ispbill.customers.models import Customer
from ispbill.invoicing.models import Invoice, InvoiceStatus
from ispbill.partners.models import Partner
from ispbill.payments.models import PaymentMethod
from ispbill.payments.services import PaymentError, payment_record
from ispbill.sepa.models import (
    Collection,
    CollectionStatus,
    CreditorSettings,
    Debit,
    DebitInvoice,
    DebitNotice,
    DebitStatus,
    Mandate,
    MandateStatus,
    SequenceType,
)
from ispbill.sepa.notices import creditor_settings_for
from ispbill.sepa.pain008 import DebitLine, pain008_build
from ispbill.sepa.rules import SepaError, mandate_expired, next_target_day, sepa_text

__all__ = [
    "DAYS_AHEAD",
    "CollectionPlan",
    "PlannedDebit",
    "collection_collect",
    "collection_discard",
    "collection_plan",
    "collection_run",
    "collection_submit",
]

# A run on day D collects the invoices notified for collection up to D + DAYS_AHEAD: the file
# must reach the bank at least one TARGET2 day before its collection date, and a few days of
# margin let a weekly run cover the week.
DAYS_AHEAD = 5


@dataclass
class PlannedDebit:
    customer: Customer
    mandate: Mandate
    sequence: str
    invoices: list[tuple[Invoice, int]]  # (invoice, open amount in minor units)

    @property
    def amount_minor(self) -> int:
        return sum(amount for _, amount in self.invoices)


@dataclass
class CollectionPlan:
    issuer: Partner
    settings: CreditorSettings
    collection_date: date
    debits: list[PlannedDebit] = field(default_factory=list)

    @property
    def total_minor(self) -> int:
        return sum(d.amount_minor for d in self.debits)

    @property
    def total(self) -> Money:
        return Money.from_minor(self.total_minor, "EUR")


@dataclass
class PlanResult:
    plans: list[CollectionPlan]
    skipped: list[tuple[Invoice, str]]  # notified invoices left out, and why
    expired: list[Mandate]  # mandates found unused for 36 months


def earliest_collection_date(on: date) -> date:
    """The first date a batch made on ``on`` can be collected: the next TARGET2 day after it
    (the file reaches the bank at least one business day before)."""
    return next_target_day(on + timedelta(days=1))


def collection_plan(
    *, on: date, until: date | None = None, issuer_ids: list[int] | None = None
) -> PlanResult:
    """What a run on ``on`` would collect: every open invoice with a pre-notification dated up
    to ``until`` (default ``on`` + DAYS_AHEAD) not yet in a debit, under its customer's active
    mandate with the issuer, grouped by issuer and collection date (the notified date, or
    the earliest possible one when that has passed). Reads only, in the open scope."""
    until = until or on + timedelta(days=DAYS_AHEAD)
    earliest = earliest_collection_date(on)
    notices = DebitNotice.objects.filter(
        collection_date__lte=until,
        invoice__status__in=[InvoiceStatus.UNPAID, InvoiceStatus.PARTIALLY_PAID],
        invoice__sepa_debit__isnull=True,
    )
    if issuer_ids is not None:
        notices = notices.filter(invoice__issuer_id__in=issuer_ids)
    rows = list(notices.select_related("invoice").order_by("collection_date", "invoice_id"))
    if not rows:
        return PlanResult([], [], [])
    issuer_set = sorted({n.invoice.issuer_id for n in rows})
    settings = creditor_settings_for(issuer_set)
    issuers = {p.pk: p for p in Partner.objects.filter(pk__in=issuer_set)}
    customers = {
        c.pk: c for c in Customer.objects.filter(pk__in=sorted({n.customer_id for n in rows}))
    }
    mandates = {
        (m.customer_id, m.creditor_id): m
        for m in Mandate.objects.filter(
            customer_id__in=list(customers), status=MandateStatus.ACTIVE
        ).filter(Q(creditor_id__in=issuer_set))
    }
    plans: dict[tuple[int, date], CollectionPlan] = {}
    by_debit: dict[tuple[int, date, int], PlannedDebit] = {}
    sequence_now: dict[int, str] = {}
    skipped: list[tuple[Invoice, str]] = []
    expired: dict[int, Mandate] = {}
    for notice in rows:
        inv = notice.invoice
        open_minor = inv.open_minor
        if open_minor <= 0:
            continue
        if inv.issuer_id not in settings:
            skipped.append((inv, "the issuer's direct debit is switched off"))
            continue
        mandate = mandates.get((inv.customer_id, inv.issuer_id))
        if mandate is None:
            skipped.append((inv, "the customer has no active mandate"))
            continue
        when = max(notice.collection_date, earliest)
        if mandate_expired(
            last_used=mandate.last_collection_date, signed=mandate.signature_date, on=when
        ):
            expired[mandate.pk] = mandate
            skipped.append((inv, f"mandate {mandate.reference} expired (unused for 36 months)"))
            continue
        key = (inv.issuer_id, when, mandate.pk)
        debit = by_debit.get(key)
        if debit is None:
            sequence = sequence_now.get(mandate.pk, mandate.sequence)
            if sequence == "DONE":
                skipped.append((inv, f"mandate {mandate.reference} has its final collection"))
                continue
            debit = PlannedDebit(customers[inv.customer_id], mandate, sequence, [])
            by_debit[key] = debit
            # After a first collection the next is recurring; after the final, none.
            sequence_now[mandate.pk] = "DONE" if sequence == SequenceType.FNAL else "RCUR"
            plan = plans.get((inv.issuer_id, when))
            if plan is None:
                plan = plans[(inv.issuer_id, when)] = CollectionPlan(
                    issuers[inv.issuer_id], settings[inv.issuer_id], when
                )
            plan.debits.append(debit)
        debit.invoices.append((inv, open_minor))
    ordered = sorted(plans.values(), key=lambda p: (p.issuer.pk, p.collection_date))
    return PlanResult(ordered, skipped, list(expired.values()))


def _remittance(debit: PlannedDebit) -> str:
    numbers = ", ".join(inv.number for inv, _ in debit.invoices)
    prefix = "Invoice " if len(debit.invoices) == 1 else "Invoices "
    return sepa_text(f"{prefix}{numbers} / {debit.customer.reference}", 140)


@transaction.atomic
def collection_run(
    *,
    on: date,
    until: date | None = None,
    issuer_ids: list[int] | None = None,
    actor: Any = None,
) -> list[Collection]:
    """Create the batches of ``collection_plan`` (draft), each with its pain.008 file. The
    unique invoice of ``DebitInvoice`` makes a second run, or one running at the same time,
    collect nothing twice: the loser is rolled back whole and asked to run again."""
    result = collection_plan(on=on, until=until, issuer_ids=issuer_ids)
    now = timezone.now()
    label = getattr(actor, "username", None) or (actor if isinstance(actor, str) else "system")
    for mandate in result.expired:
        Mandate.objects.filter(pk=mandate.pk, status=MandateStatus.ACTIVE).update(
            status=MandateStatus.EXPIRED, ended_on=on, end_reason="unused for 36 months"
        )
        audit_record(
            action="sepa.mandate_expired",
            obj=mandate,
            actor=actor,
            changes={"reference": mandate.reference, "on": on.isoformat()},
        )
    created: list[Collection] = []
    for plan in result.plans:
        s = plan.settings
        batch = Collection.objects.create(
            partner=plan.issuer,
            collection_date=plan.collection_date,
            message_id=f"~{uuid.uuid4().hex[:30]}",
            currency="EUR",
            count=len(plan.debits),
            total_minor=plan.total_minor,
            creditor_id=s.creditor_id,
            creditor_name=s.creditor_name,
            iban=s.iban,
            bic=s.bic,
            xml="",
            created_by=str(label)[:150],
        )
        batch.message_id = f"ISPB-{plan.issuer.pk}-{batch.pk}-{plan.collection_date:%Y%m%d}"
        lines: list[DebitLine] = []
        for n, planned in enumerate(plan.debits, 1):
            m = planned.mandate
            debit = Debit.objects.create(
                partner_id=planned.customer.partner_id,
                collection=batch,
                customer=planned.customer,
                mandate=m,
                sequence=planned.sequence,
                end_to_end_id=f"ISPB-{batch.pk}-{n}",
                amount_minor=planned.amount_minor,
                currency="EUR",
                remittance=_remittance(planned),
            )
            try:
                with transaction.atomic():
                    DebitInvoice.objects.bulk_create(
                        DebitInvoice(
                            partner_id=inv.partner_id,
                            debit=debit,
                            invoice=inv,
                            amount_minor=amount,
                        )
                        for inv, amount in planned.invoices
                    )
            except IntegrityError as exc:
                raise SepaError(
                    "Another collection run took some of these invoices at the same time; "
                    "run the collection again.",
                    code="conflict",
                ) from exc
            lines.append(
                DebitLine(
                    end_to_end_id=debit.end_to_end_id,
                    amount_minor=debit.amount_minor,
                    sequence=debit.sequence,
                    mandate_reference=m.reference,
                    signature_date=m.signature_date,
                    debtor_name=m.debtor_name,
                    iban=m.iban,
                    bic=m.bic,
                    remittance=debit.remittance,
                )
            )
            _mandate_after_planned(m, planned.sequence, plan.collection_date)
        batch.xml = pain008_build(
            message_id=batch.message_id,
            created_at=batch.created_at or now,
            creditor_name=s.creditor_name,
            creditor_id=s.creditor_id,
            iban=s.iban,
            bic=s.bic,
            collection_date=plan.collection_date,
            debits=lines,
        ).decode("utf-8")
        batch.save(update_fields=["message_id", "xml"])
        audit_record(
            action="sepa.collection_created",
            obj=batch,
            actor=actor,
            changes={
                "collection_date": plan.collection_date.isoformat(),
                "debits": len(plan.debits),
                "total": str(plan.total),
                "message_id": batch.message_id,
            },
        )
        created.append(batch)
    return created


def _mandate_after_planned(mandate: Mandate, sequence: str, on: date) -> None:
    """A first debit planned makes the mandate's next one recurring; a final one ends it."""
    if sequence == SequenceType.FNAL:
        Mandate.objects.filter(pk=mandate.pk).update(
            status=MandateStatus.COMPLETED, ended_on=on, end_reason="final collection"
        )
    elif sequence == SequenceType.FRST:
        Mandate.objects.filter(pk=mandate.pk, sequence=SequenceType.FRST).update(
            sequence=SequenceType.RCUR
        )


def _locked(batch: Collection) -> Collection:
    return Collection.objects.select_for_update().get(pk=batch.pk)


@transaction.atomic
def collection_discard(*, batch: Collection, actor: Any = None) -> None:
    """Delete a draft batch that was never sent: its invoices can be collected again, and
    its mandates get back the sequence they had."""
    locked = _locked(batch)
    if locked.status != CollectionStatus.DRAFT:
        raise SepaError(
            f"Batch {locked.message_id} was submitted to the bank; it cannot be discarded.",
            code="conflict",
        )
    debits = list(Debit.objects.filter(collection=locked).select_related("mandate"))
    for d in debits:
        others = Debit.objects.filter(mandate=d.mandate).exclude(collection=locked)
        if d.sequence == SequenceType.FRST and not others.exists():
            Mandate.objects.filter(pk=d.mandate_id).update(sequence=SequenceType.FRST)
        elif d.sequence == SequenceType.FNAL:
            Mandate.objects.filter(pk=d.mandate_id, status=MandateStatus.COMPLETED).update(
                status=MandateStatus.ACTIVE, ended_on=None, end_reason=""
            )
    audit_record(
        action="sepa.collection_discarded",
        obj=locked,
        actor=actor,
        changes={"message_id": locked.message_id, "debits": len(debits)},
    )
    DebitInvoice.objects.filter(debit__collection=locked).delete()
    Debit.objects.filter(collection=locked).delete()
    locked.delete()


@transaction.atomic
def collection_submit(*, batch: Collection, actor: Any = None) -> Collection:
    """The file was sent to the bank: from now on the batch is what the bank has."""
    locked = _locked(batch)
    if locked.status != CollectionStatus.DRAFT:
        raise SepaError(f"Batch {locked.message_id} is submitted already.", code="conflict")
    locked.status = CollectionStatus.SUBMITTED
    locked.submitted_at = timezone.now()
    locked.save(update_fields=["status", "submitted_at"])
    audit_record(
        action="sepa.collection_submitted",
        obj=locked,
        actor=actor,
        changes={"message_id": locked.message_id},
    )
    return locked


@transaction.atomic
def collection_collect(*, batch: Collection, actor: Any = None) -> Collection:
    """The bank credited the batch: each debit not rejected becomes a payment dated the
    collection date (method direct debit, reference its end-to-end id), allocated to the
    invoices it collected first, through the normal payment path (ledger, commission,
    unblocking)."""
    locked = _locked(batch)
    if locked.status != CollectionStatus.SUBMITTED:
        raise SepaError(
            f"Batch {locked.message_id} is {locked.get_status_display().lower()}; only a "
            "submitted batch is collected.",
            code="conflict",
        )
    debits = list(
        Debit.objects.filter(collection=locked, status=DebitStatus.PENDING)
        .select_related("customer", "mandate")
        .order_by("id")
    )
    invoices: dict[int, list[int]] = defaultdict(list)
    for debit_id, invoice_id in DebitInvoice.objects.filter(debit__collection=locked).values_list(
        "debit_id", "invoice_id"
    ):
        invoices[debit_id].append(invoice_id)
    for d in debits:
        try:
            payment = payment_record(
                customer=d.customer,
                amount=Money.from_minor(d.amount_minor, d.currency),
                on=locked.collection_date,
                method=PaymentMethod.DIRECT_DEBIT,
                reference=d.end_to_end_id,
                note=f"SEPA {d.sequence} mandate {d.mandate.reference}",
                actor=actor,
                allocate_first=invoices[d.pk],
            )
        except PaymentError as exc:
            raise SepaError(
                f"The debit {d.end_to_end_id} of customer {d.customer.reference} could not be "
                f"booked: {exc}",
                code="conflict",
            ) from exc
        d.payment = payment
        d.status = DebitStatus.COLLECTED
        d.save(update_fields=["payment", "status"])
        Mandate.objects.filter(pk=d.mandate_id).update(last_collection_date=locked.collection_date)
    locked.status = CollectionStatus.COLLECTED
    locked.collected_at = timezone.now()
    locked.save(update_fields=["status", "collected_at"])
    audit_record(
        action="sepa.collection_collected",
        obj=locked,
        actor=actor,
        changes={
            "message_id": locked.message_id,
            "payments": len(debits),
            "total": str(Money.from_minor(sum(d.amount_minor for d in debits), "EUR")),
        },
    )
    return locked
