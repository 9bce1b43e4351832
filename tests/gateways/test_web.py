"""The card payment pages, each form posted by every role that sees it: the issuer's gateway
settings (operator for any issuer, an own-invoicing partner's admin for its own), the
portal's Pay now and autopay, and the public pay page."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client

from ispbill.accounts.models import Role, User
from ispbill.gateways.models import Autopay, GatewaySettings, PaymentSession
from ispbill.gateways.secrets import secret_decrypt
from ispbill.invoicing.models import Invoice
from ispbill.invoicing.paylinks import pay_link_token
from tests.api.conftest import Seed, make_user
from tests.gateways.helpers import HOME_KEY, HOME_WHSEC, OWN_KEY, OWN_WHSEC, gateway
from tests.gateways.test_api import _bill

pytestmark = pytest.mark.django_db

URL = "/settings/card-payments/"


def _login(username: str) -> Client:
    c = Client()
    c.force_login(User.objects.get(username=username))
    return c


def _post(c: Client, url: str, **data: str):
    return c.post(url, {"enabled": "on", "publishable_key": "pk_test_1", **data})


def test_gateway_settings_form_per_role(seed: Seed):
    admin = _login("root")
    page = admin.get(URL)
    assert page.status_code == 200 and "Card payments" in page.content.decode()
    # A refused key is a form error, nothing stored.
    r = _post(admin, URL, secret_key="pk_test_wrong", webhook_secret=HOME_WHSEC)
    assert r.status_code == 200 and "not a Stripe secret key" in r.content.decode()
    assert not GatewaySettings.objects.exists()
    r = _post(admin, URL, secret_key=HOME_KEY, webhook_secret=HOME_WHSEC)
    assert r.status_code == 302
    # Never shown again: only "set · ends with …4242"; the input is empty.
    text = admin.get(URL).content.decode()
    assert HOME_KEY not in text and HOME_WHSEC not in text and "ends with …4242" in text
    # The operator sets an own-invoicing partner's.
    own_url = f"{URL}?issuer={seed.ownnet.pk}"
    assert _post(admin, own_url, secret_key=OWN_KEY, webhook_secret=OWN_WHSEC).status_code == 302
    row = GatewaySettings.objects.get(partner=seed.ownnet)
    assert secret_decrypt(row.secret_key_encrypted) == OWN_KEY
    # The own-invoicing partner's admin: its own only (an ?issuer= of another is ignored).
    own = _login("own")
    r = _post(own, f"{URL}?issuer={seed.home.pk}", secret_key="sk_test_ownnew0000")
    assert r.status_code == 302
    assert secret_decrypt(GatewaySettings.objects.get(partner=seed.home).secret_key_encrypted) == (
        HOME_KEY
    )
    assert (
        secret_decrypt(GatewaySettings.objects.get(partner=seed.ownnet).secret_key_encrypted)
        == "sk_test_ownnew0000"
    )
    # A percentage partner's customers pay the home partner: no page. Others: no capability.
    assert _login("city").get(URL).status_code in (403, 404)
    for name in ("acc", "sup", "bobby"):
        assert _login(name).post(URL, {"enabled": "on"}).status_code in (302, 403)
    assert GatewaySettings.objects.count() == 2


def test_portal_pay_now_and_autopay(seed: Seed, fake_stripe):
    gateway(seed.home)
    _bill(seed)
    invoice = Invoice.objects.get(customer=seed.bob)
    bobby = _login("bobby")
    page = bobby.get(f"/portal/invoices/{invoice.pk}/").content.decode()
    # Card payments only: no direct debit offered, so no link to set one up.
    assert "Pay now" in page and "Set up direct debit" not in page
    assert "Pay now" in bobby.get("/portal/invoices/").content.decode()
    r = bobby.post(f"/portal/invoices/{invoice.pk}/pay/")
    assert r.status_code == 302 and r["Location"].startswith("https://checkout.stripe.com/")
    assert fake_stripe.requests[-1][2] == HOME_KEY
    # Another customer's invoice: 404.
    alice_inv = Invoice.objects.get(customer=seed.alice)
    assert bobby.post(f"/portal/invoices/{alice_inv.pk}/pay/").status_code == 404
    # Autopay: turning on without a card is refused; "setup" goes to Stripe.
    assert "Pay automatically by card" in bobby.get("/portal/autopay/").content.decode()
    r = bobby.post("/portal/autopay/", {"action": "on"}, follow=True)
    assert "Save a card first" in r.content.decode()
    r = bobby.post("/portal/autopay/", {"action": "setup"})
    assert r.status_code == 302 and r["Location"].startswith("https://checkout.stripe.com/")
    session = PaymentSession.objects.get(kind="setup")
    payload = fake_stripe.event(
        "checkout.session.completed", fake_stripe.complete(session.provider_id)
    )
    Client().post(
        f"/gateways/stripe/{seed.home.pk}/webhook/",
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=fake_stripe.sign(payload, HOME_WHSEC),
    )
    text = bobby.get("/portal/autopay/").content.decode()
    assert "visa ending 4242" in text and "<strong>on</strong>" in text
    assert bobby.post("/portal/autopay/", {"action": "off"}).status_code == 302
    assert Autopay.objects.get(customer=seed.bob).enabled is False
    assert bobby.post("/portal/autopay/", {"action": "on"}).status_code == 302
    assert Autopay.objects.get(customer=seed.bob).enabled is True
    # Staff have no portal: refused.
    assert _login("root").post("/portal/autopay/", {"action": "setup"}).status_code in (302, 403)


def test_portal_without_a_gateway_offers_no_card(seed: Seed):
    _bill(seed)
    invoice = Invoice.objects.get(customer=seed.bob)
    bobby = _login("bobby")
    assert "Pay now" not in bobby.get(f"/portal/invoices/{invoice.pk}/").content.decode()
    assert "does not take card payments" in bobby.get("/portal/autopay/").content.decode()
    r = bobby.post(f"/portal/invoices/{invoice.pk}/pay/", follow=True)
    assert "not set up" in r.content.decode()
    # The public pay page still shows the amount, without the card button.
    page = Client().get(f"/pay/{pay_link_token(invoice.pk)}/").content.decode()
    assert "35.70" in page and "Pay by card" not in page


def test_a_reminder_carries_the_pay_link(seed: Seed, settings):
    from ispbill.invoicing.emails import reminder_email_context

    settings.PUBLIC_URL = "https://billing.example.net"
    _bill(seed)
    invoice = Invoice.objects.get(customer=seed.alice)
    ctx = reminder_email_context(invoice, customer=seed.alice, issuer=seed.home, days_late=5)
    assert ctx["invoice"]["pay_url"].startswith("https://billing.example.net/pay/")
    from ispbill.invoicing.emails import EMAIL_DEFAULTS, email_render

    text = email_render(EMAIL_DEFAULTS["email_reminder"], ctx)
    assert ctx["invoice"]["pay_url"] in text.body
    assert date(2026, 3, 1) == invoice.issue_date
    assert make_user and Role


def test_staff_see_autopay_failures_and_refund_a_card_payment_to_the_card(seed: Seed, fake_stripe):
    from ispbill.gateways.services import autopay_run
    from ispbill.payments.models import Payment, Refund

    gateway(seed.home)
    _bill(seed)
    Autopay.objects.create(
        partner=seed.home,
        issuer=seed.home,
        customer=seed.alice,
        enabled=True,
        provider_customer_id="cus_1",
        payment_method_id="pm_1",
        card_brand="visa",
        card_last4="4242",
    )
    fake_stripe.decline_next = True
    autopay_run(on=date(2026, 3, 15))
    admin = _login("root")
    text = admin.get(f"/customers/{seed.alice.pk}/").content.decode()
    assert "Autopay by card" in text and "insufficient funds" in text
    # Paid by autopay on another invoice later: here the failed one is paid through Stripe by
    # a session and refunded from the payment's refund page, through Stripe.
    invoice = Invoice.objects.get(customer=seed.alice)
    r = Client().post(f"/pay/{pay_link_token(invoice.pk)}/")
    assert r.status_code == 302
    session = PaymentSession.objects.get(kind="payment")
    payload = fake_stripe.event(
        "checkout.session.completed", fake_stripe.complete(session.provider_id)
    )
    Client().post(
        f"/gateways/stripe/{seed.home.pk}/webhook/",
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=fake_stripe.sign(payload, HOME_WHSEC),
    )
    payment = Payment.objects.get(customer=seed.alice)
    url = f"/payments/{payment.pk}/refund/"
    assert "sent back to the card" in admin.get(url).content.decode()
    r = admin.post(url, {"amount": "10.00", "date": "2026-03-20", "reason": "x"})
    assert r.status_code == 200 and "credit" in r.content.decode()  # more than the credit
    r = admin.post(url, {"amount": "35.70", "date": "2026-03-20", "reason": "cancelled"})
    assert r.status_code == 302
    assert Refund.objects.get().amount_minor == 3570
    assert fake_stripe.refunds[-1]["payment_intent"] == payment.reference
    # A partner's admin has no refund of the home partner's payment.
    assert _login("own").post(url, {"amount": "1.00", "date": "2026-03-20"}).status_code in (
        403,
        404,
    )
