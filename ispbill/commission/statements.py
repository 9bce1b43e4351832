"""Commission statements (DOMAIN.md "Percentage"): a partner's accrual lines of one month.

``commission_statement_build`` collects the month's accrual lines that are on no statement
yet into the partner's draft statement; its total is the sum of its lines. Building again
adds lines that arrived since (a payment recorded later the same month) and changes nothing
else. Lines dated in an earlier month whose statement is already approved (a back-dated
payment) are carried to the next statement built, so no line is ever lost.

``commission_statement_approve`` freezes the statement and posts the commission in the home
partner's books (Dr commission expense, Cr commission payable, counterparty: the partner);
``commission_statement_pay`` records the payout (Dr commission payable, Cr bank). A negative
total (more credited than earned) posts the same entries with the signs reversed: the
partner then owes the operator. A zero total posts nothing."""

from __future__ import annotations

import calendar
import io
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from ispbill.core.audit import audit_record
from ispbill.core.money import Money
from ispbill.core.spreadsheet import csv_writer
from ispbill.invoicing.documents import document_party
from ispbill.invoicing.models import Invoice
from ispbill.invoicing.pdfs import issuer_document_pdf_degrading
from ispbill.invoicing.snapshots import issuer_snapshot
from ispbill.ledger.models import AccountCode
from ispbill.ledger.posting import EntryDraft, ledger_post_many
from ispbill.partners.models import (
    CommissionAccrual,
    CommissionStatement,
    Partner,
    PartnerMode,
    StatementStatus,
)

APPROVAL_SOURCE = "commission_statement"
APPROVAL_KIND = "commission"
PAYOUT_KIND = "commission_payout"


class StatementError(ValueError):
    """A statement action that is not possible; the message says why and what to do."""


def month_bounds(month: date) -> tuple[date, date]:
    """First and last day of the month ``month`` falls in."""
    last = calendar.monthrange(month.year, month.month)[1]
    return date(month.year, month.month, 1), date(month.year, month.month, last)


def _recompute_total(statement: CommissionStatement) -> int:
    total = statement.lines.aggregate(s=Sum("amount_minor"))["s"] or 0
    return int(total)


@transaction.atomic
def commission_statement_build(
    *, partner: Partner, month: date, actor: Any = None
) -> CommissionStatement:
    """The partner's statement for ``month`` with every unassigned line of that month."""
    # The partner row is the lock: two builds of the same partner run one after the other.
    partner = Partner.objects.select_for_update(no_key=True).get(pk=partner.pk)
    if partner.is_home:
        raise StatementError("The home partner earns no commission; choose a reseller.")
    start, end = month_bounds(month)
    unassigned = CommissionAccrual.objects.filter(partner=partner, statement__isnull=True)
    has_lines = unassigned.filter(date__lte=end).exists()
    if partner.mode != PartnerMode.PERCENTAGE and not has_lines:
        # A partner that left percentage mode still gets statements for what it earned.
        raise StatementError(
            f"{partner.name} is not a percentage partner and has no commission for "
            f"{start:%B %Y}; there is nothing to put on a statement."
        )
    home = Partner.objects.get(is_home=True)
    statement, created = CommissionStatement.objects.select_for_update(no_key=True).get_or_create(
        partner=partner,
        period_start=start,
        defaults={"period_end": end, "currency": home.currency},
    )
    if statement.status != StatementStatus.DRAFT:
        return statement
    closed_months = set(
        CommissionStatement.objects.filter(partner=partner, period_start__lt=start)
        .exclude(status=StatementStatus.DRAFT)
        .values_list("period_start", flat=True)
    )
    ids = list(unassigned.filter(date__gte=start, date__lte=end).values_list("pk", flat=True))
    ids += [
        pk
        for pk, on in unassigned.filter(date__lt=start).values_list("pk", "date")
        if on.replace(day=1) in closed_months
    ]
    wrong_currency = (
        CommissionAccrual.objects.filter(pk__in=ids)
        .exclude(currency=statement.currency)
        .values_list("pk", flat=True)
    )
    if wrong_currency:
        raise StatementError(
            f"Commission lines {list(wrong_currency)} are not in {statement.currency}; "
            "a statement holds one currency."
        )
    added = CommissionAccrual.objects.filter(pk__in=ids).update(statement=statement)
    if added or created:
        statement.total_minor = _recompute_total(statement)
        statement.save(update_fields=["total_minor"])
        audit_record(
            action="commission_statement.built",
            obj=statement,
            actor=actor,
            changes={
                "month": start.isoformat(),
                "lines_added": added,
                "total": str(Money.from_minor(statement.total_minor, statement.currency)),
            },
        )
    return statement


