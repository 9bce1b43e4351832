"""A payment that clears every overdue invoice makes a blocked customer active again at
once (docs/domain.md, "Dunning"): the payment's side of dunning, run inside the payment's
transaction. Blocking and deactivation are the dunning run's (ispbill/dunning).

A partner's account clear of overdue invoices becomes active again also from inactive
(dunning deactivated it: for a partner's account "inactive" cuts off the partner, which has
now paid), and its sub-customers blocked with it are unblocked (docs/billing.md, "Dunning")."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Q

from ispbill.customers.models import Customer, CustomerStatus
from ispbill.customers.services import (
    customers_status_bulk_set,
    partner_accounts,
    subcustomers_release,
)
from ispbill.customers.signals import customers_reconnected
from ispbill.invoicing.models import Invoice, InvoiceStatus
from ispbill.payments.selectors import customers_below_min_balance

OPEN = [InvoiceStatus.UNPAID, InvoiceStatus.PARTIALLY_PAID]


def customers_unblock_if_clear(
    *, customer_ids: list[int], today: date, actor: Any = "dunning"
) -> list[int]:
    """Blocked customers with no overdue invoice left become active again at once, and the
    sub-customers blocked with a partner's account that is clear. Returns those made
    active."""
    accounts = partner_accounts(list(customer_ids))
    candidates = list(
        Customer.objects.filter(pk__any_in=list(customer_ids)).filter(
            Q(status=CustomerStatus.BLOCKED)
            | Q(pk__in=list(accounts), status=CustomerStatus.INACTIVE)
        )
    )
    ids = {c.pk for c in candidates} | set(accounts)
    if not ids:
        return []
    still_overdue = set(
        Invoice.objects.filter(
            customer_id__any_in=list(ids), status__in=OPEN, due_date__lt=today
        ).values_list("customer_id", flat=True)
    )
    below_min = customers_below_min_balance([c for c in candidates if c.pk not in still_overdue])
    clear = [c for c in candidates if c.pk not in still_overdue and c.pk not in below_min]
    customers_status_bulk_set(
        clear, CustomerStatus.ACTIVE, "payment cleared every overdue invoice", actor=actor
    )
    if clear:
        customers_reconnected.send(sender=Customer, customers=clear, actor=actor, on=today)
    released = subcustomers_release(
        account_ids=[pk for pk in accounts if pk not in still_overdue and pk not in below_min],
        actor=actor,
    )
    return [c.pk for c in clear] + released
