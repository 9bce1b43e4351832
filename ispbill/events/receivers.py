"""The outbox's side of the apps' signals: each receiver turns what was changed into events,
in the transaction of the change (an error rolls the change back, as a direct call would),
set-based: one insert of events per batch however many objects it holds."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from ispbill.billing.models import BillingRun
from ispbill.billing.signals import billing_run_finished
from ispbill.commission.signals import commission_statement_changed
from ispbill.customers.models import Customer
from ispbill.customers.signals import customers_status_changed
from ispbill.events.services import (
    NewEvent,
    events_write,
    invoice_issued_events_write,
    money_payload,
    send_after_commit,
)
from ispbill.invoicing.models import CreditNote
from ispbill.invoicing.signals import credit_note_issued, invoices_numbered
from ispbill.payments.signals import payment_received, payment_returned
from ispbill.subscriptions.models import Service
from ispbill.subscriptions.signals import service_created, service_stopped, services_changed


@receiver(invoices_numbered, dispatch_uid="ispbill_events_invoices")
def _invoices_numbered(
    sender: Any, invoices: list[Any], in_run: bool = False, **kwargs: Any
) -> None:
    # After numbering, not at issuing: a billing run numbers its invoices last in the
    # chunk's transaction, and an event must carry the number the customer sees. A run's
    # events are sent from its end (``billing_run_finished`` below), not after each chunk,
    # so making them into events and deliveries does not compete with the run's chunks.
    invoice_issued_events_write(invoices, send=not in_run)


@receiver(credit_note_issued, dispatch_uid="ispbill_events_credit_note")
def _credit_note_issued(sender: Any, credit_note_id: int, invoice: Any, **kwargs: Any) -> None:
    note = CreditNote._base_manager.get(pk=credit_note_id)
    events_write(
        [
            NewEvent(
                type="credit_note.issued",
                partner_id=note.partner_id,
                object_type="invoice",  # ordered with its invoice's events
                object_id=invoice.pk,
                data={
                    "credit_note_id": note.pk,
                    "number": note.number,
                    "invoice_id": invoice.pk,
                    "invoice_number": invoice.number,
                    "customer_id": note.customer_id,
                    "issuer_id": note.issuer_id,
                    "issue_date": note.issue_date.isoformat(),
                    "reason": note.reason,
                    "net": money_payload(note.net_minor, note.currency),
                    "tax": money_payload(note.tax_minor, note.currency),
                    "total": money_payload(note.total_minor, note.currency),
                },
            )
        ]
    )


@receiver(payment_received, dispatch_uid="ispbill_events_payment")
def _payment_received(sender: Any, payment: Any, **kwargs: Any) -> None:
    events_write(
        [
            NewEvent(
                type="payment.received",
                partner_id=payment.partner_id,
                object_type="payment",
                object_id=payment.pk,
                data={
                    "payment_id": payment.pk,
                    "customer_id": payment.customer_id,
                    "issuer_id": payment.issuer_id,
                    "date": payment.date.isoformat(),
                    "method": payment.method,
                    "reference": payment.reference,
                    "receipt_number": payment.receipt_number,
                    "amount": money_payload(payment.amount_minor, payment.currency),
                    "allocated": money_payload(payment.allocated_minor, payment.currency),
                },
            )
        ]
    )


@receiver(payment_returned, dispatch_uid="ispbill_events_payment_returned")
def _payment_returned(
    sender: Any, payment: Any, refund: Any, reversed: bool, **kwargs: Any
) -> None:
    events_write(
        [
            NewEvent(
                type="payment.returned",
                partner_id=payment.partner_id,
                object_type="payment",  # ordered after its payment.received
                object_id=payment.pk,
                data={
                    "payment_id": payment.pk,
                    "refund_id": refund.pk,
                    "customer_id": payment.customer_id,
                    "issuer_id": payment.issuer_id,
                    "date": refund.date.isoformat(),
                    "method": payment.method,
                    "reference": payment.reference,
                    "kind": "reversal" if reversed else "refund",
                    "reason": refund.reason,
                    "amount": money_payload(refund.amount_minor, payment.currency),
                    "payment_amount": money_payload(payment.amount_minor, payment.currency),
                    "refunded": money_payload(payment.refunded_minor, payment.currency),
                },
            )
        ]
    )


_STATUS_EVENTS = {
    "active": "customer.activated",
    "blocked": "customer.blocked",
    "inactive": "customer.deactivated",
}


def _status_event(status: str, before: str | None) -> str:
    """Blocked, then active again: ``customer.unblocked``; every other arrival at active
    (new, or reactivated after deactivation) stays ``customer.activated``."""
    if status == "active" and before == "blocked":
        return "customer.unblocked"
    return _STATUS_EVENTS[status]


@receiver(customers_status_changed, dispatch_uid="ispbill_events_customers")
def _customers_status_changed(
    sender: Any, customer_ids: list[int], previous: dict[int, str] | None = None, **kwargs: Any
) -> None:
    before = previous or {}
    rows = Customer._base_manager.filter(pk__in=list(customer_ids)).values_list(
        "pk", "partner_id", "status", "name", "reference"
    )
    events_write(
        NewEvent(
            type=_status_event(status, before.get(pk)),
            partner_id=partner_id,
            object_type="customer",
            object_id=pk,
            data={
                "customer_id": pk,
                "reference": ref,
                "name": name,
                "status": status,
                "previous_status": before.get(pk),
            },
        )
        for pk, partner_id, status, name, ref in rows
        if status in _STATUS_EVENTS
    )


def _service_data(service_ids: list[int]) -> list[tuple[int, int, dict[str, Any]]]:
    rows = Service._base_manager.filter(pk__in=list(service_ids)).values_list(
        "pk", "partner_id", "customer_id", "tariff_id", "status", "start_date", "end_date"
    )
    return [
        (
            pk,
            partner_id,
            {
                "service_id": pk,
                "customer_id": customer_id,
                "tariff_id": tariff_id,
                "status": status,
                "start_date": start.isoformat(),
                "end_date": end.isoformat() if end else None,
            },
        )
        for pk, partner_id, customer_id, tariff_id, status, start, end in rows
    ]


@receiver(services_changed, dispatch_uid="ispbill_events_services")
def _services_changed(sender: Any, service_ids: list[int], **kwargs: Any) -> None:
    events_write(
        NewEvent("service.changed", partner_id, "service", pk, data)
        for pk, partner_id, data in _service_data(service_ids)
    )


@receiver(service_created, dispatch_uid="ispbill_events_service_created")
def _service_created(sender: Any, service: Any, **kwargs: Any) -> None:
    events_write(
        NewEvent("service.created", partner_id, "service", pk, data)
        for pk, partner_id, data in _service_data([service.pk])
    )


@receiver(service_stopped, dispatch_uid="ispbill_events_service_stopped")
def _service_stopped(sender: Any, service: Any, **kwargs: Any) -> None:
    events_write(
        NewEvent("service.stopped", partner_id, "service", pk, data)
        for pk, partner_id, data in _service_data([service.pk])
    )


@receiver(billing_run_finished, dispatch_uid="ispbill_events_billing_run")
def _billing_run_finished(sender: Any, run_id: int, **kwargs: Any) -> None:
    run = BillingRun._base_manager.get(pk=run_id)
    if run.dry_run:
        return
    # The run's invoice events were recorded as batches, one per chunk: the sender makes
    # them into events and sends them now that the run is over.
    send_after_commit()
    events_write(
        [
            NewEvent(
                type="billing_run.finished",
                partner_id=run.scope_partner_id,
                object_type="billing_run",
                object_id=run.pk,
                data={
                    "billing_run_id": run.pk,
                    "run_date": run.run_date.isoformat(),
                    "status": run.status,
                    "customers_billed": run.customers_billed,
                    "invoices_issued": run.invoices_issued,
                    "failures": run.failures_count,
                    "totals": {
                        cur: money_payload(int(t), cur)["amount"]
                        for cur, t in (run.totals or {}).items()
                    },
                },
            )
        ]
    )


@receiver(commission_statement_changed, dispatch_uid="ispbill_events_commission")
def _commission_statement_changed(sender: Any, statement: Any, **kwargs: Any) -> None:
    st = statement
    if st.status not in ("approved", "paid"):
        return
    events_write(
        [
            NewEvent(
                type=f"commission_statement.{st.status}",
                partner_id=st.partner_id,
                object_type="commission_statement",
                object_id=st.pk,
                data={
                    "statement_id": st.pk,
                    "number": st.number,
                    "period_start": st.period_start.isoformat(),
                    "period_end": st.period_end.isoformat(),
                    "status": st.status,
                    "total": money_payload(st.total_minor, st.currency),
                    "tax": money_payload(st.tax_minor, st.currency),
                    "gross": money_payload(st.gross_minor, st.currency),
                    "payout_reference": st.payout_reference,
                },
            )
        ]
    )
