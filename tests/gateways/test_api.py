"""The card payment API: gateway settings (secrets write-only, per issuer), payment sessions,
autopay and refunds; each partner reaches only its own."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from django.test import Client

from ispbill.billing.run import billing_run_start
from ispbill.core.invariants import invariants_check
from ispbill.core.models import AuditEvent
from ispbill.gateways.models import AutopayAttempt, GatewaySettings
from ispbill.gateways.secrets import secret_decrypt
from ispbill.gateways.services import autopay_run
from ispbill.invoicing.models import Invoice
from ispbill.payments.models import Payment, Refund
from ispbill.subscriptions.models import Service
from tests.api.conftest import Seed, assert_error
from tests.gateways.helpers import HOME_KEY, HOME_WHSEC, OWN_KEY, OWN_WHSEC

pytestmark = pytest.mark.django_db


def _bill(seed: Seed) -> None:
    for c, t in ((seed.alice, seed.fiber), (seed.bob, seed.fiber), (seed.olga, seed.own_tariff)):
        Service.objects.create(partner=c.partner, customer=c, tariff=t, start_date=date(2026, 3, 1))
    billing_run_start(run_date=date(2026, 3, 1))


def _put(api, **body):
    return api.call("PUT", "/gateways/stripe", body)


def test_settings_are_per_issuer_and_write_only(seed, caplog):
    caplog.set_level(logging.DEBUG)
    bad = _put(seed.admin, secret_key="pk_live_oops", webhook_secret=HOME_WHSEC)
    assert "secret_key" in assert_error(bad, 422)["fields"]
    home = _put(seed.admin, secret_key=HOME_KEY, webhook_secret=HOME_WHSEC)
    assert home.status == 200
    assert home.body["secret_key_set"] and home.body["secret_key_ends_with"] == "4242"
    assert HOME_KEY not in str(home.body) and HOME_WHSEC not in str(home.body)
    own = _put(seed.ownnet_admin, secret_key=OWN_KEY, webhook_secret=OWN_WHSEC)
    assert (own.status, own.body["partner_id"]) == (200, seed.ownnet.pk)
    assert own.body["webhook_url"].endswith(f"/gateways/stripe/{seed.ownnet.pk}/webhook/")
    # The own-invoicing partner cannot touch the home partner's; a percentage partner has none.
    assert_error(_put(seed.ownnet_admin, partner_id=seed.home.pk, secret_key=OWN_KEY), 422)
    assert_error(_put(seed.citynet_admin, secret_key=OWN_KEY), 403)
    assert_error(seed.portal.get("/gateways/stripe"), 403)
    # Operator for any issuer.
    read = seed.admin.get(f"/gateways/stripe?partner_id={seed.ownnet.pk}")
    assert read.body["secret_key_ends_with"] == "9999"
    # Empty keeps the stored secret.
    assert _put(seed.ownnet_admin, enabled=True, publishable_key="pk_test_1").status == 200
    row = GatewaySettings.objects.get(partner=seed.ownnet)
    assert secret_decrypt(row.secret_key_encrypted) == OWN_KEY
    # Encrypted at rest, never in the audit log or a log line.
    assert OWN_KEY not in row.secret_key_encrypted
    audit = " ".join(str(e.changes) for e in AuditEvent.objects.all())
    for secret in (HOME_KEY, HOME_WHSEC, OWN_KEY, OWN_WHSEC):
        assert secret not in audit
        assert secret not in caplog.text


def test_sessions_autopay_and_refunds(seed, fake_stripe):
    _put(seed.admin, secret_key=HOME_KEY, webhook_secret=HOME_WHSEC)
    _put(seed.ownnet_admin, secret_key=OWN_KEY, webhook_secret=OWN_WHSEC)
    _bill(seed)
    alice_inv = Invoice.objects.get(customer=seed.alice)
    olga_inv = Invoice.objects.get(customer=seed.olga)
    urls = {"success_url": "https://example.net/ok", "cancel_url": "https://example.net/no"}
    created = seed.admin.post("/payment-sessions", {"invoice_ids": [alice_inv.pk], **urls})
    assert created.status == 201, created.body
    assert created.body["amount"]["amount"] == "35.70"
    assert created.body["url"].startswith("https://checkout.stripe.com/")
    assert fake_stripe.requests[-1][2] == HOME_KEY
    # A partner cannot pay another issuer's invoice; one issuer per session.
    assert_error(
        seed.ownnet_admin.post("/payment-sessions", {"invoice_ids": [alice_inv.pk], **urls}), 422
    )
    assert_error(
        seed.admin.post("/payment-sessions", {"invoice_ids": [alice_inv.pk, olga_inv.pk], **urls}),
        422,
    )
    own = seed.ownnet_admin.post("/payment-sessions", {"invoice_ids": [olga_inv.pk], **urls})
    assert own.status == 201 and fake_stripe.requests[-1][2] == OWN_KEY
    sid = created.body["id"]
    assert seed.admin.get(f"/payment-sessions/{sid}").body["status"] == "open"
    assert_error(seed.ownnet_admin.get(f"/payment-sessions/{sid}"), 404)

    # Paid through the webhook.
    from ispbill.gateways.models import PaymentSession

    session = PaymentSession.objects.get(pk=sid)
    payload = fake_stripe.event(
        "checkout.session.completed", fake_stripe.complete(session.provider_id)
    )
    r = Client().post(
        f"/gateways/stripe/{seed.home.pk}/webhook/",
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=fake_stripe.sign(payload, HOME_WHSEC),
    )
    assert r.status_code == 200
    read = seed.admin.get(f"/payment-sessions/{sid}").body
    assert read["status"] == "paid" and read["payment_id"]
    payment_id = read["payment_id"]

    # Refund: a part larger than the credit is refused; all of it re-opens the invoice.
    assert_error(
        seed.admin.post(f"/payments/{payment_id}/gateway-refunds", {"amount": "10.00"}), 422
    )
    assert_error(
        seed.ownnet_admin.post(f"/payments/{payment_id}/gateway-refunds", {"amount": "35.70"}),
        404,
    )
    refund = seed.admin.call(
        "POST",
        f"/payments/{payment_id}/gateway-refunds",
        {"amount": "35.70", "reason": "cancelled"},
        key="r-1",
    )
    assert refund.status == 201, refund.body
    assert Refund.objects.get().amount_minor == 3570
    assert len(fake_stripe.refunds) == 1
    assert invariants_check()[1] == []

    # Autopay: opt in (a setup page on Stripe), the card is saved by the webhook, the daily
    # run charges the due invoice off-session; a decline is recorded and shown.
    assert_error(
        seed.admin.call("PUT", f"/customers/{seed.alice.pk}/autopay", {"enabled": True}), 422
    )
    setup = seed.admin.post(f"/customers/{seed.alice.pk}/autopay/setup", urls)
    assert setup.status == 201 and setup.body["setup_url"].startswith("https://checkout")
    setup_session = PaymentSession.objects.get(kind="setup")
    payload = fake_stripe.event(
        "checkout.session.completed", fake_stripe.complete(setup_session.provider_id)
    )
    Client().post(
        f"/gateways/stripe/{seed.home.pk}/webhook/",
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=fake_stripe.sign(payload, HOME_WHSEC),
    )
    state = seed.admin.get(f"/customers/{seed.alice.pk}/autopay").body
    assert state == {
        "customer_id": seed.alice.pk,
        "enabled": True,
        "card": "visa …4242",
        "setup_url": "",
    }
    assert_error(seed.ownnet_admin.get(f"/customers/{seed.alice.pk}/autopay"), 404)
    # Alice's invoice is open again after the refund; due 15 March.
    result = autopay_run(on=date(2026, 3, 14))
    assert result.paid == [] and result.failed == []
    result = autopay_run(on=date(2026, 3, 15))
    assert result.paid == [alice_inv.pk]
    pi = [r for r in fake_stripe.requests if r[1] == "/v1/payment_intents"][-1]
    assert pi[3]["off_session"] == "true" and pi[3]["amount"] == "3570" and pi[2] == HOME_KEY
    alice_inv.refresh_from_db()
    assert alice_inv.status == "paid"
    assert autopay_run(on=date(2026, 3, 16)).paid == []  # once
    assert Payment.objects.filter(customer=seed.alice).count() == 2
    assert invariants_check()[1] == []
    off = seed.admin.call("PUT", f"/customers/{seed.alice.pk}/autopay", {"enabled": False})
    assert off.body["enabled"] is False


def test_a_declined_autopay_is_recorded_and_not_repeated(seed, fake_stripe):
    from ispbill.gateways.models import Autopay

    _put(seed.admin, secret_key=HOME_KEY, webhook_secret=HOME_WHSEC)
    _bill(seed)
    Autopay.objects.create(
        partner=seed.home,
        issuer=seed.home,
        customer=seed.alice,
        enabled=True,
        provider_customer_id="cus_1",
        payment_method_id="pm_1",
    )
    fake_stripe.decline_next = True
    result = autopay_run(on=date(2026, 3, 20))
    [attempt] = AutopayAttempt.objects.all()
    assert result.failed == [attempt.invoice_id]
    assert attempt.status == "failed" and "insufficient" in attempt.error
    assert autopay_run(on=date(2026, 3, 21)).failed == []
    assert not Payment.objects.exists()
    assert invariants_check()[1] == []
