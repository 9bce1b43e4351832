"""`ispbill autopay` and `ispbill gateway-rekey`; secrets encrypted at rest and rotated."""

from __future__ import annotations

from datetime import date

import pytest
from cryptography.fernet import Fernet

from ispbill.cli import main
from ispbill.gateways.models import Autopay, AutopayAttempt, GatewaySettings
from ispbill.gateways.secrets import SecretError, secret_decrypt
from ispbill.invoicing.models import Invoice
from tests.gateways.helpers import HOME_KEY, HOME_WHSEC, gateway
from tests.gateways.test_walk import _issue

pytestmark = pytest.mark.django_db


def test_autopay_command_charges_due_invoices(home, fake_stripe, capsys):
    gateway(home)
    invoice = _issue()
    Autopay.objects.create(
        partner=home,
        issuer=home,
        customer_id=invoice.customer_id,
        enabled=True,
        provider_customer_id="cus_1",
        payment_method_id="pm_1",
    )
    assert main(["autopay", "--date", "2026-03-14"]) == 0
    assert "0 invoice(s) paid" in capsys.readouterr().out
    assert main(["autopay", "--date", "2026-03-15"]) == 0
    assert "1 invoice(s) paid by autopay, 0 failed" in capsys.readouterr().out
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"
    assert AutopayAttempt.objects.get().status == "succeeded"
    assert date(2026, 3, 15) == AutopayAttempt.objects.get().date


def test_secrets_rotate_to_a_new_key(home, settings, capsys):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.GATEWAY_ENCRYPTION_KEYS = [old]
    gateway(home)
    from ispbill.events.models import WebhookEndpoint
    from ispbill.events.services import endpoint_create, endpoint_secret_rotate

    endpoint = endpoint_create(partner_id=None, url="https://example.org/hook")
    rotated = endpoint_secret_rotate(endpoint, grace_hours=24)
    row = GatewaySettings.objects.get()
    assert HOME_KEY not in row.secret_key_encrypted
    # The new key first, the old one after it: both read; rekey writes under the new one.
    settings.GATEWAY_ENCRYPTION_KEYS = [new, old]
    assert main(["gateway-rekey"]) == 0
    out = capsys.readouterr().out
    assert "1 issuer(s) re-encrypted" in out and "1 webhook endpoint secret(s)" in out
    settings.GATEWAY_ENCRYPTION_KEYS = [new]
    ep = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert ep.signing_secret() == rotated
    from django.utils import timezone

    assert ep.signing_secrets(timezone.now()) == [rotated, endpoint.new_secret]
    row.refresh_from_db()
    assert secret_decrypt(row.secret_key_encrypted) == HOME_KEY
    assert secret_decrypt(row.webhook_secret_encrypted) == HOME_WHSEC
    # A key that never encrypted it cannot read it: a domain error that says what to do.
    settings.GATEWAY_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(SecretError, match="enter it again"):
        secret_decrypt(row.secret_key_encrypted)


def test_autopay_leaves_a_pre_notified_direct_debit_alone(home, fake_stripe):
    from tests.sepa.helpers import creditor, mandate

    gateway(home)
    creditor(home)
    from tests.billing.builders import customer, service, tariff

    c = customer()
    mandate(c, 0, signed=date(2026, 2, 20))
    service(c, tariff(price=3000), date(2026, 3, 1))
    from ispbill.billing.run import billing_run_start

    billing_run_start(run_date=date(2026, 3, 1))
    invoice = Invoice.objects.get(customer=c)
    Autopay.objects.create(
        partner=home,
        issuer=home,
        customer=c,
        enabled=True,
        provider_customer_id="cus_1",
        payment_method_id="pm_1",
    )
    from ispbill.gateways.services import autopay_run

    assert autopay_run(on=date(2026, 3, 31)).paid == []
    assert invoice.debit_notice is not None
    assert not AutopayAttempt.objects.exists()
