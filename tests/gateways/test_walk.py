"""A customer pays by card from the pay link in the invoice email: invoice issued, pay link
in the email, public pay page, a Checkout Session created on the (local) Stripe with the
issuer's key, the signed webhook delivered twice, exactly one payment, the invoice paid,
`ispbill check` clean, the confirmation page and receipt, then a refund through Stripe on the
normal refund path. The real `stripe` SDK talks to tests/gateways/fake_stripe.py."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.core import mail
from django.test import Client

from ispbill.billing.run import billing_run_start
from ispbill.core.invariants import invariants_check
from ispbill.core.money import Money
from ispbill.gateways.models import PaymentSession, WebhookEvent
from ispbill.gateways.services import payment_gateway_refund
from ispbill.invoicing.models import Invoice
from ispbill.invoicing.sending import invoice_send
from ispbill.partners.models import Partner, PartnerMode
from ispbill.payments.models import Payment, Refund
from tests.billing.builders import customer, service, tariff
from tests.gateways.helpers import HOME_KEY, HOME_WHSEC, OWN_KEY, OWN_WHSEC, gateway

pytestmark = pytest.mark.django_db(transaction=False)


def clean() -> None:
    assert invariants_check()[1] == []


def _issue(partner: Partner | None = None) -> Invoice:
    c = customer(partner) if partner else customer()
    service(c, tariff(partner, price=3000) if partner else tariff(price=3000), date(2026, 3, 1))
    billing_run_start(run_date=date(2026, 3, 1), issuer=partner)
    return Invoice.objects.get(customer=c)


def test_pay_link_to_one_payment_and_a_refund(
    home, fake_stripe, settings, django_capture_on_commit_callbacks
):
    settings.PUBLIC_URL = "https://billing.example.net"
    gateway(home)
    invoice = _issue()
    assert invoice.total_minor == 3570  # 30.00 + 19 % VAT
    clean()

    # The email carries the pay link.
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        invoice_send(invoice=invoice)
    body = "\n".join(m.body for m in mail.outbox)
    match = re.search(r"https://billing\.example\.net(/pay/[^/\s]+/)", body)
    assert match, body
    link = match.group(1)

    # The public pay page: no login, the amount, "Pay by card".
    anonymous = Client()
    page = anonymous.get(link)
    assert page.status_code == 200
    html = page.content.decode()
    assert "35.70" in html and "Pay by card" in html and invoice.number in html

    # "Pay by card": a Checkout Session on Stripe, created with the issuer's own key.
    answer = anonymous.post(link)
    assert answer.status_code == 302
    assert answer["Location"].startswith("https://checkout.stripe.com/c/pay/cs_test_")
    [(method, path, key, params)] = fake_stripe.requests
    assert (method, path, key) == ("POST", "/v1/checkout/sessions", HOME_KEY)
    assert params["mode"] == "payment"
    assert params["line_items"][0]["price_data"] == {
        "currency": "eur",
        "unit_amount": "3570",
        "product_data": {"name": f"Invoice {invoice.number}"},
    }
    session = PaymentSession.objects.get()
    assert (session.amount_minor, session.invoice_ids, session.status) == (
        3570,
        [invoice.pk],
        "open",
    )
    # A second click within the hour: the same checkout, nothing new at Stripe.
    assert anonymous.post(link)["Location"] == answer["Location"]
    assert len(fake_stripe.requests) == 1
    clean()

    # Before the webhook: the confirmation page says it is being confirmed.
    done = anonymous.get(f"{link}done/?session={session.provider_id}")
    assert "being confirmed" in done.content.decode()

    # The customer pays on Stripe; Stripe delivers the signed event, and delivers it again.
    paid = fake_stripe.complete(session.provider_id)
    payload = fake_stripe.event("checkout.session.completed", paid)
    url = f"/gateways/stripe/{home.pk}/webhook/"
    for _ in range(2):
        r = anonymous.post(
            url,
            payload,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=fake_stripe.sign(payload, HOME_WHSEC),
        )
        assert r.status_code == 200
    assert r.content == b"already processed"
    # Forged or stale signatures are refused and change nothing.
    bad = anonymous.post(
        url,
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=fake_stripe.sign(payload, "whsec_wrong"),
    )
    assert bad.status_code == 400
    stale = anonymous.post(
        url,
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=fake_stripe.sign(payload, HOME_WHSEC, at=1_000_000_000),
    )
    assert stale.status_code == 400

    [payment] = Payment.objects.all()
    assert (payment.amount_minor, payment.method, payment.reference) == (
        3570,
        "card",
        paid["payment_intent"],
    )
    assert payment.receipt_number
    assert WebhookEvent.objects.count() == 1
    invoice.refresh_from_db()
    assert (invoice.status, invoice.open_minor) == ("paid", 0)
    clean()

    # Confirmation page and receipt.
    done = anonymous.get(f"{link}done/?session={session.provider_id}")
    text = done.content.decode()
    assert "is booked" in text and payment.receipt_number in text
    receipt = anonymous.get(f"{link}receipt/{payment.pk}/")
    assert receipt.status_code == 200 and receipt["Content-Type"] == "application/pdf"
    # The pay page of a paid invoice offers nothing to pay.
    assert "Pay by card" not in anonymous.get(link).content.decode()

    # A refund of the whole payment: Stripe refunds it, the books take it back.
    payment_gateway_refund(
        payment=payment, amount=Money.from_minor(3570, "EUR"), on=date(2026, 3, 20)
    )
    [refund] = Refund.objects.all()
    assert refund.amount_minor == 3570
    assert [(r["payment_intent"], r["amount"]) for r in fake_stripe.refunds] == [
        (payment.reference, 3570)
    ]
    assert fake_stripe.requests[-1][2] == HOME_KEY
    invoice.refresh_from_db()
    assert invoice.status == "unpaid"
    clean()


def test_links_are_signed_and_expire(home, client, settings):
    invoice = _issue()
    from ispbill.invoicing.paylinks import pay_link_token

    token = pay_link_token(invoice.pk)
    assert client.get(f"/pay/{token}/").status_code == 200
    assert client.get(f"/pay/{token[:-2]}xx/").status_code == 404
    settings.PAY_LINK_DAYS = 0
    import time

    time.sleep(1.1)
    assert client.get(f"/pay/{token}/").status_code == 404


def test_money_goes_to_the_issuer_of_the_invoice(home, fake_stripe):
    gateway(home)
    own = Partner.objects.create(name="OwnNet", mode=PartnerMode.OWN_INVOICING)
    gateway(own, OWN_KEY, OWN_WHSEC)
    invoice = _issue(own)
    assert invoice.issuer_id == own.pk
    anonymous = Client()
    from ispbill.invoicing.paylinks import pay_link_token

    link = f"/pay/{pay_link_token(invoice.pk)}/"
    assert anonymous.post(link).status_code == 302
    assert fake_stripe.requests[-1][2] == OWN_KEY
    session = PaymentSession.objects.get()
    payload = fake_stripe.event(
        "checkout.session.completed", fake_stripe.complete(session.provider_id)
    )
    # Signed with the own partner's secret: the home partner's endpoint refuses it.
    home_url = f"/gateways/stripe/{home.pk}/webhook/"
    sig = fake_stripe.sign(payload, OWN_WHSEC)
    r = anonymous.post(
        home_url, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sig
    )
    assert r.status_code == 400
    own_url = f"/gateways/stripe/{own.pk}/webhook/"
    r = anonymous.post(own_url, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sig)
    assert r.status_code == 200
    [payment] = Payment.objects.all()
    assert payment.issuer_id == own.pk
    clean()


def test_a_paid_amount_other_than_the_sessions_books_nothing(home, fake_stripe):
    gateway(home)
    invoice = _issue()
    from ispbill.invoicing.paylinks import pay_link_token

    Client().post(f"/pay/{pay_link_token(invoice.pk)}/")
    session = PaymentSession.objects.get()
    paid = dict(fake_stripe.complete(session.provider_id), amount_total=100)
    payload = fake_stripe.event("checkout.session.completed", paid)
    r = Client().post(
        f"/gateways/stripe/{home.pk}/webhook/",
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=fake_stripe.sign(payload, HOME_WHSEC),
    )
    assert r.status_code == 400
    assert not Payment.objects.exists() and not WebhookEvent.objects.exists()
    # Unknown events are recorded once and ignored.
    other = fake_stripe.event("customer.created", {"id": "cus_x", "object": "customer"})
    r = Client().post(
        f"/gateways/stripe/{home.pk}/webhook/",
        other,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=fake_stripe.sign(other, HOME_WHSEC),
    )
    assert r.content == b"ignored"
    # No gateway for this issuer: refused.
    r = Client().post(
        "/gateways/stripe/999999/webhook/",
        other,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=fake_stripe.sign(other, HOME_WHSEC),
    )
    assert r.status_code == 400
    clean()