def _locked(statement: CommissionStatement) -> CommissionStatement:
    return CommissionStatement.objects.select_for_update(no_key=True).get(pk=statement.pk)


def _entry(
    *, statement: CommissionStatement, home: Partner, on: date, kind: str, description: str
) -> EntryDraft:
    return EntryDraft(
        home.pk, on, kind, description, APPROVAL_SOURCE, statement.pk, statement.currency
    )


@transaction.atomic
def commission_statement_approve(
    *, statement: CommissionStatement, actor: Any = None, on: date | None = None
) -> CommissionStatement:
    """Draft -> approved: the total is owed to the partner and posted to the ledger."""
    st = _locked(statement)
    if st.status != StatementStatus.DRAFT:
        raise StatementError(
            f"The statement of {st.period_start:%B %Y} is already {st.status}; "
            "only a draft can be approved."
        )
    total = _recompute_total(st)
    if total != st.total_minor:
        raise StatementError(
            "The statement's total no longer matches its lines; build it again, then approve."
        )
    on = on or timezone.localdate()
    home = Partner.objects.get(is_home=True)
    partner = Partner.objects.get(pk=st.partner_id)
    if total:
        ledger_post_many(
            [
                _entry(
                    statement=st,
                    home=home,
                    on=on,
                    kind=APPROVAL_KIND,
                    description=f"Commission {partner.name} {st.period_start:%Y-%m}",
                )
                .add(AccountCode.COMMISSION_EXPENSE, total, counterparty_id=partner.pk)
                .add(AccountCode.COMMISSION_PAYABLE, -total, counterparty_id=partner.pk)
            ]
        )
    st.status = StatementStatus.APPROVED
    st.approved_at = timezone.now()
    st.save(update_fields=["status", "approved_at"])
    audit_record(
        action="commission_statement.approved",
        obj=st,
        actor=actor,
        changes={
            "status": {"before": StatementStatus.DRAFT, "after": StatementStatus.APPROVED},
            "total": str(Money.from_minor(total, st.currency)),
            "date": on.isoformat(),
        },
    )
    return st


@transaction.atomic
def commission_statement_pay(
    *, statement: CommissionStatement, on: date, reference: str, actor: Any = None
) -> CommissionStatement:
    """Approved -> paid: the payout to the partner left the bank."""
    st = _locked(statement)
    if st.status == StatementStatus.DRAFT:
        raise StatementError(
            f"The statement of {st.period_start:%B %Y} is still a draft; approve it first."
        )
    if st.status == StatementStatus.PAID:
        raise StatementError(
            f"The statement of {st.period_start:%B %Y} is already paid "
            f"(reference {st.payout_reference or '-'})."
        )
    reference = reference.strip()
    if not reference:
        raise StatementError("Give the payout's bank reference; it identifies the transfer.")
    home = Partner.objects.get(is_home=True)
    partner = Partner.objects.get(pk=st.partner_id)
    if st.total_minor:
        ledger_post_many(
            [
                _entry(
                    statement=st,
                    home=home,
                    on=on,
                    kind=PAYOUT_KIND,
                    description=f"Commission payout {partner.name} {reference}",
                )
                .add(AccountCode.COMMISSION_PAYABLE, st.total_minor, counterparty_id=partner.pk)
                .add(AccountCode.BANK, -st.total_minor)
            ]
        )
    st.status = StatementStatus.PAID
    st.paid_at = timezone.now()
    st.payout_reference = reference[:140]
    st.save(update_fields=["status", "paid_at", "payout_reference"])
    audit_record(
        action="commission_statement.paid",
        obj=st,
        actor=actor,
        changes={
            "status": {"before": StatementStatus.APPROVED, "after": StatementStatus.PAID},
            "total": str(Money.from_minor(st.total_minor, st.currency)),
            "date": on.isoformat(),
            "reference": reference,
        },
    )
    return st


def _decimal(minor: int, currency: str) -> str:
    return str(Money.from_minor(minor, currency).amount)


def _percent(rate_bp: int) -> str:
    return f"{rate_bp // 100}.{rate_bp % 100:02d}"


