"""The event types ispbill emits, with what each means (docs/webhooks.md lists them with
their payloads)."""

from __future__ import annotations

EVENT_TYPES: dict[str, str] = {
    "invoice.issued": "An invoice was issued (by a billing run, by hand or by a plan change)",
    "credit_note.issued": "A credit note was issued on an invoice",
    "payment.received": "A payment was recorded on a customer's account",
    "payment.returned": (
        "Money of a payment went back: a refund, or the payment reversed whole (a SEPA "
        "return, a card chargeback or refund)"
    ),
    "customer.activated": "A customer became active (new, or reactivated after deactivation)",
    "customer.unblocked": "A blocked customer became active again (paid, or by hand)",
    "customer.blocked": "A customer was blocked",
    "customer.deactivated": "A customer was deactivated",
    "service.created": "A service was created (a customer subscribed to a tariff)",
    "service.changed": "A service was changed (status, tariff, dates, terms)",
    "service.stopped": "A service was stopped (disconnected)",
    "commission_statement.approved": "A partner's commission statement was approved",
    "commission_statement.paid": "A partner's commission statement was paid out",
    "mandate.created": "A SEPA direct debit mandate was created",
    "mandate.revoked": "A SEPA direct debit mandate was revoked",
    "billing_run.finished": "A billing run finished (with or without failures)",
}
