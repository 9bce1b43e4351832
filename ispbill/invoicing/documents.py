"""Document data of issued invoices: the plain dict ``ispbill.documents`` renders
(docs/documents.md, "Data model").

Built only from what the invoice itself stores (snapshots of issuer and customer, copied
lines and tax groups), so the data of an invoice never changes after issue."""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal
from typing import Any

from django.db.models import Sum

from ispbill.core.money import Money
from ispbill.invoicing.models import (
    CreditNote,
    CreditNoteLine,
    CreditNoteTax,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceTax,
)
from ispbill.payments.models import Allocation, Payment, Refund

__all__ = ["credit_note_document_data", "invoice_document_data", "receipt_document_data"]


def _money(minor: int, currency: str) -> str:
    return str(Money.from_minor(int(minor), currency).amount)


def _percent(rate_bp: int) -> str:
    return str((Decimal(rate_bp) / 100).quantize(Decimal("0.01")))


def _party(snapshot: dict[str, Any], *, recipient: bool) -> dict[str, Any]:
    name = str(snapshot.get("company") or snapshot.get("name") or "")
    street = str(snapshot.get("street") or "")
    party: dict[str, Any] = {
        "name": str(snapshot.get("name") or name) if recipient else name,
        "legal_name": name,
        # One line even when blank: templates print the first line in the return address.
        "address_lines": [street],
        "postcode": str(snapshot.get("postcode") or ""),
        "city": str(snapshot.get("city") or ""),
        "country": str(snapshot.get("country") or ""),
        "vat_id": str(snapshot.get("vat_id") or ""),
        "email": str(snapshot.get("email") or ""),
        "phone": str(snapshot.get("phone") or ""),
    }
    if recipient:
        party["customer_reference"] = str(snapshot.get("reference") or "")
    else:
        party["iban"] = str(snapshot.get("iban") or "")
        party["bic"] = str(snapshot.get("bic") or "")
    return party


def _line(line: InvoiceLine, currency: str, section_key: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": line.description,
        "quantity": str(line.quantity),
        "unit_price": _money(line.unit_price_minor, currency),
        "amount": _money(line.amount_minor, currency),
        "tax_rate": _percent(line.tax_rate_bp),
        "tax_category": line.tax_category,
    }
    if line.period_start is not None:
        out["period_start"] = line.period_start.isoformat()
    if line.period_end is not None:
        out["period_end"] = line.period_end.isoformat()
    if line.adjustment:
        out["adjustment"] = dict(line.adjustment)
    if section_key is not None:
        out["section"] = section_key
    return out


def invoice_document_data(invoice: Invoice) -> dict[str, Any]:
    """The document dict of an issued invoice (plain or aggregated).

    ``totals.paid`` is what was paid or credited by the issue date (credit on the account
    applied at issue), so rendering the same invoice later gives the same document."""
    cur = invoice.currency
    aggregated = invoice.kind == InvoiceKind.AGGREGATED
    lines = list(InvoiceLine.objects.filter(invoice=invoice).order_by("position"))
    sections: OrderedDict[str, dict[str, Any]] = OrderedDict()
    out_lines = []
    for line in lines:
        key = None
        if aggregated:
            key = str(line.section_customer_id or line.section or "general")
            section = sections.setdefault(
                key, {"key": key, "title": line.section or key, "subtotal_minor": 0}
            )
            section["subtotal_minor"] += line.amount_minor
        out_lines.append(_line(line, cur, key))
    taxes = list(InvoiceTax.objects.filter(invoice=invoice).order_by("rate_bp", "category"))
    paid_minor = (
        Allocation.objects.filter(invoice=invoice, date__lte=invoice.issue_date).aggregate(
            s=Sum("amount_minor")
        )["s"]
        or 0
    )
    paid_minor = max(0, min(int(paid_minor), invoice.total_minor))
    periods = [(ln.period_start, ln.period_end) for ln in lines if ln.period_start]
    head: dict[str, Any] = {
        "type": "aggregated_invoice" if aggregated else "invoice",
        "number": invoice.number,
        "issue_date": invoice.issue_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "currency": cur,
        "language": "de" if invoice.customer_snapshot.get("language") == "de" else "en",
        "prices_include_tax": invoice.prices_include_tax,
        "notes": invoice.notes,
        "payment_reference": invoice.number,
    }
    if periods:
        head["period_start"] = min(p[0] for p in periods).isoformat()
        head["period_end"] = max(p[1] or p[0] for p in periods).isoformat()
    return {
        "issuer": _party(invoice.issuer_snapshot, recipient=False),
        "recipient": _party(invoice.customer_snapshot, recipient=True),
        "document": head,
        "sections": [
            {"key": s["key"], "title": s["title"], "subtotal": _money(s["subtotal_minor"], cur)}
            for s in sections.values()
        ],
        "lines": out_lines,
        "tax_breakdown": [
            {
                "rate": _percent(t.rate_bp),
                "category": t.category,
                "net": _money(t.net_minor, cur),
                "tax": _money(t.tax_minor, cur),
            }
            for t in taxes
        ],
        "totals": {
            "net": _money(invoice.net_minor, cur),
            "tax": _money(invoice.tax_minor, cur),
            "total": _money(invoice.total_minor, cur),
            "paid": _money(paid_minor, cur),
            "due": _money(invoice.total_minor - paid_minor, cur),
        },
    }


def _language(snapshot: dict[str, Any]) -> str:
    return "de" if snapshot.get("language") == "de" else "en"


