"""The ledger's own invariant (docs/domain.md, "Ledger"): every journal entry balances.

Checks that compare the ledger with documents live with the documents' apps (payments,
billing), which know both; the ledger is told, it never asks them."""

from __future__ import annotations

from django.db.models import Count, Sum

from ispbill.core.invariants import Breach, invariant
from ispbill.ledger.models import JournalEntry, Posting

LIMIT = 20


def _ids(prefix: str, values: object) -> tuple[str, ...]:
    return tuple(f"{prefix}:{v}" for v in list(values)[:LIMIT])  # type: ignore[call-overload]


@invariant("ledger.entries_balance")
def check_entries_balance() -> list[Breach]:
    bad = (
        Posting.objects.values("entry_id", "currency")
        .annotate(s=Sum("amount_minor"))
        .exclude(s=0)
        .values_list("entry_id", flat=True)
    )
    out = []
    if bad:
        out.append(
            Breach(
                "ledger.entries_balance",
                "journal entries whose postings do not sum to zero",
                _ids("entry", bad),
            )
        )
    totals = Posting.objects.values("currency").annotate(s=Sum("amount_minor")).exclude(s=0)
    for row in totals:
        out.append(
            Breach(
                "ledger.entries_balance",
                f"postings in {row['currency']} sum to {row['s']}, not zero",
            )
        )
    empty = (
        JournalEntry.objects.annotate(n=Count("postings")).filter(n=0).values_list("pk", flat=True)
    )
    if empty:
        out.append(
            Breach(
                "ledger.entries_balance", "journal entries without postings", _ids("entry", empty)
            )
        )
    return out
