"""Issuing invoices from charges, in bulk, inside the caller's transaction.

One function issues any number of invoices with a handful of queries: numbers are reserved
per issuer under a lock, then invoices, lines, tax groups, charge links and ledger entries
are written with bulk inserts. An invoice whose total is not positive is not issued: its
charges stay uninvoiced and wait for the next one."""

from __future__ import annotations

import functools
import operator
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db import transaction

from ispbill.core.bulk import column_set, ids_draw, ids_draw_supported, tuples_insert
from ispbill.customers.models import Customer, CustomerRow
from ispbill.invoicing.models import (
    SECTIONED_KINDS,
    DocumentType,
    Invoice,
    InvoiceLine,
    InvoiceTax,
)
from ispbill.invoicing.sequences import numbers_reserve
from ispbill.invoicing.signals import invoices_issued, invoices_numbered
from ispbill.invoicing.snapshots import customer_snapshot, issuer_snapshot
from ispbill.invoicing.tasks import issued_invoices_deliver_on_commit
from ispbill.invoicing.tax import DocumentTotals, document_totals
from ispbill.ledger.posting import invoice_entries_post
from ispbill.partners.models import Partner

LINE_FIELDS = [
    "invoice_id",
    "position",
    "section",
    "section_customer_id",
    "tariff_id",
    "description",
    "period_start",
    "period_end",
    "quantity",
    "unit_price_minor",
    "amount_minor",
    "tax_rate_bp",
    "tax_category",
    "adjustment",
]


@dataclass
class InvoiceDraft:
    issuer: Partner
    account: Customer | CustomerRow
    kind: str
    billing_date: date | None
    issue_date: date
    due_days: int
    billing_run_id: int | None = None
    charges: list[Any] = field(default_factory=list)
    # Aggregated and wholesale invoices (SECTIONED_KINDS): customer id -> section title; each
    # line carries its charge's customer as its sub-customer (``section_customer``).
    sections: dict[int, str] = field(default_factory=dict)

    @functools.cached_property
    def totals(self) -> DocumentTotals:
        """The totals of the charges (computed once: the charges are complete by then)."""
        return _totals(
            tuple((c.amount_minor, c.tax_rate_bp, c.tax_category) for c in self.charges),
            self.issuer.prices_include_tax,
        )

    @property
    def total_preview(self) -> int:
        return self.totals.total_minor


@functools.lru_cache(maxsize=4096)
def _totals(lines: tuple[tuple[int, int, str], ...], prices_include_tax: bool) -> DocumentTotals:
    """``document_totals``, remembered: a run's invoices mostly repeat a few compositions of
    charges (pure, and its result is immutable)."""
    return document_totals(lines, prices_include_tax=prices_include_tax)


INVOICE_ROW_FIELDS = [
    "partner_id",
    "issuer_id",
    "customer_id",
    "kind",
    "number",
    "billing_date",
    "billing_run_id",
    "issue_date",
    "due_date",
    "currency",
    "prices_include_tax",
    "net_minor",
    "tax_minor",
    "total_minor",
    "issuer_snapshot",
    "customer_snapshot",
]


@dataclass(slots=True)
class IssuedInvoice:
    """An invoice as ``invoices_issue`` writes it: plain values (a billing run issues tens of
    thousands; model instances cost more than the issuing). ``Invoice.objects.get(pk=...)``
    gives the model."""

    partner_id: int
    issuer_id: int
    customer_id: int
    kind: str
    number: str
    billing_date: date | None
    billing_run_id: int | None
    issue_date: date
    due_date: date
    currency: str
    prices_include_tax: bool
    net_minor: int
    tax_minor: int
    total_minor: int
    issuer_snapshot: dict[str, Any]
    customer_snapshot: dict[str, Any]
    pk: int = 0
    written: bool = False  # the row is in the database (else ``invoices_number`` writes it)

    def values(self) -> tuple[Any, ...]:
        return _invoice_row_values(self)


_invoice_row_values = operator.attrgetter(*INVOICE_ROW_FIELDS)


@dataclass
class IssueResult:
    invoices: list[IssuedInvoice]
    skipped_zero: int = 0
    # The charges of the issued invoices, each with its ``invoice_id`` set: the caller
    # stores them (new ones inserted, stored ones linked), since charges are billing's rows.
    charges: list[Any] = field(default_factory=list)


def _line_sort_key(draft: InvoiceDraft, c: Any) -> tuple[Any, ...]:
    section = draft.sections.get(c.customer_id, "") if draft.kind in SECTIONED_KINDS else ""
    return (section, c.customer_id, c.period_start, c.description, c.pk or 0)


