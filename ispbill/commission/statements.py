"""Commission statements (docs/domain.md, "Percentage"): a partner's accrual lines of one month.

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
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Min, Sum
from django.utils import timezone

from ispbill.catalog.models import TaxRate
from ispbill.commission.signals import commission_statement_changed
from ispbill.core.audit import audit_record
from ispbill.core.errors import DomainError
from ispbill.core.money import Money, div_round
from ispbill.core.spreadsheet import csv_writer
from ispbill.documents.facturx import facturx_xml_build
from ispbill.invoicing.documents import document_party
from ispbill.invoicing.models import DocumentType, Invoice
from ispbill.invoicing.pdfs import issuer_document_pdf_degrading, pdf_store, stored_pdf_read
from ispbill.invoicing.sequences import numbers_reserve
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


class StatementError(DomainError):
    """A statement action that is not possible; the message says why and what to do."""

    code = "statement"


def month_bounds(month: date) -> tuple[date, date]:
    """First and last day of the month ``month`` falls in."""
    last = calendar.monthrange(month.year, month.month)[1]
    return date(month.year, month.month, 1), date(month.year, month.month, last)


def _recompute_total(statement: CommissionStatement) -> int:
    total = statement.lines.aggregate(s=Sum("amount_minor"))["s"] or 0
    return int(total)


_TAX_NOTES = {
    "AE": {
        "en": "Reverse charge: VAT is owed by the recipient of the service.",
        "de": "Steuerschuldnerschaft des Leistungsempfängers (Reverse Charge).",
    },
    "O": {
        "en": "No VAT: the partner is not VAT-registered (no VAT id).",
        "de": "Keine Umsatzsteuer: der Partner ist nicht umsatzsteuerlich registriert "
        "(keine USt-IdNr.).",
    },
}


def commission_tax_treatment(partner: Partner, home: Partner) -> tuple[int, str, str]:
    """VAT on a partner's commission (docs/reseller-modes.md, "VAT on the commission"):
    ``(rate_bp, EN 16931 category, note)``.

    - VAT id, in the operator's country: the operator's standard rate (its active tax rate of
      category S with the highest rate), category S;
    - VAT id, in another country (EU or not): reverse charge, 0 %, category AE;
    - no VAT id: no VAT, category O ("not subject to VAT"), with a note saying why."""
    language = _partner_language(partner)
    if not partner.vat_id.strip():
        return 0, "O", _TAX_NOTES["O"][language]
    if partner.country.upper() != home.country.upper():
        return 0, "AE", _TAX_NOTES["AE"][language]
    standard = (
        TaxRate.objects.filter(partner=home, is_active=True, category="S")
        .order_by("-rate_bp", "pk")
        .first()
    )
    if standard is None:
        raise StatementError(
            f"{partner.name} is VAT-registered in {home.country}: VAT is due on its "
            f"commission, but {home.name} has no active standard tax rate (category S). "
            "Add one under Tariffs & tax."
        )
    return standard.rate_bp, "S", ""


def _apply_tax(statement: CommissionStatement, partner: Partner, home: Partner) -> None:
    rate_bp, category, note = commission_tax_treatment(partner, home)
    statement.tax_rate_bp = rate_bp
    statement.tax_category = category
    statement.tax_note = note
    statement.tax_minor = div_round(statement.total_minor * rate_bp, 10_000)
    statement.gross_minor = statement.total_minor + statement.tax_minor


TAX_FIELDS = ["tax_rate_bp", "tax_category", "tax_note", "tax_minor", "gross_minor"]


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
        _apply_tax(statement, partner, home)
        statement.save(update_fields=["total_minor", *TAX_FIELDS])
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


@dataclass
class ClosedMonthsResult:
    """What ``commission_statements_build_closed`` did: statements created, drafts that got
    new lines, and the partner-months that could not be built (with why)."""

    built: list[CommissionStatement] = field(default_factory=list)
    updated: list[CommissionStatement] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def message(self) -> str:
        text = f"{len(self.built)} statement(s) built"
        if self.updated:
            text += f", {len(self.updated)} draft(s) updated with new lines"
        if not self.built and not self.updated:
            text = "Every closed month is built already; nothing new"
        return text + "."


def last_closed_month(today: date, *, statement_day: int = 1) -> date:
    """The first day of the latest month that is over on ``today`` and, with
    ``statement_day`` (the partner's day of the month for building), due to be built."""
    this_month = today.replace(day=1)
    last = (this_month - timedelta(days=1)).replace(day=1)
    if today.day < statement_day:
        last = (last - timedelta(days=1)).replace(day=1)
    return last


def _months(first: date, last: date) -> list[date]:
    out = []
    month = first.replace(day=1)
    while month <= last:
        out.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return out


def commission_statements_build_closed(
    *, today: date | None = None, actor: Any = None, on_statement_day: bool = False
) -> ClosedMonthsResult:
    """Build every closed month not built yet, for every partner that earns commission: a
    percentage partner gets a statement for each month from its first commission line to the
    last closed month (an empty month too, so its series has no holes); a partner that left
    percentage mode only for months with lines left. A draft of a closed month is built
    again (lines that arrived since join it); an approved or paid month is left alone.
    Idempotent: a second call builds nothing. ``on_statement_day`` (the daily work) builds
    the month just closed only from the partner's statement day on."""
    today = today or timezone.localdate()
    result = ClosedMonthsResult()
    firsts = dict(
        CommissionAccrual.objects.values_list("partner_id")
        .annotate(first=Min("date"))
        .values_list("partner_id", "first")
    )
    unassigned_partners = set(
        CommissionAccrual.objects.filter(statement__isnull=True).values_list(
            "partner_id", flat=True
        )
    )
    partners = Partner.objects.filter(is_home=False, pk__in=firsts).order_by("pk")
    for partner in partners:
        percentage = partner.mode == PartnerMode.PERCENTAGE
        if not percentage and partner.pk not in unassigned_partners:
            continue
        day = partner.commission_statement_day if on_statement_day else 1
        last = last_closed_month(today, statement_day=day)
        existing = dict(
            CommissionStatement.objects.filter(partner=partner).values_list(
                "period_start", "status"
            )
        )
        for month in _months(firsts[partner.pk], last):
            status = existing.get(month)
            if status is not None and status != StatementStatus.DRAFT:
                continue
            if not percentage:
                _, end = month_bounds(month)
                if not CommissionAccrual.objects.filter(
                    partner=partner, statement__isnull=True, date__lte=end
                ).exists():
                    continue
            before = (
                CommissionAccrual.objects.filter(
                    statement__partner=partner, statement__period_start=month
                ).count()
                if status is not None
                else 0
            )
            try:
                st = commission_statement_build(partner=partner, month=month, actor=actor)
            except DomainError as exc:
                result.failures.append(f"{partner.name} {month:%Y-%m}: {exc}")
                continue
            if status is None:
                result.built.append(st)
            elif st.lines.count() != before:
                result.updated.append(st)
    return result


def _pdf_render_on_commit(statement_id: int) -> None:
    """After the approval commits, render and store the credit note's PDF in a task (as
    invoices' after issue; off with ``RENDER_PDFS_ON_ISSUE``: the first download stores it)."""
    if not getattr(settings, "RENDER_PDFS_ON_ISSUE", True):
        return

    def dispatch() -> None:
        from ispbill.commission.tasks import commission_statement_pdf_task

        commission_statement_pdf_task.delay(statement_id)

    transaction.on_commit(dispatch, robust=True)


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
    # VAT by the partner's registration as it is now, fixed from here on.
    _apply_tax(st, partner, home)
    if total or st.tax_minor:
        entry = _entry(
            statement=st,
            home=home,
            on=on,
            kind=APPROVAL_KIND,
            description=f"Commission {partner.name} {st.period_start:%Y-%m}",
        ).add(AccountCode.COMMISSION_EXPENSE, total, counterparty_id=partner.pk)
        if st.tax_minor:
            # Input VAT on the partner's service: deducted from the VAT the operator owes.
            entry.add(AccountCode.VAT_PAYABLE, st.tax_minor)
        entry.add(AccountCode.COMMISSION_PAYABLE, -st.gross_minor, counterparty_id=partner.pk)
        ledger_post_many([entry])
    # The self-billing credit note's number: taken in this transaction, so a failed approval
    # returns it and the series has no gaps.
    st.number = numbers_reserve(
        issuer=home, doc_type=DocumentType.SELF_BILLING, issue_date=on, customer_ids=[partner.pk]
    )[0]
    st.issue_date = on
    st.status = StatementStatus.APPROVED
    st.approved_at = timezone.now()
    st.save(update_fields=["status", "approved_at", "number", "issue_date", *TAX_FIELDS])
    _pdf_render_on_commit(st.pk)
    commission_statement_changed.send(sender=CommissionStatement, statement=st)
    audit_record(
        action="commission_statement.approved",
        obj=st,
        actor=actor,
        changes={
            "status": {"before": StatementStatus.DRAFT, "after": StatementStatus.APPROVED},
            "number": st.number,
            "total": str(Money.from_minor(total, st.currency)),
            "tax": str(Money.from_minor(st.tax_minor, st.currency)),
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
    if st.gross_minor:
        ledger_post_many(
            [
                _entry(
                    statement=st,
                    home=home,
                    on=on,
                    kind=PAYOUT_KIND,
                    description=f"Commission payout {partner.name} {reference}",
                )
                .add(AccountCode.COMMISSION_PAYABLE, st.gross_minor, counterparty_id=partner.pk)
                .add(AccountCode.BANK, -st.gross_minor)
            ]
        )
    st.status = StatementStatus.PAID
    st.paid_at = timezone.now()
    st.payout_reference = reference[:140]
    st.save(update_fields=["status", "paid_at", "payout_reference"])
    commission_statement_changed.send(sender=CommissionStatement, statement=st)
    audit_record(
        action="commission_statement.paid",
        obj=st,
        actor=actor,
        changes={
            "status": {"before": StatementStatus.APPROVED, "after": StatementStatus.PAID},
            "total": str(Money.from_minor(st.gross_minor, st.currency)),
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
    "customer",
)


def commission_statement_csv(statement: CommissionStatement) -> str:
    """The statement's lines and total as CSV: bare decimals (never floats), text quoted and
    neutralised (ispbill/core/spreadsheet.py)."""
    lines = list(statement.lines.order_by("date", "pk"))
    sources = _line_sources(lines)
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(CSV_HEADER)
    for a in lines:
        writer.writerow(
            (
                a.date.isoformat(),
                a.source_type,
                a.source_id,
                sources.get(a.invoice_id, ("", "", 0))[0],
                Decimal(_percent(a.rate_bp)),
                Decimal(_decimal(a.base_minor, a.currency)),
                Decimal(_decimal(a.amount_minor, a.currency)),
                a.currency,
                sources.get(a.invoice_id, ("", "", 0))[1],
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
            "",
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
    # Not "Gutschrift": on a self-billing credit note that word names the document itself.
    "de": {"invoice": "Rechnung", "allocation": "Zahlung", "credit_note": "Rechnungskorrektur"},
}


def _partner_language(partner: Partner) -> str:
    account = partner.account
    if account is not None:
        return "de" if account.language == "de" else "en"
    return "de" if partner.country in ("DE", "AT", "CH", "LI") else "en"


def _line_sources(lines: list[CommissionAccrual]) -> dict[int, tuple[str, str, int]]:
    """Invoice id -> (invoice number, customer "name (reference)", customer id)."""
    out = {}
    for pk, number, customer_id, snapshot in Invoice.objects.filter(
        pk__in={a.invoice_id for a in lines}
    ).values_list("pk", "number", "customer_id", "customer_snapshot"):
        snap = snapshot or {}
        name = str(snap.get("company") or snap.get("name") or "")
        ref = str(snap.get("reference") or "")
        out[pk] = (number, f"{name} ({ref})" if ref and name else name or ref, customer_id)
    return out


def statement_line_rows(statement: CommissionStatement) -> list[dict[str, Any]]:
    """The statement's lines with the customer and invoice each comes from (web, API)."""
    lines = list(statement.lines.order_by("date", "pk"))
    sources = _line_sources(lines)
    unknown = ("", "", 0)
    return [
        {
            "line": a,
            "invoice_number": sources.get(a.invoice_id, unknown)[0],
            "customer": sources.get(a.invoice_id, unknown)[1],
            "customer_id": sources.get(a.invoice_id, unknown)[2],
        }
        for a in lines
    ]


def commission_statement_document_data(statement: CommissionStatement) -> dict[str, Any]:
    """The statement as a document for ``ispbill.documents`` (issuer: the home partner,
    recipient: the partner), one entry per accrual line naming its customer and invoice.

    An approved statement is the self-billing credit note (``document.self_billing``, its
    number from the self-billing series): it also carries ``lines``, ``tax_breakdown`` and
    invoice totals, from which the Factur-X XML (type 389) is built."""
    partner = statement.partner
    home = Partner.objects.get(is_home=True)
    language = _partner_language(partner)
    cur = statement.currency
    lines = list(statement.lines.order_by("date", "pk"))
    sources = _line_sources(lines)
    recipient = document_party(issuer_snapshot(partner), recipient=False)
    recipient["customer_reference"] = str(partner.pk)
    issued = statement.issue_date or (
        statement.approved_at.date() if statement.approved_at else statement.period_end
    )
    self_billing = bool(statement.number) and statement.status != StatementStatus.DRAFT
    draft_number = f"CS-{partner.pk}-{statement.period_start:%Y-%m}"
    entries = []
    doc_lines = []
    for a in lines:
        number, customer, _ = sources.get(a.invoice_id, ("", "", 0))
        source = _SOURCE_TEXT[language].get(a.source_type, a.source_type)
        entries.append(
            {
                "date": a.date.isoformat(),
                "description": source,
                "customer": customer,
                "reference": number,
                "base": _decimal(a.base_minor, cur),
                "percent": _percent(a.rate_bp),
                "amount": _decimal(a.amount_minor, cur),
            }
        )
        label = "Provision" if language == "de" else "Commission"
        doc_lines.append(
            {
                "description": f"{label} {_percent(a.rate_bp)} % · {source} {number} · "
                f"{customer}".strip(" ·"),
                "quantity": "1",
                "unit_price": _decimal(a.amount_minor, cur),
                "amount": _decimal(a.amount_minor, cur),
                "tax_rate": _percent(statement.tax_rate_bp),
                "tax_category": statement.tax_category,
            }
        )
    breakdown: dict[str, Any] = {
        "rate": _percent(statement.tax_rate_bp),
        "category": statement.tax_category,
        "net": _decimal(statement.total_minor, cur),
        "tax": _decimal(statement.tax_minor, cur),
    }
    if statement.tax_category != "S" and statement.tax_note:
        breakdown["exemption_reason"] = statement.tax_note
    return {
        "issuer": document_party(issuer_snapshot(home), recipient=False),
        "recipient": recipient,
        "document": {
            "type": "commission_statement",
            "self_billing": self_billing,
            "number": statement.number if self_billing else draft_number,
            "issue_date": issued.isoformat(),
            "period_start": statement.period_start.isoformat(),
            "period_end": statement.period_end.isoformat(),
            "currency": cur,
            "language": language,
            "prices_include_tax": False,
            "notes": "",
        },
        "entries": entries,
        "lines": doc_lines,
        "tax_breakdown": [breakdown],
        "totals": {
            "base": _decimal(sum(a.base_minor for a in lines), cur),
            "amount": _decimal(statement.total_minor, cur),
            "net": _decimal(statement.total_minor, cur),
            "tax": _decimal(statement.tax_minor, cur),
            "total": _decimal(statement.gross_minor, cur),
            "paid": "0.00",
            "due": _decimal(statement.gross_minor, cur),
        },
    }


def _pdf_path(statement: CommissionStatement) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", statement.number).lstrip(".") or str(statement.pk)
    year = (statement.issue_date or statement.period_end).year
    return f"commission/{Partner.objects.get(is_home=True).pk}/{year}/{safe}.pdf"


def commission_statement_pdf(statement: Any) -> bytes:
    """The statement's PDF. A draft renders now with the home partner's template; an approved
    statement (the self-billing credit note, Factur-X with its XML) is rendered once and
    stored under MEDIA_ROOT (``commission/<issuer>/<year>/<number>.pdf``), so later template
    changes never alter it."""
    home = Partner.objects.get(is_home=True)
    if statement.status == StatementStatus.DRAFT or not statement.number:
        return issuer_document_pdf_degrading(
            issuer_id=home.pk, data=commission_statement_document_data(statement)
        )[0]
    stored = stored_pdf_read(statement.pdf)
    if stored is not None:
        return stored
    try:
        content, note = issuer_document_pdf_degrading(
            issuer_id=home.pk,
            data=commission_statement_document_data(statement),
            label=statement.number,
        )
    except DomainError as exc:
        CommissionStatement.objects.filter(pk=statement.pk).update(pdf_error=str(exc)[:1000])
        raise
    relative = _pdf_path(statement)
    pdf_store(relative, content)
    CommissionStatement.objects.filter(pk=statement.pk, pdf="").update(
        pdf=relative, pdf_error=note[:1000]
    )
    return (
        stored_pdf_read(
            CommissionStatement.objects.filter(pk=statement.pk).values_list("pdf", flat=True)[0]
        )
        or content
    )


def commission_statement_xml(statement: CommissionStatement) -> bytes:
    """The EN 16931 XML (Factur-X, type 389) of an approved statement."""
    if statement.status == StatementStatus.DRAFT or not statement.number:
        raise StatementError(
            "A draft statement is no self-billing credit note yet; approve it to get its "
            "number and e-invoice XML."
        )
    return facturx_xml_build(commission_statement_document_data(statement))
