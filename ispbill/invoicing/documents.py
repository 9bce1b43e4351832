"""Document data of issued invoices: the plain dict ``ispbill.documents`` renders
(docs/documents.md, "Data model").

Built only from what the invoice itself stores (snapshots of issuer and customer, copied
lines and tax groups), so the data of an invoice never changes after issue."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Max, Min, Sum
from django.db.models.functions import Coalesce

from ispbill.core.money import Money
from ispbill.documents.i18n import decimal_format, document_texts, percent_format
from ispbill.invoicing.models import (
    CreditNote,
    CreditNoteLine,
    CreditNoteTax,
    Invoice,
    InvoiceLine,
    InvoiceTax,
)
from ispbill.partners.brand import brand_text_color

__all__ = [
    "DOCUMENT_DATA_HOOKS",
    "credit_note_document_data",
    "document_language",
    "document_money",
    "document_party",
    "invoice_detail_filename",
    "invoice_document_data",
    "invoice_is_summary",
    "invoices_document_data",
    "section_name",
]

# Called with a list of invoices and their document dicts by invoice id, which they may
# complete from what was stored with the invoices at issue (the SEPA pre-notification,
# ispbill/sepa), in one query for the list. Registered by apps above invoicing in their
# AppConfig.ready.
DOCUMENT_DATA_HOOKS: list[Callable[[list[Invoice], dict[int, dict[str, Any]]], None]] = []


def document_money(minor: int, currency: str) -> str:
    return str(Money.from_minor(int(minor), currency).amount)


def _percent(rate_bp: int) -> str:
    return str((Decimal(rate_bp) / 100).quantize(Decimal("0.01")))


def document_party(snapshot: dict[str, Any], *, recipient: bool) -> dict[str, Any]:
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
        # The brand, when the snapshot has one (documents issued before brands had none).
        party["name"] = str(snapshot.get("brand_name") or name)
        party["website"] = str(snapshot.get("website") or "")
        if snapshot.get("color"):
            party["color"] = str(snapshot["color"])
            party["color_text"] = brand_text_color(party["color"])
    return party


def _line(line: InvoiceLine, currency: str, section_key: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": line.description,
        "quantity": str(line.quantity),
        "unit_price": document_money(line.unit_price_minor, currency),
        "amount": document_money(line.amount_minor, currency),
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
    """The document dict of an issued invoice (plain, or aggregated or wholesale: sections).

    ``totals.paid`` is what was paid or credited by the issue date (credit on the account
    applied at issue), so rendering the same invoice later gives the same document."""
    return invoices_document_data([invoice])[invoice.pk]


def invoices_document_data(invoices: list[Invoice]) -> dict[int, dict[str, Any]]:
    """The document dicts of many issued invoices by id, read in four queries whatever
    their number (lines, tax groups, credit applied by the issue date, and the hooks'), one
    more when there are aggregated or wholesale invoices (their sizes), and a few for each
    such invoice too large for its XML to carry every line: its lines are never read one by
    one, only summed (``_summary_from_sums``; docs/documents.md, "Summary of a large
    aggregated invoice")."""
    ids = [inv.pk for inv in invoices]
    sizes = _sectioned_sizes(invoices)
    summed = {
        pk
        for pk, (n, _) in sizes.items()
        if n > settings.AGGREGATED_DETAIL_MAX_LINES and n > settings.AGGREGATED_XML_MAX_LINES
    }
    lines: dict[int, list[InvoiceLine]] = {pk: [] for pk in ids}
    read = [pk for pk in ids if pk not in summed]
    for line in InvoiceLine.objects.filter(invoice_id__in=read).order_by("invoice_id", "position"):
        lines[line.invoice_id].append(line)
    taxes: dict[int, list[InvoiceTax]] = {pk: [] for pk in ids}
    for tax in InvoiceTax.objects.filter(invoice_id__in=ids).order_by(
        "invoice_id", "rate_bp", "category"
    ):
        taxes[tax.invoice_id].append(tax)
    # Credit applied at issue (allocations, payments' rows, read through the invoice).
    paid = dict(
        Invoice.objects.filter(pk__in=ids, allocations__date__lte=F("issue_date"))
        .order_by()
        .values("pk")
        .annotate(s=Sum("allocations__amount_minor"))
        .values_list("pk", "s")
    )
    out = {
        inv.pk: _invoice_data(inv, lines[inv.pk], taxes[inv.pk], int(paid.get(inv.pk) or 0))
        for inv in invoices
    }
    for inv in invoices:
        if inv.pk in summed:
            _summary_from_sums(inv, out[inv.pk], *sizes[inv.pk])
        elif invoice_is_summary(inv, len(lines[inv.pk])):
            _summary_from_lines(inv, out[inv.pk])
    for hook in DOCUMENT_DATA_HOOKS:
        hook(invoices, out)
    return out


def _sectioned_sizes(invoices: list[Invoice]) -> dict[int, tuple[int, int]]:
    """(lines, sub-customers) of each aggregated or wholesale invoice among ``invoices``, in
    one query."""
    pks = [inv.pk for inv in invoices if inv.has_sections]
    if not pks:
        return {}
    rows = (
        InvoiceLine.objects.filter(invoice_id__in=pks)
        .order_by()
        .values("invoice_id")
        .annotate(n=Count("pk"), customers=Count("section_customer_id", distinct=True))
        .values_list("invoice_id", "n", "customers")
    )
    return {pk: (int(n), int(customers)) for pk, n, customers in rows}


def _invoice_data(
    invoice: Invoice, lines: list[InvoiceLine], taxes: list[InvoiceTax], paid_minor: int
) -> dict[str, Any]:
    cur = invoice.currency
    # A section per sub-customer; a wholesale invoice issued before its lines carried their
    # sub-customers has none and prints its lines as they are.
    sectioned = invoice.has_sections and any(ln.section_customer_id or ln.section for ln in lines)
    sections: OrderedDict[str, dict[str, Any]] = OrderedDict()
    out_lines = []
    for line in lines:
        key = None
        if sectioned:
            key = str(line.section_customer_id or line.section or "general")
            section = sections.setdefault(
                key, {"key": key, "title": line.section or key, "subtotal_minor": 0}
            )
            section["subtotal_minor"] += line.amount_minor
        out_lines.append(_line(line, cur, key))
    paid_minor = max(0, min(paid_minor, invoice.total_minor))
    periods = [(ln.period_start, ln.period_end) for ln in lines if ln.period_start]
    head: dict[str, Any] = {
        "type": "aggregated_invoice" if invoice.has_sections else "invoice",
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
        "issuer": document_party(invoice.issuer_snapshot, recipient=False),
        "recipient": document_party(invoice.customer_snapshot, recipient=True),
        "document": head,
        "sections": [
            {
                "key": s["key"],
                "title": s["title"],
                "subtotal": document_money(s["subtotal_minor"], cur),
            }
            for s in sections.values()
        ],
        "lines": out_lines,
        "tax_breakdown": [
            {
                "rate": _percent(t.rate_bp),
                "category": t.category,
                "net": document_money(t.net_minor, cur),
                "tax": document_money(t.tax_minor, cur),
            }
            for t in taxes
        ],
        "totals": {
            "net": document_money(invoice.net_minor, cur),
            "tax": document_money(invoice.tax_minor, cur),
            "total": document_money(invoice.total_minor, cur),
            "paid": document_money(paid_minor, cur),
            "due": document_money(invoice.total_minor - paid_minor, cur),
        },
    }


def invoice_is_summary(invoice: Invoice, line_count: int) -> bool:
    """Whether the invoice's PDF is a summary with its line detail in a CSV file: an
    aggregated or wholesale invoice of more than AGGREGATED_DETAIL_MAX_LINES lines
    (docs/documents.md, "Summary of a large aggregated invoice")."""
    return invoice.has_sections and line_count > settings.AGGREGATED_DETAIL_MAX_LINES


def invoice_detail_filename(invoice: Invoice) -> str:
    """The name of the invoice's line detail file: ``<number>-detail.csv``."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in invoice.number)
    return f"{safe.lstrip('.') or 'invoice'}-detail.csv"


def section_name(title: str, reference: str) -> str:
    """A sub-customer's name as its section title printed it at issue: the title is
    "<reference> <company or name>" (billing/run.py), so the name is what follows the
    reference; a title that does not start with it (the reference changed since) is kept."""
    if reference and title.startswith(reference + " "):
        return title[len(reference) + 1 :]
    if title == reference:
        return ""
    return title


def _summary_head(invoice: Invoice, data: dict[str, Any], *, lines: int, sections: int) -> bool:
    """Mark the document a summary (docs/documents.md, "Summary of a large aggregated
    invoice"); True when it lists its sub-customers (at most
    AGGREGATED_SUMMARY_MAX_SECTIONS)."""
    head = data["document"]
    listed = sections <= settings.AGGREGATED_SUMMARY_MAX_SECTIONS
    head["summary"] = True
    head["detail_file"] = invoice_detail_filename(invoice)
    head["detail_lines"] = lines
    head["detail_sections"] = sections
    head["sections_listed"] = listed
    return listed


def _summary_from_lines(invoice: Invoice, data: dict[str, Any]) -> None:
    """The summary of an aggregated or wholesale invoice whose lines were read (at most
    AGGREGATED_XML_MAX_LINES): its XML keeps every line with its sub-customer as the line
    note; templates get no lines, and sections with each sub-customer's reference, name and
    number of lines."""
    sections = data["sections"]
    _summary_head(invoice, data, lines=len(data["lines"]), sections=len(sections))
    references = dict(
        InvoiceLine.objects.filter(invoice_id=invoice.pk, section_customer__isnull=False)
        .order_by()
        .values_list("section_customer_id", "section_customer__reference")
        .distinct()
    )
    counts: dict[str, int] = {}
    for line in data["lines"]:
        counts[line["section"]] = counts.get(line["section"], 0) + 1
    for section in sections:
        key = section["key"]
        reference = references.get(int(key), "") if key.isdigit() else ""
        section["reference"] = reference
        section["name"] = section_name(section["title"], reference)
        section["line_count"] = counts.get(key, 0)


def _summary_from_sums(invoice: Invoice, data: dict[str, Any], lines: int, customers: int) -> None:
    """The summary of an aggregated or wholesale invoice of more lines than its XML carries
    (AGGREGATED_XML_MAX_LINES), from sums over its lines, never the lines themselves: the
    period, the sections when listed (reference, name, number of lines, subtotal), and for
    the XML one line per VAT rate and category, the sum of that rate's line amounts (so the
    lines add up to the totals and each rate's lines to its taxable amount)."""
    cur = invoice.currency
    rows = InvoiceLine.objects.filter(invoice_id=invoice.pk).order_by()
    # A section per sub-customer, as _invoice_data keys them (lines without one: by title).
    sections = customers + int(rows.filter(section_customer__isnull=True).exists())
    listed = _summary_head(invoice, data, lines=lines, sections=sections)
    head = data["document"]
    period = rows.aggregate(
        start=Min("period_start"), end=Max(Coalesce("period_end", "period_start"))
    )
    if period["start"] is not None:
        head["period_start"] = period["start"].isoformat()
        head["period_end"] = period["end"].isoformat()
    data["sections"] = []
    if listed:
        grouped = (
            rows.values("section_customer_id", "section", "section_customer__reference")
            .annotate(n=Count("pk"), subtotal=Sum("amount_minor"), first=Min("position"))
            .order_by("first")
            .values_list(
                "section_customer_id", "section", "section_customer__reference", "n", "subtotal"
            )
        )
        for customer_id, title, reference, n, subtotal in grouped:
            data["sections"].append(
                {
                    "key": str(customer_id or title or "general"),
                    "title": title or str(customer_id or ""),
                    "subtotal": document_money(subtotal, cur),
                    "reference": reference or "",
                    "name": section_name(title, reference or ""),
                    "line_count": int(n),
                }
            )
    text = document_texts(head["language"])
    count = decimal_format(str(sections), head["language"])
    by_rate = (
        rows.values("tax_rate_bp", "tax_category")
        .annotate(amount=Sum("amount_minor"))
        .order_by("tax_rate_bp", "tax_category")
        .values_list("tax_rate_bp", "tax_category", "amount")
    )
    data["lines"] = []
    for rate_bp, category, amount in by_rate:
        rate = _percent(rate_bp)
        line: dict[str, Any] = {
            "description": text["detail_rate_line"].format(
                sections=count,
                rate=percent_format(rate, head["language"]),
                file=head["detail_file"],
            ),
            "quantity": "1",
            "unit_price": document_money(amount, cur),
            "amount": document_money(amount, cur),
            "tax_rate": rate,
            "tax_category": category,
        }
        if head.get("period_start"):
            line["period_start"] = head["period_start"]
            line["period_end"] = head["period_end"]
        data["lines"].append(line)


def document_language(snapshot: dict[str, Any]) -> str:
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
            "unit_price": document_money(line.amount_minor, cur),
            "amount": document_money(line.amount_minor, cur),
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
        "issuer": document_party(inv.issuer_snapshot, recipient=False),
        "recipient": document_party(inv.customer_snapshot, recipient=True),
        "document": {
            "type": "credit_note",
            "number": credit_note.number,
            "issue_date": credit_note.issue_date.isoformat(),
            "currency": cur,
            "language": document_language(inv.customer_snapshot),
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
                "net": document_money(t.net_minor, cur),
                "tax": document_money(t.tax_minor, cur),
            }
            for t in taxes
        ],
        "totals": {
            "net": document_money(credit_note.net_minor, cur),
            "tax": document_money(credit_note.tax_minor, cur),
            "total": document_money(credit_note.total_minor, cur),
            "paid": document_money(0, cur),
            "due": document_money(credit_note.total_minor, cur),
        },
    }