def credit_note_document_data(credit_note: CreditNote) -> dict[str, Any]:
    """The document dict of an issued credit note: positive amounts, the credited invoice
    named, parties as printed on that invoice."""
    inv = Invoice.objects.get(pk=credit_note.invoice_id)
    cur = credit_note.currency
    lines = list(
        CreditNoteLine.objects.filter(credit_note=credit_note)
        .select_related("invoice_line")
        .order_by("position")
    )
    out_lines = []
    for line in lines:
        row: dict[str, Any] = {
            "description": line.description,
            "quantity": "1",
            "unit_price": _money(line.amount_minor, cur),
            "amount": _money(line.amount_minor, cur),
            "tax_rate": _percent(line.tax_rate_bp),
            "tax_category": line.tax_category,
        }
        source = line.invoice_line
        if source is not None and source.period_start is not None:
            row["period_start"] = source.period_start.isoformat()
            row["period_end"] = (source.period_end or source.period_start).isoformat()
        out_lines.append(row)
    taxes = CreditNoteTax.objects.filter(credit_note=credit_note).order_by("rate_bp", "category")
    return {
        "issuer": _party(inv.issuer_snapshot, recipient=False),
        "recipient": _party(inv.customer_snapshot, recipient=True),
        "document": {
            "type": "credit_note",
            "number": credit_note.number,
            "issue_date": credit_note.issue_date.isoformat(),
            "currency": cur,
            "language": _language(inv.customer_snapshot),
            "prices_include_tax": inv.prices_include_tax,
            "notes": credit_note.reason,
            "original_number": inv.number,
            "original_issue_date": inv.issue_date.isoformat(),
            "payment_reference": credit_note.number,
        },
        "sections": [],
        "lines": out_lines,
        "tax_breakdown": [
            {
                "rate": _percent(t.rate_bp),
                "category": t.category,
                "net": _money(t.net_minor, cur),
                "tax": _money(t.tax_minor, cur),
            }
            for t in taxes
        ],
        "totals": {
            "net": _money(credit_note.net_minor, cur),
            "tax": _money(credit_note.tax_minor, cur),
            "total": _money(credit_note.total_minor, cur),
            "paid": _money(0, cur),
            "due": _money(credit_note.total_minor, cur),
        },
    }


def receipt_document_data(payment: Payment) -> dict[str, Any]:
    """A payment receipt, numbered in the issuer's receipt series: the payment received
    (method, payer's reference, amount), each invoice it paid (``debit``: the invoice's
    total, ``credit``: what this payment paid of it, ``balance``: what was still open on it
    after this payment) and the account's balance before and after the payment (``totals``:
    ``opening_balance``, ``closing_balance``; negative: owed). Every text is in the
    customer's language (docs/documents.md, "Receipts")."""
    from ispbill.customers.selectors import customer_balance_around_payment
    from ispbill.documents.i18n import document_texts
    from ispbill.invoicing.issue import customer_snapshot, issuer_snapshot

    cur = payment.currency
    customer = payment.customer
    recipient = customer_snapshot(customer)
    language = _language(recipient)
    text = document_texts(language)
    # As on the day of the payment, so the receipt printed again says the same: what it
    # paid that day (money kept as credit may pay a later invoice; that is not this receipt).
    on = payment.date
    paid: OrderedDict[int, int] = OrderedDict()
    last_allocation: dict[int, int] = {}
    for a in Allocation.objects.filter(payment=payment, date__lte=on).order_by("pk"):
        paid[a.invoice_id] = paid.get(a.invoice_id, 0) + a.amount_minor
        if a.amount_minor > 0:
            last_allocation[a.invoice_id] = a.pk
    invoices = {i.pk: i for i in Invoice.objects.filter(pk__in=list(paid))}
    entries = []
    applied = 0
    for invoice_id, amount in paid.items():
        if amount <= 0:
            continue
        inv = invoices[invoice_id]
        # Open after this payment: what the invoice's allocations up to this payment's
        # last one, and the credit notes issued by the payment date, left open.
        before_and_now = (
            Allocation.objects.filter(
                invoice_id=invoice_id, pk__lte=last_allocation[invoice_id]
            ).aggregate(s=Sum("amount_minor"))["s"]
            or 0
        )
        credit_notes = CreditNote.objects.filter(invoice_id=invoice_id, issue_date__lte=on)
        credited = credit_notes.aggregate(s=Sum("total_minor"))["s"] or 0
        applied += amount
        kind = "aggregated_invoice" if inv.kind == InvoiceKind.AGGREGATED else "invoice"
        entries.append(
            {
                "date": inv.issue_date.isoformat(),
                "description": text[kind],
                "reference": inv.number,
                "debit": _money(inv.total_minor, cur),
                "credit": _money(amount, cur),
                "balance": _money(max(0, inv.total_minor - before_and_now - credited), cur),
            }
        )
    refunded = (
        Refund.objects.filter(payment=payment, date__lte=on).aggregate(s=Sum("amount_minor"))["s"]
        or 0
    )
    before, after = customer_balance_around_payment(payment)
    return {
        "issuer": _party(issuer_snapshot(payment.issuer), recipient=False),
        "recipient": _party(recipient, recipient=True),
        "document": {
            "type": "receipt",
            "number": payment.receipt_number or f"#{payment.pk}",
            "issue_date": payment.date.isoformat(),
            "currency": cur,
            "language": language,
            "prices_include_tax": False,
            "notes": payment.note,
            "payment_reference": payment.reference,
            "payment_method": text.get(f"method_{payment.method}", text["method_other"]),
        },
        "entries": entries,
        "totals": {
            "received": _money(payment.amount_minor, cur),
            "applied": _money(applied, cur),
            "refunded": _money(refunded, cur),
            "unapplied": _money(payment.amount_minor - applied - refunded, cur),
            "opening_balance": _money(before, cur),
            "closing_balance": _money(after, cur),
            "debit": _money(applied, cur),
            "credit": _money(payment.amount_minor, cur),
        },
    }
