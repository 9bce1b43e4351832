"""The documents of payments: receipts and customers' statements of account, rendered with
the issuer's templates through invoicing's PDF machinery."""

from __future__ import annotations

from typing import Any

from django.db.models import Sum

from ispbill.documents.i18n import document_texts
from ispbill.invoicing.documents import document_language, document_money, document_party
from ispbill.invoicing.models import CreditNote, Invoice
from ispbill.invoicing.pdfs import issuer_document_pdf_degrading
from ispbill.invoicing.snapshots import customer_snapshot, issuer_snapshot
from ispbill.partners.models import Partner, PartnerMode
from ispbill.payments.models import Allocation, Payment, Refund
from ispbill.payments.selectors import (
    customer_balance_around_payment,
    customer_statement,
    customer_statement_document_data,
)


def receipt_document_data(payment: Payment) -> dict[str, Any]:
    """A payment receipt, numbered in the issuer's receipt series: the payment received
    (method, payer's reference, amount), each invoice it paid (``debit``: the invoice's
    total, ``credit``: what this payment paid of it, ``balance``: what was still open on it
    after this payment) and the account's balance before and after the payment (``totals``:
    ``opening_balance``, ``closing_balance``; negative: owed). Every text is in the
    customer's language (docs/documents.md, "Receipts")."""
    cur = payment.currency
    customer = payment.customer
    recipient = customer_snapshot(customer)
    language = document_language(recipient)
    text = document_texts(language)
    # As on the day of the payment, so the receipt printed again says the same: what it
    # paid that day (money kept as credit may pay a later invoice; that is not this receipt).
    on = payment.date
    paid: dict[int, int] = {}
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
        kind = "aggregated_invoice" if inv.has_sections else "invoice"
        entries.append(
            {
                "date": inv.issue_date.isoformat(),
                "description": text[kind],
                "reference": inv.number,
                "debit": document_money(inv.total_minor, cur),
                "credit": document_money(amount, cur),
                "balance": document_money(max(0, inv.total_minor - before_and_now - credited), cur),
            }
        )
    refunded = (
        Refund.objects.filter(payment=payment, date__lte=on).aggregate(s=Sum("amount_minor"))["s"]
        or 0
    )
    before, after = customer_balance_around_payment(payment)
    return {
        "issuer": document_party(issuer_snapshot(payment.issuer), recipient=False),
        "recipient": document_party(recipient, recipient=True),
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
            "received": document_money(payment.amount_minor, cur),
            "applied": document_money(applied, cur),
            "refunded": document_money(refunded, cur),
            "unapplied": document_money(payment.amount_minor - applied - refunded, cur),
            "opening_balance": document_money(before, cur),
            "closing_balance": document_money(after, cur),
            "debit": document_money(applied, cur),
            "credit": document_money(payment.amount_minor, cur),
        },
    }


def receipt_pdf(payment: Any) -> bytes:
    """A payment receipt, rendered now with the payment's issuer's receipt template."""
    return issuer_document_pdf_degrading(
        issuer_id=payment.issuer_id, data=receipt_document_data(payment)
    )[0]


def customer_statement_pdf(customer: Any, *, start: Any, end: Any) -> bytes:
    """A customer's statement of account for [start, end], with its issuer's template."""
    partner = Partner.objects.get(pk=customer.partner_id)
    issuer_id = (
        partner.pk
        if partner.mode == PartnerMode.OWN_INVOICING
        else Partner.objects.get(is_home=True).pk
    )
    data = customer_statement_document_data(customer_statement(customer, start=start, end=end))
    return issuer_document_pdf_degrading(issuer_id=issuer_id, data=data)[0]
