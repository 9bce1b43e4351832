"""Commission statement invariants verified by ``ispbill check``: a statement adds up to its
lines and posted once (its check keeps the name ``partners.statements``)."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import F, Sum

from ispbill.commission.statements import APPROVAL_KIND, APPROVAL_SOURCE, PAYOUT_KIND
from ispbill.core.invariants import Breach, invariant
from ispbill.ledger.models import AccountCode, JournalEntry, Posting
from ispbill.partners.models import CommissionAccrual, CommissionStatement, StatementStatus

LIMIT = 20


def _ids(values: list[int]) -> tuple[str, ...]:
    return tuple(f"statement:{v}" for v in values[:LIMIT])


@invariant("partners.statements")
def check_statements() -> list[Breach]:
    """A statement's total is the sum of its lines, its lines are its partner's, and an
    approved (paid) statement posted its commission (payout) exactly once, for its total."""
    out = []
    sums = dict(
        CommissionAccrual.objects.filter(statement__isnull=False)
        .values_list("statement_id")
        .annotate(s=Sum("amount_minor"))
        .values_list("statement_id", "s")
    )
    statements = list(
        CommissionStatement.objects.values_list(
            "pk", "total_minor", "status", "gross_minor"
        ).order_by("pk")
    )
    bad_total = [pk for pk, total, _, _ in statements if sums.get(pk, 0) != total]
    if bad_total:
        out.append(
            Breach(
                "partners.statements", "total differs from the sum of its lines", _ids(bad_total)
            )
        )
    foreign = list(
        CommissionAccrual.objects.filter(statement__isnull=False)
        .exclude(partner_id=F("statement__partner_id"))
        .values_list("statement_id", flat=True)
        .distinct()
    )
    if foreign:
        out.append(Breach("partners.statements", "lines of another partner", _ids(foreign)))
    # Posted amount per (statement, kind), from the partner-facing side of each entry.
    posted: dict[tuple[int, str], list[int]] = defaultdict(list)
    entry_amounts = dict(
        Posting.objects.filter(
            entry__source_type=APPROVAL_SOURCE,
            account__in=[AccountCode.COMMISSION_EXPENSE, AccountCode.BANK],
        )
        .values_list("entry_id")
        .annotate(s=Sum("amount_minor"))
        .values_list("entry_id", "s")
    )
    for entry_id, source_id, kind in JournalEntry.objects.filter(
        source_type=APPROVAL_SOURCE, reverses__isnull=True
    ).values_list("pk", "source_id", "kind"):
        amount = entry_amounts.get(entry_id, 0)
        posted[(source_id, kind)].append(amount if kind == APPROVAL_KIND else -amount)
    bad_posting = []
    for pk, total, status, gross in statements:
        # Approval posts the net commission as expense; the payout the gross (with VAT).
        expected_approval = [total] if total and status != StatementStatus.DRAFT else []
        expected_payout = [gross] if gross and status == StatementStatus.PAID else []
        if (
            posted.get((pk, APPROVAL_KIND), []) != expected_approval
            or posted.get((pk, PAYOUT_KIND), []) != expected_payout
        ):
            bad_posting.append(pk)
    if bad_posting:
        out.append(
            Breach(
                "partners.statements",
                "approval or payout not posted exactly once for the statement's total",
                _ids(bad_posting),
            )
        )
    return out
