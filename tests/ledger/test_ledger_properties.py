"""Property: for random sequences of invoices, payments, credit notes and refunds, postings
always sum to zero and every balance equals its receivable."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ispbill.billing.run import billing_run_start
from ispbill.core.invariants import invariants_check
from ispbill.core.money import Money
from ispbill.invoicing.credit import CreditNoteError
from ispbill.invoicing.models import Invoice, InvoiceLine
from ispbill.ledger.models import Posting
from ispbill.payments.credit_notes import credit_note_issue
from ispbill.payments.models import Payment
from ispbill.payments.services import PaymentError, payment_record, payment_refund
from tests.billing.builders import customer, service, tariff

actions = st.lists(
    st.tuples(
        st.sampled_from(["bill", "pay", "credit_full", "credit_part", "refund"]),
        st.integers(min_value=0, max_value=2),  # which customer
        st.integers(min_value=1, max_value=9000),  # an amount in cents
    ),
    min_size=1,
    max_size=12,
)


@pytest.mark.django_db
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actions)
def test_ledger_always_balances(home, steps):
    from django.db import transaction

    sid = transaction.savepoint()
    try:
        customers = [customer() for _ in range(3)]
        for i, c in enumerate(customers):
            service(c, tariff(price=1999 + i * 1000), date(2026, 1, 1 + i * 5))
        day = date(2026, 1, 1)
        month = 1
        for n, (action, who, cents) in enumerate(steps):
            c = customers[who]
            day += timedelta(days=3)
            if action == "bill" and month < 12:
                month += 1
                day = max(day, date(2026, month, 1))
                billing_run_start(run_date=date(2026, month, 1))
            elif action == "pay":
                payment_record(
                    customer=c, amount=Money.from_minor(cents, "EUR"), on=day, reference=f"R{n}"
                )
            elif action.startswith("credit"):
                inv = Invoice.objects.filter(customer=c).exclude(status="credited").first()
                if inv is None:
                    continue
                try:
                    if action == "credit_full":
                        credit_note_issue(invoice=inv, on=day, reason="test")
                    else:
                        line = InvoiceLine.objects.filter(invoice=inv).first()
                        assert line is not None
                        credit_note_issue(
                            invoice=inv, on=day, reason="part", lines={line.pk: min(cents, 100)}
                        )
                except CreditNoteError:
                    pass
            elif action == "refund":
                p = Payment.objects.filter(customer=c).order_by("-id").first()
                if p is None or p.unallocated_minor == 0:
                    continue
                with contextlib.suppress(PaymentError):
                    payment_refund(
                        payment=p,
                        amount=Money.from_minor(min(cents, p.unallocated_minor), "EUR"),
                        on=day,
                    )
        assert sum(Posting.objects.values_list("amount_minor", flat=True)) == 0
        _names, breaches = invariants_check()
        assert breaches == [], breaches
    finally:
        transaction.savepoint_rollback(sid)
