"""SEPA invariants, part of ``ispbill check`` (docs/payments.md, "Invariants")."""

from __future__ import annotations

from django.db.models import Count, F, Sum

from ispbill.core.invariants import Breach, invariant
from ispbill.sepa.models import (
    Collection,
    CollectionStatus,
    Debit,
    DebitInvoice,
    DebitReturn,
    DebitStatus,
)

LIMIT = 20


def _ids(prefix: str, values: list[int]) -> tuple[str, ...]:
    return tuple(f"{prefix}:{v}" for v in values[:LIMIT])


@invariant("sepa.collections")
def check_collections() -> list[Breach]:
    out: list[Breach] = []
    sums = dict(
        Debit.objects.values_list("collection_id")
        .annotate(s=Sum("amount_minor"))
        .values_list("collection_id", "s")
    )
    counts = dict(
        Debit.objects.values_list("collection_id")
        .annotate(n=Count("id"))
        .values_list("collection_id", "n")
    )
    bad = [
        pk
        for pk, total, count in Collection.objects.values_list("pk", "total_minor", "count")
        if sums.get(pk, 0) != total or counts.get(pk, 0) != count
    ]
    if bad:
        out.append(
            Breach("sepa.collections", "batch totals differ from their debits", _ids("batch", bad))
        )
    parts = dict(
        DebitInvoice.objects.values_list("debit_id")
        .annotate(s=Sum("amount_minor"))
        .values_list("debit_id", "s")
    )
    bad = [
        pk
        for pk, amount in Debit.objects.values_list("pk", "amount_minor")
        if parts.get(pk) != amount
    ]
    if bad:
        out.append(
            Breach(
                "sepa.collections",
                "debits whose amount is not the sum of their invoices",
                _ids("debit", bad),
            )
        )
    foreign = list(
        DebitInvoice.objects.exclude(invoice__customer_id=F("debit__customer_id")).values_list(
            "debit_id", flat=True
        )
    )
    if foreign:
        out.append(
            Breach(
                "sepa.collections", "debits of another customer's invoice", _ids("debit", foreign)
            )
        )
    unbooked = list(
        Debit.objects.filter(
            collection__status=CollectionStatus.COLLECTED,
            status__in=[DebitStatus.COLLECTED, DebitStatus.RETURNED],
            payment__isnull=True,
        ).values_list("pk", flat=True)
    )
    wrong = list(
        Debit.objects.filter(payment__isnull=False)
        .exclude(payment__amount_minor=F("amount_minor"), payment__method="direct_debit")
        .values_list("pk", flat=True)
    )
    early = list(
        Debit.objects.filter(payment__isnull=False)
        .exclude(payment__date=F("collection__collection_date"))
        .values_list("pk", flat=True)
    )
    if unbooked or wrong or early:
        out.append(
            Breach(
                "sepa.collections",
                "collected debits without their payment, or with one of another amount, "
                "method or date",
                _ids("debit", unbooked + wrong + early),
            )
        )
    pending = list(
        Debit.objects.filter(
            collection__status=CollectionStatus.COLLECTED, status=DebitStatus.PENDING
        ).values_list("pk", flat=True)
    )
    if pending:
        out.append(
            Breach(
                "sepa.collections",
                "debits of collected batches never booked",
                _ids("debit", pending),
            )
        )
    returned = list(
        DebitReturn.objects.filter(debit__payment__isnull=False)
        .exclude(refund__amount_minor=F("amount_minor"))
        .values_list("pk", flat=True)
    )
    if returned:
        out.append(
            Breach(
                "sepa.returns",
                "returns of booked debits without a refund of the whole amount",
                _ids("return", returned),
            )
        )
    return out
