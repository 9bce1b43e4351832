"""The documents of payments: receipts and customers' statements of account, rendered with
the issuer's templates through invoicing's PDF machinery."""

from __future__ import annotations

from typing import Any

from ispbill.invoicing.documents import document_language, document_money, document_party
from ispbill.invoicing.pdfs import issuer_document_pdf_degrading
from ispbill.invoicing.snapshots import customer_snapshot, issuer_snapshot
from ispbill.partners.models import Partner, PartnerMode
from ispbill.payments.models import Allocation, Payment
from ispbill.payments.selectors import customer_statement, customer_statement_document_data


def receipt_document_data(payment: Payment) -> dict[str, Any]:
    """A payment receipt: the payment and the invoices it paid, as a statement of entries
    (``credit`` is what each invoice received; ``balance`` what is left unallocated)."""
    cur = payment.currency
    customer = payment.customer
    recipient = customer_snapshot(customer)
    entries = [
        {
            "date": payment.date.isoformat(),
            "description": payment.get_method_display(),
            "reference": payment.reference or f"#{payment.pk}",
            "debit": document_money(0, cur),
            "credit": document_money(payment.amount_minor, cur),
            "balance": document_money(payment.amount_minor, cur),
        }
    ]
    left = payment.amount_minor
    for a in (
        Allocation.objects.filter(payment=payment).select_related("invoice").order_by("date", "pk")
    ):
        left -= a.amount_minor
        entries.append(
            {
                "date": a.date.isoformat(),
                "description": "→",
                "reference": a.invoice.number,
                "debit": document_money(a.amount_minor, cur),
                "credit": document_money(0, cur),
                "balance": document_money(left, cur),
            }
        )
    return {
        "issuer": document_party(issuer_snapshot(payment.issuer), recipient=False),
        "recipient": document_party(recipient, recipient=True),
        "document": {
            "type": "receipt",
            "number": payment.reference or f"P-{payment.pk}",
            "issue_date": payment.date.isoformat(),
            "currency": cur,
            "language": document_language(recipient),
            "prices_include_tax": False,
            "notes": payment.note,
        },
        "entries": entries,
        "totals": {
            "opening_balance": document_money(0, cur),
            "closing_balance": document_money(left, cur),
            "debit": document_money(payment.amount_minor - left, cur),
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
