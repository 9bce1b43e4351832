"""A digest of the billing state: two databases billed the same way give the same digest.

``billing_digest()`` renders every invoice (with its lines and tax groups), charge, journal
entry (with its postings), commission accrual, allocation and billing pointer as text in which
no database id appears: rows are named by what identifies them to a person (a partner by
name, a customer by partner and reference, a service by customer, start date and tariff, an
invoice by issuer, account, kind and billing date). The lines are sorted and hashed with
SHA-256. Tests compare runs with it: the in-process run against a run shared by Celery
workers, against an interrupted and resumed run, against two runs started together.

Invoice numbers. Chunks that run in parallel take their number ranges in the order they
commit, so which customer gets which number depends on timing; within a run the numbers are
still gapless and the same set. By default the digest therefore holds, per issuer, the sorted
list of numbers issued (same count, same values, no gap) and names each invoice without its
number; ``exact_numbers=True`` puts each invoice's own number in its name instead, for
comparing runs whose chunks committed in the same order (one process, one thread).

Set-based: one query per table, whatever the number of rows."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from ispbill.billing.models import CHARGE_FIELDS, Charge
from ispbill.catalog.models import Tariff
from ispbill.core.tenancy import system_scope
from ispbill.customers.models import Customer
from ispbill.invoicing.models import CreditNote, Invoice, InvoiceLine, InvoiceTax
from ispbill.ledger.models import JournalEntry, Posting
from ispbill.partners.models import CommissionAccrual, CommissionStatement, Partner
from ispbill.payments.models import Allocation, Payment, Refund
from ispbill.subscriptions.models import OneTimeCharge, Service


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, date):
        return value.isoformat()
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", "\\n")


def _row(*values: Any) -> str:
    return "|".join(_text(v) for v in values)


class _Names:
    """Id -> id-free name, for every table the billing state refers to (one query each)."""

    def __init__(self, *, exact_numbers: bool) -> None:
        self.partner = dict(Partner.objects.values_list("pk", "name"))
        self.customer = {
            pk: f"{self.partner.get(partner_id, '?')}/{reference}"
            for pk, partner_id, reference in Customer.objects.values_list(
                "pk", "partner_id", "reference"
            )
        }
        self.tariff = {
            pk: f"{self.partner.get(partner_id, '?')}/{name}"
            for pk, partner_id, name in Tariff.objects.values_list("pk", "partner_id", "name")
        }
        self.service = {
            pk: _row(self.customer.get(customer_id), start, self.tariff.get(tariff_id))
            for pk, customer_id, start, tariff_id in Service.objects.values_list(
                "pk", "customer_id", "start_date", "tariff_id"
            )
        }
        self.one_time = {
            pk: _row(self.customer.get(customer_id), on, description, amount)
            for pk, customer_id, on, description, amount in OneTimeCharge.objects.values_list(
                "pk", "customer_id", "charge_date", "description", "unit_price_minor"
            )
        }
        self.invoice = self._invoice_names(exact_numbers=exact_numbers)
        self.credit_note = {
            pk: f"{self.partner.get(issuer_id)}/{number}"
            for pk, issuer_id, number in CreditNote.objects.values_list("pk", "issuer_id", "number")
        }
        self.payment = {
            pk: _row(self.customer.get(customer_id), on, method, reference, amount)
            for pk, customer_id, on, method, reference, amount in Payment.objects.values_list(
                "pk", "customer_id", "date", "method", "reference", "amount_minor"
            )
        }
        self.refund = {
            pk: _row(self.payment.get(payment_id), on, amount)
            for pk, payment_id, on, amount in Refund.objects.values_list(
                "pk", "payment_id", "date", "amount_minor"
            )
        }
        self.allocation = {
            pk: _row(self.payment.get(payment_id), self.invoice.get(invoice_id), on, amount)
            for pk, payment_id, invoice_id, on, amount in Allocation.objects.values_list(
                "pk", "payment_id", "invoice_id", "date", "amount_minor"
            )
        }
        self.statement = {
            pk: _row(self.partner.get(partner_id), start)
            for pk, partner_id, start in CommissionStatement.objects.values_list(
                "pk", "partner_id", "period_start"
            )
        }

    def _invoice_names(self, *, exact_numbers: bool) -> dict[int, str]:
        """An invoice by issuer, account, kind and billing date (unique for billed invoices);
        invoices issued at once on the same day are told apart by the order of their numbers."""
        rows = sorted(
            Invoice.objects.values_list(
                "issuer_id", "customer_id", "kind", "billing_date", "issue_date", "number", "pk"
            ),
            key=lambda r: (r[0], r[1], r[2], r[3] or date.min, r[4], len(r[5]), r[5]),
        )
        names: dict[int, str] = {}
        seen: dict[str, int] = defaultdict(int)
        for issuer_id, customer_id, kind, billing_date, issue_date, number, pk in rows:
            base = _row(
                self.partner.get(issuer_id),
                self.customer.get(customer_id),
                kind,
                billing_date or issue_date,
            )
            seen[base] += 1
            name = f"{base}#{seen[base]}"
            names[pk] = f"{name}|{number}" if exact_numbers else name
        return names

    def source(self, source_type: str, source_id: int) -> str:
        table: dict[int, str] = {
            "invoice": self.invoice,
            "credit_note": self.credit_note,
            "payment": self.payment,
            "refund": self.refund,
            "allocation": self.allocation,
            "commission_statement": self.statement,
        }.get(source_type, {})
        return f"{source_type}:{table.get(source_id, '?')}"


def _section(title: str, lines: Iterable[str]) -> list[str]:
    return [f"## {title}", *sorted(lines)]


def billing_digest(*, exact_numbers: bool = False) -> str:
    """SHA-256 (hex) of the id-free rendering of the billing state (``billing_state_lines``)."""
    digest = hashlib.sha256()
    for line in billing_state_lines(exact_numbers=exact_numbers):
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def billing_state_lines(*, exact_numbers: bool = False) -> list[str]:
    """The canonical rendering the digest is taken of: diff two of them to see what differs."""
    with system_scope():
        return _state_lines(exact_numbers=exact_numbers)


def _state_lines(*, exact_numbers: bool) -> list[str]:
    n = _Names(exact_numbers=exact_numbers)
    out: list[str] = []

    invoices: list[str] = []
    numbers: dict[str, list[str]] = defaultdict(list)
    for row in Invoice.objects.values_list(
        "pk",
        "issuer_id",
        "partner_id",
        "number",
        "issue_date",
        "due_date",
        "currency",
        "prices_include_tax",
        "net_minor",
        "tax_minor",
        "total_minor",
        "allocated_minor",
        "credited_minor",
        "status",
    ):
        pk, issuer_id, partner_id, number, *rest = row
        numbers[n.partner.get(issuer_id, "?")].append(number)
        invoices.append(_row(n.invoice[pk], n.partner.get(partner_id), *rest))
    out += _section("invoices", invoices)
    # Per issuer, the numbers in order: the same set, gapless, whoever got which.
    out += _section(
        "invoice numbers",
        (
            _row(issuer, *sorted(nums, key=lambda s: (len(s), s)))
            for issuer, nums in numbers.items()
        ),
    )
    out += _section(
        "invoice lines",
        (
            _row(n.invoice.get(invoice_id), position, *(n.customer.get(sc), n.tariff.get(t)), *r)
            for invoice_id, position, sc, t, *r in InvoiceLine.objects.values_list(
                "invoice_id",
                "position",
                "section_customer_id",
                "tariff_id",
                "section",
                "description",
                "period_start",
                "period_end",
                "quantity",
                "unit_price_minor",
                "amount_minor",
                "tax_rate_bp",
                "tax_category",
            )
        ),
    )
    out += _section(
        "invoice taxes",
        (
            _row(n.invoice.get(invoice_id), *r)
            for invoice_id, *r in InvoiceTax.objects.values_list(
                "invoice_id", "rate_bp", "category", "net_minor", "tax_minor"
            )
        ),
    )
    # Every stored column of a charge (CHARGE_FIELDS), its references by name.
    charge_refs = {
        "customer_id": n.customer,
        "account_id": n.customer,
        "partner_id": n.partner,
        "issuer_id": n.partner,
        "service_id": n.service,
        "tariff_id": n.tariff,
        "one_time_charge_id": n.one_time,
        "invoice_id": n.invoice,
    }
    out += _section(
        "charges",
        (
            _row(
                *(
                    charge_refs[field].get(value) if field in charge_refs else value
                    for field, value in zip(CHARGE_FIELDS, values, strict=True)
                )
            )
            for values in Charge.objects.values_list(*CHARGE_FIELDS)
        ),
    )
    out += _journal(n)
    out += _section(
        "commission accruals",
        (
            _row(
                n.partner.get(partner_id),
                n.source(source_type, source_id),
                n.invoice.get(invoice_id),
                n.statement.get(statement_id),
                *r,
            )
            for (
                partner_id,
                source_type,
                source_id,
                invoice_id,
                statement_id,
                *r,
            ) in CommissionAccrual.objects.values_list(
                "partner_id",
                "source_type",
                "source_id",
                "invoice_id",
                "statement_id",
                "date",
                "rate_bp",
                "base_minor",
                "amount_minor",
                "currency",
            )
        ),
    )
    out += _section("allocations", n.allocation.values())
    out += _section(
        "customers",
        (
            _row(n.customer[pk], billed_through, status)
            for pk, billed_through, status in Customer.objects.values_list(
                "pk", "billed_through", "status"
            )
        ),
    )
    out += _section(
        "services",
        (
            _row(n.service[pk], charged_through, wholesale_through)
            for pk, charged_through, wholesale_through in Service.objects.values_list(
                "pk", "charged_through", "wholesale_charged_through"
            )
        ),
    )
    out += _section(
        "partners",
        (
            _row(name, aggregated_through)
            for name, aggregated_through in Partner.objects.values_list(
                "name", "aggregated_through"
            )
        ),
    )
    return out


def _journal(n: _Names) -> list[str]:
    postings: dict[int, list[str]] = defaultdict(list)
    for (
        entry_id,
        partner_id,
        account,
        customer_id,
        counterparty_id,
        *r,
    ) in Posting.objects.values_list(
        "entry_id",
        "partner_id",
        "account",
        "customer_id",
        "counterparty_id",
        "amount_minor",
        "currency",
    ):
        postings[entry_id].append(
            _row(
                n.partner.get(partner_id),
                account,
                n.customer.get(customer_id),
                n.partner.get(counterparty_id),
                *r,
            )
        )
    entries = list(
        JournalEntry.objects.values_list(
            "pk",
            "partner_id",
            "date",
            "kind",
            "description",
            "source_type",
            "source_id",
            "reverses_id",
        )
    )
    heads = {
        pk: _row(n.partner.get(partner_id), on, kind, description, n.source(st, sid))
        for pk, partner_id, on, kind, description, st, sid, _ in entries
    }
    return _section(
        "journal",
        (
            _row(
                heads[pk],
                heads.get(reverses_id) if reverses_id else None,
                *sorted(postings.get(pk, [])),
            )
            for pk, _, _, _, _, _, _, reverses_id in entries
        ),
    )
