"""Two runs started at the same moment for the same date produce the state of one run."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from django.db import connection, connections

from ispbill.billing.models import Charge
from ispbill.billing.run import BillingRunBusy, billing_run_start
from ispbill.core.invariants import invariants_check
from ispbill.core.tenancy import system_scope
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import Partner

from .builders import customer, service, tariff


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_runs_equal_one_run():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; row locks are tested on PostgreSQL")
    for i in range(12):
        c = customer()
        service(c, tariff(price=1000 + i), date(2026, 3, 1 + i))
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with system_scope():
                barrier.wait()
                billing_run_start(run_date=date(2026, 4, 1), chunk_size=3)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    # Started together, the database lets one run go and refuses the other (one running
    # run per scope and date); a second that starts after the first finished bills nothing.
    assert len(errors) <= 1 and all(isinstance(e, BillingRunBusy) for e in errors), errors
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    # One run issues 13: each customer's April invoice, plus March for the one that started
    # on 1 March (a billing date).
    assert len(numbers) == 13
    # No duplicate and no skipped number.
    home_id = Partner.objects.get(is_home=True).pk  # a new id after a transactional flush
    assert numbers == [f"2026{home_id:02d}{n:06d}" for n in range(1, 14)]
    # Two charges per customer (March, whole or partial, and April), never one more.
    assert Charge.objects.count() == 24

    assert invariants_check()[1] == []