CSV_HEADER = (
    "date",
    "source",
    "source_id",
    "invoice",
    "rate_percent",
    "base",
    "commission",
    "currency",
)


def commission_statement_csv(statement: CommissionStatement) -> str:
    """The statement's lines and total as CSV: bare decimals (never floats), text quoted and
    neutralised (ispbill/core/spreadsheet.py)."""
    lines = list(statement.lines.order_by("date", "pk"))
    numbers = dict(
        Invoice.objects.filter(pk__in={a.invoice_id for a in lines}).values_list("pk", "number")
    )
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(CSV_HEADER)
    for a in lines:
        writer.writerow(
            (
                a.date.isoformat(),
                a.source_type,
                a.source_id,
                numbers.get(a.invoice_id, ""),
                Decimal(_percent(a.rate_bp)),
                Decimal(_decimal(a.base_minor, a.currency)),
                Decimal(_decimal(a.amount_minor, a.currency)),
                a.currency,
            )
        )
    writer.writerow(
        (
            statement.period_end.isoformat(),
            "total",
            "",
            "",
            "",
            "",
            Decimal(_decimal(statement.total_minor, statement.currency)),
            statement.currency,
        )
    )
    return out.getvalue()


def statement_partners(*, month: date) -> list[Partner]:
    """Partners that get a statement for ``month``: every percentage partner, and any other
    (one that left percentage mode) with commission lines not on a statement yet."""
    _, end = month_bounds(month)
    with_lines = set(
        CommissionAccrual.objects.filter(statement__isnull=True, date__lte=end).values_list(
            "partner_id", flat=True
        )
    )
    return [
        p
        for p in Partner.objects.filter(is_home=False).order_by("pk")
        if p.mode == PartnerMode.PERCENTAGE or p.pk in with_lines
    ]


_SOURCE_TEXT = {
    "en": {"invoice": "Invoice", "allocation": "Payment", "credit_note": "Credit note"},
    "de": {"invoice": "Rechnung", "allocation": "Zahlung", "credit_note": "Gutschrift"},
}


def _partner_language(partner: Partner) -> str:
    account = partner.account
    if account is not None:
        return "de" if account.language == "de" else "en"
    return "de" if partner.country in ("DE", "AT", "CH", "LI") else "en"


def commission_statement_document_data(statement: CommissionStatement) -> dict[str, Any]:
    """The statement as a document for ``ispbill.documents`` (issuer: the home partner,
    recipient: the partner), one entry per accrual line."""
    partner = statement.partner
    home = Partner.objects.get(is_home=True)
    language = _partner_language(partner)
    cur = statement.currency
    lines = list(statement.lines.order_by("date", "pk"))
    numbers = dict(
        Invoice.objects.filter(pk__in={a.invoice_id for a in lines}).values_list("pk", "number")
    )
    recipient = document_party(issuer_snapshot(partner), recipient=False)
    recipient["customer_reference"] = str(partner.pk)
    issued = statement.approved_at.date() if statement.approved_at else statement.period_end
    return {
        "issuer": document_party(issuer_snapshot(home), recipient=False),
        "recipient": recipient,
        "document": {
            "type": "commission_statement",
            "number": f"CS-{partner.pk}-{statement.period_start:%Y-%m}",
            "issue_date": issued.isoformat(),
            "period_start": statement.period_start.isoformat(),
            "period_end": statement.period_end.isoformat(),
            "currency": cur,
            "language": language,
            "prices_include_tax": False,
            "notes": "",
        },
        "entries": [
            {
                "date": a.date.isoformat(),
                "description": _SOURCE_TEXT[language].get(a.source_type, a.source_type),
                "reference": numbers.get(a.invoice_id, ""),
                "base": _decimal(a.base_minor, cur),
                "percent": _percent(a.rate_bp),
                "amount": _decimal(a.amount_minor, cur),
            }
            for a in lines
        ],
        "totals": {
            "base": _decimal(sum(a.base_minor for a in lines), cur),
            "amount": _decimal(statement.total_minor, cur),
        },
    }


def commission_statement_pdf(statement: Any) -> bytes:
    """A commission statement, rendered now with the home partner's template."""
    home = Partner.objects.get(is_home=True)
    return issuer_document_pdf_degrading(
        issuer_id=home.pk, data=commission_statement_document_data(statement)
    )[0]