def invoices_issue(drafts: list[InvoiceDraft], *, number_now: bool = True) -> IssueResult:
    """Issue the drafts. Each charge of an issued invoice gets its ``invoice_id``; the
    caller stores them (``billing.models.invoiced_charges_store``)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("invoices_issue must run inside the issuing transaction")
    issuable: list[tuple[InvoiceDraft, Any]] = []
    skipped = 0
    for d in drafts:
        totals = d.totals
        if totals.total_minor <= 0:
            skipped += 1
            continue
        issuable.append((d, totals))
    if not issuable:
        return IssueResult([], skipped)

    # Numbers: per issuer, in a stable order (account id) so retries number identically.
    issuable.sort(
        key=lambda item: (item[0].issuer.pk, item[0].account.pk, item[0].billing_date or date.min)
    )
    # On PostgreSQL, when numbers are drawn later, the invoice rows themselves are written by
    # ``invoices_number`` with their real numbers (ids are drawn now; the foreign keys of the
    # lines, charges and accruals written meanwhile are checked at commit): no second write
    # of every invoice row to replace a placeholder number. Elsewhere the rows are written
    # now with placeholder numbers, replaced by the real ones last in the transaction, so the
    # sequence's lock is held only for the last moments before commit.
    tag = uuid.uuid4().hex[:12]
    issuers = {d.issuer.pk: d.issuer for d, _ in issuable}
    issuer_snapshots = {pk: issuer_snapshot(p) for pk, p in issuers.items()}  # one per issuer
    invoices = [
        IssuedInvoice(
            partner_id=d.account.partner_id,
            issuer_id=d.issuer.pk,
            customer_id=d.account.pk,
            kind=d.kind,
            number=f"~{tag}-{i}",
            billing_date=d.billing_date,
            billing_run_id=d.billing_run_id,
            issue_date=d.issue_date,
            due_date=d.issue_date + timedelta(days=d.due_days),
            currency=d.issuer.currency,
            prices_include_tax=d.issuer.prices_include_tax,
            net_minor=t.net_minor,
            tax_minor=t.tax_minor,
            total_minor=t.total_minor,
            issuer_snapshot=issuer_snapshots[d.issuer.pk],
            customer_snapshot=customer_snapshot(d.account),
        )
        for i, (d, t) in enumerate(issuable)
    ]
    if not number_now and ids_draw_supported():
        for inv, new_id in zip(invoices, ids_draw(Invoice, len(invoices)), strict=True):
            inv.pk = new_id
    else:
        _invoices_write(invoices)
    lines: list[tuple[Any, ...]] = []
    taxes: list[tuple[Any, ...]] = []
    linked: list[Any] = []
    for (d, t), inv in zip(issuable, invoices, strict=True):
        ordered = sorted(d.charges, key=functools.partial(_line_sort_key, d))
        sectioned = d.kind in SECTIONED_KINDS
        for pos, c in enumerate(ordered, 1):
            c.invoice_id = inv.pk
            linked.append(c)
            recurring = c.service_id is not None
            lines.append(
                (
                    inv.pk,
                    pos,
                    d.sections.get(c.customer_id, "") if sectioned else "",
                    c.customer_id if sectioned else None,
                    c.tariff_id,
                    c.description,
                    c.period_start if recurring else None,
                    c.period_end if recurring else None,
                    c.quantity,
                    c.unit_price_minor,
                    c.amount_minor,
                    c.tax_rate_bp,
                    c.tax_category,
                    c.adjustment or {},
                )
            )
        taxes.extend((inv.pk, g.rate_bp, g.category, g.net_minor, g.tax_minor) for g in t.groups)
    tuples_insert(InvoiceLine, LINE_FIELDS, lines)
    tuples_insert(
        InvoiceTax, ["invoice_id", "rate_bp", "category", "net_minor", "tax_minor"], taxes
    )
    invoice_entries_post(invoices)
    by_invoice: dict[int, list[tuple[int | None, int]]] = {}
    for row in lines:  # LINE_FIELDS: invoice, ..., tariff (4), ..., amount (10)
        by_invoice.setdefault(row[0], []).append((row[4], row[10]))
    invoices_issued.send(sender=Invoice, invoices=invoices, lines=by_invoice)
    result = IssueResult(invoices, skipped, linked)
    if number_now:
        invoices_number(result.invoices)
    return result


def _invoices_write(invoices: list[IssuedInvoice]) -> None:
    """Write the invoice rows (with their drawn ids, or getting ids) in one COPY."""
    if not invoices:
        return
    if invoices[0].pk:
        tuples_insert(Invoice, ["id", *INVOICE_ROW_FIELDS], [(i.pk, *i.values()) for i in invoices])
    else:
        ids = tuples_insert(
            Invoice, INVOICE_ROW_FIELDS, [i.values() for i in invoices], with_ids=True
        )
        for inv, new_id in zip(invoices, ids, strict=True):
            inv.pk = new_id
    for inv in invoices:
        inv.written = True


def invoices_number(invoices: list[IssuedInvoice], *, in_run: bool = False) -> None:
    """Give issued invoices their real numbers: per issuer, in a stable order (account, then
    billing date), gapless, under the sequence's lock, and write the invoice rows not written
    yet. Call it last in the transaction. ``in_run``: a billing run's chunk, which tells the
    receivers of ``invoices_numbered`` that the run's end follows (they may wait for it)."""
    if not invoices:
        return
    by_issuer: dict[int, list[IssuedInvoice]] = defaultdict(list)
    for inv in invoices:
        by_issuer[inv.issuer_id].append(inv)
    issuers = {p.pk: p for p in Partner.objects.filter(pk__in=list(by_issuer))}
    for issuer_id in sorted(by_issuer):
        group = sorted(
            by_issuer[issuer_id], key=lambda i: (i.customer_id, i.billing_date or date.min, i.pk)
        )
        reserved = numbers_reserve(
            issuer=issuers[issuer_id],
            doc_type=DocumentType.INVOICE,
            issue_date=group[0].issue_date,
            customer_ids=[i.customer_id for i in group],
        )
        for inv, number in zip(group, reserved, strict=True):
            inv.number = number
    # Rows written already get their numbers; the others are written with them.
    column_set(Invoice, "number", {inv.pk: inv.number for inv in invoices if inv.written})
    _invoices_write([inv for inv in invoices if not inv.written])
    invoices_numbered.send(sender=Invoice, invoices=invoices, in_run=in_run)
    # The PDFs, and the e-mails of issuers that send them on issue (docs/documents.md).
    issued_invoices_deliver_on_commit(
        (
            inv.pk,
            issuers[inv.issuer_id].email_invoices_on_issue
            and bool(str(inv.customer_snapshot.get("email") or "").strip()),
        )
        for inv in invoices
    )
