"""Partner invariants verified by ``ispbill check``: one home partner, valid issuer
settings, commission statements that add up and posted once."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import F, Sum

from ispbill.core.invariants import Breach, invariant
from ispbill.core.money import InvalidCurrency, validate_currency
from ispbill.core.numbering import PatternError, validate_pattern
from ispbill.ledger.models import AccountCode, JournalEntry, Posting
from ispbill.partners.models import (
    CommissionAccrual,
    CommissionStatement,
    Partner,
    PartnerMode,
    StatementStatus,
)
from ispbill.partners.statements import APPROVAL_KIND, APPROVAL_SOURCE, PAYOUT_KIND

LIMIT = 20


def _ids(values: list[int]) -> tuple[str, ...]:
    return tuple(f"statement:{v}" for v in values[:LIMIT])


@invariant("partners.home")
def check_home_partner() -> list[Breach]:
    homes = list(Partner.objects.filter(is_home=True).values_list("pk", flat=True))
    if len(homes) != 1:
        return [Breach("partners.home", f"expected one home partner, found {len(homes)}")]
    return []


@invariant("partners.issuer_settings")
def check_issuer_settings() -> list[Breach]:
    out = []
    for p in Partner.objects.all():
        for attr in (
            "invoice_number_pattern",
            "credit_note_number_pattern",
            "receipt_number_pattern",
        ):
            try:
                validate_pattern(getattr(p, attr))
            except PatternError as exc:
                out.append(
                    Breach("partners.issuer_settings", f"{attr}: {exc}", (f"partner:{p.pk}",))
                )
        try:
            validate_currency(p.currency)
        except InvalidCurrency as exc:
            out.append(Breach("partners.issuer_settings", str(exc), (f"partner:{p.pk}",)))
        if p.account_id is not None and p.account is not None and not p.account.partner.is_home:
            out.append(
                Breach(
                    "partners.issuer_settings",
                    "a partner's account must be a customer of the home partner",
                    (f"partner:{p.pk}", f"customer:{p.account_id}"),
                )
            )
        if p.mode == PartnerMode.AGGREGATED and p.account_id is None:
            out.append(
                Breach(
                    "partners.issuer_settings",
                    "an aggregated partner needs an account to be billed",
                    (f"partner:{p.pk}",),
                )
            )
    return out


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
        CommissionStatement.objects.values_list("pk", "total_minor", "status").order_by("pk")
    )
    bad_total = [pk for pk, total, _ in statements if sums.get(pk, 0) != total]
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
    for pk, total, status in statements:
        expected_approval = [total] if total and status != StatementStatus.DRAFT else []
        expected_payout = [total] if total and status == StatementStatus.PAID else []
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
