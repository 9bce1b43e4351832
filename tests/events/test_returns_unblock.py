"""``payment.returned`` (a SEPA return reverses the payment; a refund pays credit back) and
``customer.unblocked`` (blocked, then active again), apart from ``customer.activated``."""

from __future__ import annotations

from datetime import date

import pytest

from ispbill.billing.run import billing_run_start
from ispbill.core.money import Money
from ispbill.customers.models import Customer
from ispbill.customers.services import customer_status_set, customers_status_bulk_set
from ispbill.events.models import Event
from ispbill.payments.services import payment_record, payment_refund
from ispbill.sepa.collection import collection_collect, collection_run, collection_submit
from ispbill.sepa.models import Debit
from ispbill.sepa.returns import debit_return_book
from ispbill.subscriptions.models import Service
from tests.api.conftest import Seed
from tests.sepa.helpers import creditor, mandate

pytestmark = pytest.mark.django_db


def test_sepa_return_emits_payment_returned_after_received(seed: Seed):
    creditor(seed.home)
    mandate(seed.alice)
    Service.objects.create(
        partner=seed.home, customer=seed.alice, tariff=seed.fiber, start_date=date(2026, 3, 1)
    )
    billing_run_start(run_date=date(2026, 3, 1))  # 30.00 + 19 % = 35.70
    [batch] = collection_run(on=date(2026, 3, 12))
    collection_submit(batch=batch)
    collection_collect(batch=batch)
    debit = Debit.objects.get(customer=seed.alice)
    debit_return_book(debit=debit, reason_code="AC04", booking_date=date(2026, 3, 19))

    events = list(Event.objects.filter(object_type="payment").order_by("id"))
    assert [e.type for e in events] == ["payment.received", "payment.returned"]
    received, returned = events
    assert received.object_id == returned.object_id == str(debit.payment_id)
    data = returned.payload["data"]
    assert data["kind"] == "reversal"
    assert data["amount"] == {"amount": "35.70", "currency": "EUR"}
    assert data["refunded"] == {"amount": "35.70", "currency": "EUR"}
    assert data["date"] == "2026-03-19" and data["method"] == "direct_debit"
    assert data["reason"].startswith("SEPA return AC04")
    assert returned.partner_id == seed.home.pk
    # One event per return, not one for the refund inside the reversal as well.
    assert Event.objects.filter(type="payment.returned").count() == 1


def test_refund_of_credit_emits_payment_returned(seed: Seed):
    p = payment_record(customer=seed.bob, amount=Money.parse("50.00", "EUR"), on=date(2026, 3, 2))
    payment_refund(payment=p, amount=Money.parse("20.00", "EUR"), on=date(2026, 3, 3))
    returned = Event.objects.get(type="payment.returned")
    data = returned.payload["data"]
    assert (data["kind"], data["amount"]["amount"], data["refunded"]["amount"]) == (
        "refund",
        "20.00",
        "20.00",
    )
    assert data["payment_amount"]["amount"] == "50.00"
    assert returned.partner_id == seed.citynet.pk  # Bob is CityNet's: its endpoints see it


def test_unblocked_is_its_own_type(seed: Seed):
    customer_status_set(customer=seed.bob, status="blocked")
    customer_status_set(customer=seed.bob, status="active")  # by hand
    customer_status_set(customer=seed.bob, status="inactive")
    customer_status_set(customer=seed.bob, status="active")  # reactivated
    bob = Customer.objects.get(pk=seed.bob.pk)
    customers_status_bulk_set([bob], "blocked", "dunning")
    bob.refresh_from_db()
    customers_status_bulk_set([bob], "active", "paid")  # dunning/payment unblocks
    rows = list(
        Event.objects.filter(object_type="customer").order_by("id").values_list("type", "payload")
    )
    assert [t for t, _ in rows] == [
        "customer.blocked",
        "customer.unblocked",
        "customer.deactivated",
        "customer.activated",
        "customer.blocked",
        "customer.unblocked",
    ]
    assert [p["data"]["previous_status"] for _, p in rows] == [
        "active",
        "blocked",
        "active",
        "inactive",
        "active",
        "blocked",
    ]
