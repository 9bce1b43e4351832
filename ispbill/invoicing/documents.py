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
from ispbill.invoicing.models import Invoice, InvoiceKind, InvoiceLine, InvoiceTax
from ispbill.payments.models import Allocation

__all__ = ["invoice_document_data"]


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
