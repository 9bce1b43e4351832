"""A payment that clears every overdue invoice makes a blocked customer active again at
once (docs/domain.md, "Dunning"): the payment's side of dunning, run inside the payment's
transaction. Blocking and deactivation are the dunning run's (ispbill/dunning)."""

from __future__ import annotations

from datetime import date

from ispbill.customers.models import Customer, CustomerStatus
from ispbill.customers.services import customers_status_bulk_set, partner_subcustomers_cascade
from ispbill.customers.signals import customers_reconnected
from ispbill.invoicing.models import Invoice, InvoiceStatus
from ispbill.payments.selectors import customers_below_min_balance

OPEN = [InvoiceStatus.UNPAID, InvoiceStatus.PARTIALLY_PAID]


def customers_unblock_if_clear(*, customer_ids: list[int], today: date) -> list[int]:
    """Blocked customers with no overdue invoice left become active again at once."""
    blocked = list(Customer.objects.filter(pk__in=customer_ids, status=CustomerStatus.BLOCKED))
    if not blocked:
        return []
    still_overdue = set(
        Invoice.objects.filter(
            customer_id__in=[c.pk for c in blocked], status__in=OPEN, due_date__lt=today
        ).values_list("customer_id", flat=True)
    )
    below_min = customers_below_min_balance([c for c in blocked if c.pk not in still_overdue])
    clear = [c for c in blocked if c.pk not in still_overdue and c.pk not in below_min]
    customers_status_bulk_set(clear, CustomerStatus.ACTIVE, "payment cleared every overdue invoice")
    if clear:
        customers_reconnected.send(sender=Customer, customers=clear, actor="dunning", on=today)
    partner_subcustomers_cascade([c.pk for c in clear], CustomerStatus.ACTIVE)
    return [c.pk for c in clear]
