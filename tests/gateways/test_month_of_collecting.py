"""One month of collecting money both ways (docs/payments.md): invoices issued; Anna's by
SEPA direct debit (a pain.008 batch valid against the official XSD, its collection booked,
then returned by her bank in a camt.054 file: invoice open again, return fee, dunning); Dora,
who has no mandate, pays by card from the portal's "Pay now" (the real Stripe SDK against
tests/gateways/fake_stripe.py, the signed webhook delivered twice: one payment).
`ispbill check`'s invariants hold after every step. Figures worked by hand in the comments."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client

from ispbill.accounts.models import Role, User
from ispbill.billing.run import billing_run_start
from ispbill.core.invariants import invariants_check
from ispbill.customers.models import Customer
from ispbill.dunning.services import dunning_run
from ispbill.gateways.models import PaymentSession, WebhookEvent
from ispbill.invoicing.models import Invoice
from ispbill.payments.models import Payment
from ispbill.sepa.collection import collection_collect, collection_run, collection_submit
from ispbill.sepa.models import Debit
from ispbill.sepa.returns import returns_file_import
from ispbill.subscriptions.models import OneTimeCharge
from tests.billing.builders import customer, service, tariff, tax
from tests.gateways.helpers import HOME_KEY, HOME_WHSEC, gateway
from tests.sepa.helpers import camt054_return, creditor, mandate, pain008_valid

pytestmark = pytest.mark.django_db


def clean() -> None:
    assert invariants_check()[1] == []


def test_a_month_of_direct_debit_a_return_and_a_card_payment(home, fake_stripe):
    # Return fee 3.00 net (+ 19 % on the next invoice); card payments through Stripe.
    creditor(home, fee_minor=300, fee_rate=tax(home, 1900))
    gateway(home)
    fiber = tariff(price=3000)
    anna, dora = customer(), customer()
    for c in (anna, dora):
        service(c, fiber, date(2026, 3, 1))
    mandate(anna, 0)

    # 1 March: two invoices of 30.00 + 5.70 VAT = 35.70, due 15 March.
    billing_run_start(run_date=date(2026, 3, 1))
    clean()
    inv_anna = Invoice.objects.get(customer=anna)
    inv_dora = Invoice.objects.get(customer=dora)
    assert (inv_anna.total_minor, inv_dora.total_minor) == (3570, 3570)

    # 12 March: Anna's first debit of 35.70 in a batch for Monday 16 March (the due date,
    # a Sunday, moved to the next TARGET2 day); submitted, then credited by the bank.
    [batch] = collection_run(on=date(2026, 3, 12))
    assert (batch.count, batch.total_minor, batch.collection_date) == (
        1,
        3570,
        date(2026, 3, 16),
    )
    pain008_valid(batch.xml)
    collection_submit(batch=batch)
    collection_collect(batch=batch)
    clean()
    inv_anna.refresh_from_db()
    assert (inv_anna.status, inv_anna.paid_at) == ("paid", date(2026, 3, 16))

    # Dora pays by card in the portal: Pay now opens a Checkout Session of 35.70 created
    # with the issuer's key; Stripe sends the signed event twice: one payment.
    User.objects.create(username="dora", role=Role.CUSTOMER, partner=home, customer=dora)
    portal = Client()
    portal.force_login(User.objects.get(username="dora"))
    assert "Pay now" in portal.get(f"/portal/invoices/{inv_dora.pk}/").content.decode()
    answer = portal.post(f"/portal/invoices/{inv_dora.pk}/pay/")
    assert answer.status_code == 302
    assert answer["Location"].startswith("https://checkout.stripe.com/")
    assert fake_stripe.requests[-1][:3] == ("POST", "/v1/checkout/sessions", HOME_KEY)
    session = PaymentSession.objects.get()
    assert (session.amount_minor, session.invoice_ids) == (3570, [inv_dora.pk])
    paid = fake_stripe.complete(session.provider_id)
    payload = fake_stripe.event("checkout.session.completed", paid)
    for _ in range(2):
        delivered = Client().post(
            f"/gateways/stripe/{home.pk}/webhook/",
            payload,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=fake_stripe.sign(payload, HOME_WHSEC),
        )
        assert delivered.status_code == 200
    clean()
    [card] = Payment.objects.filter(customer=dora)
    assert (card.amount_minor, card.method) == (3570, "card")
    assert WebhookEvent.objects.count() == 1
    inv_dora.refresh_from_db()
    assert (inv_dora.status, inv_dora.open_minor) == ("paid", 0)

    # 19 March: Anna's bank returns the debit (AC04, account closed): her invoice is open
    # again, the 3.00 return fee waits for her next invoice, her mandate ends.
    debit = Debit.objects.get(customer=anna)
    result = returns_file_import(
        data=camt054_return(
            end_to_end_id=debit.end_to_end_id,
            amount="35.70",
            reason="AC04",
            booked=date(2026, 3, 19),
        )
    )
    clean()
    assert [r.reason_code for r in result.booked] == ["AC04"]
    inv_anna.refresh_from_db()
    assert (inv_anna.status, inv_anna.open_minor) == ("unpaid", 3570)
    assert OneTimeCharge.objects.get(customer=anna).unit_price_minor == 300

    # Dunning on 26 March (11 days past the due date, past the 10 blocking days): Anna is
    # blocked; Dora, paid by card, is left alone.
    dunning_run(today=date(2026, 3, 26))
    clean()
    status = dict(Customer.objects.values_list("pk", "status"))
    assert (status[anna.pk], status[dora.pk]) == ("blocked", "active")
