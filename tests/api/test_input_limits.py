"""The domain limits of every amount and quantity, at every entry point (issue 27).

Amounts are at most 10**12 minor units (10,000,000,000.00 EUR), quantities at most 100,000,
and a line's unit price times quantity at most 10**12 minor units too (ispbill/core/money.py,
docs/security.md "Input limits"). Each web form, API operation and import is driven with the
maximum, the maximum plus one minor unit, 1e15, 9e99 and the 64-bit overflow of the report
(92233720368547758): the maximum is accepted, the rest answer a form error or a 4xx with a
message, never a 500, and nothing is written.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ispbill.accounts.models import Role
from ispbill.billing.models import BillingRun
from ispbill.core.money import AMOUNT_MAX_MINOR, QUANTITY_MAX, AmountRangeError, Money
from ispbill.dataio.bank_files import BankFileError, bank_file_parse
from ispbill.dataio.customer_import import customers_import
from ispbill.payments.models import Payment
from ispbill.subscriptions.models import OneTimeCharge, Service
from tests.api.conftest import Seed, assert_error, make_user
from tests.dataio.camt import Entry, Tx, camt053

pytestmark = pytest.mark.django_db

MAX = "10000000000.00"  # 10**12 cents
REFUSED = ["10000000000.01", "1e15", "9e99", "92233720368547758", "NaN", "Infinity"]


def _web(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _own_staff(seed: Seed) -> Client:
    """The lowest-privilege user of an own-invoicing partner, as in the report."""
    return _web(make_user("own-staff", Role.PARTNER_STAFF, partner=seed.ownnet))


def _charge_form(seed: Seed, **changes: str) -> dict[str, Any]:
    return {
        "description": "Router",
        "quantity": "1",
        "unit_price": "49.90",
        "tax_rate": str(seed.own_vat.pk),
        "charge_date": "2026-03-01",
        **changes,
    }


def test_the_limits_themselves():
    assert Money.parse(MAX, "EUR").minor == AMOUNT_MAX_MINOR
    assert Money.parse("1000000000000", "JPY").minor == AMOUNT_MAX_MINOR
    for text in REFUSED:
        with pytest.raises(ValueError):
            Money.parse(text, "EUR")
    with pytest.raises(AmountRangeError):
        Money.parse("-10000000000.01", "EUR")
    # The worst sum: a 12-month line of the largest unit price times quantity, 768,000
    # times, still fits a signed 64-bit integer (docs/security.md).
    assert 12 * AMOUNT_MAX_MINOR * 768_000 < 2**63 - 1


def test_web_one_time_charge_bounded(seed):
    client = _own_staff(seed)
    url = reverse("web:one_time_charge_new", kwargs={"customer_id": seed.olga.pk})
    # The report's reproduction: 92233720368547758 × 2 stopped every run.
    for changes in (
        {"unit_price": "92233720368547758", "quantity": "2"},
        *({"unit_price": text} for text in REFUSED),
        {"quantity": str(QUANTITY_MAX + 1), "unit_price": "0.01"},
        {"quantity": "2", "unit_price": MAX},  # each within, the line above
        {"quantity": "1e9"},
    ):
        response = client.post(url, _charge_form(seed, **changes))
        assert response.status_code == 200, changes
        assert response.context["form"].errors, changes
    assert not OneTimeCharge.objects.exists()
    for changes in ({"unit_price": MAX}, {"quantity": str(QUANTITY_MAX), "unit_price": "100.00"}):
        response = client.post(url, _charge_form(seed, **changes))
        assert response.status_code == 302, response.context["form"].errors
    assert sorted(OneTimeCharge.objects.values_list("unit_price_minor", "quantity")) == [
        (10000, QUANTITY_MAX),
        (AMOUNT_MAX_MINOR, 1),
    ]


def test_web_service_price_override_bounded(seed):
    client = _own_staff(seed)
    url = reverse("web:service_new", kwargs={"customer_id": seed.olga.pk})
    form = {"tariff": str(seed.own_tariff.pk), "start_date": "2026-03-01", "quantity": "1"}
    for changes in (
        *({"price_override": text} for text in REFUSED),
        {"price_override": MAX, "quantity": "2"},
        {"quantity": str(QUANTITY_MAX + 1)},
    ):
        response = client.post(url, {**form, **changes})
        assert response.status_code == 200, changes
        assert response.context["form"].errors, changes
    assert not Service.objects.exists()
    response = client.post(url, {**form, "price_override": MAX})
    assert response.status_code == 302
    assert Service.objects.get().price_override_minor == AMOUNT_MAX_MINOR


def test_web_payment_bounded(seed):
    client = _web(make_user("acc-web", Role.ACCOUNTANT))
    url = reverse("web:payment_new")
    form = {"customer": str(seed.alice.pk), "date": "2026-03-01", "method": "bank_transfer"}
    for text in REFUSED:
        response = client.post(url, {**form, "amount": text})
        assert response.status_code == 200, text
        assert "amount" in response.context["form"].errors, text
    assert not Payment.objects.exists()
    response = client.post(url, {**form, "amount": MAX, "reference": "MAX"})
    assert response.status_code == 302
    assert Payment.objects.get().amount_minor == AMOUNT_MAX_MINOR
    # The books still check and the balance answers (it answered 500 with 92233720368547758).
    assert client.get(reverse("web:customer", kwargs={"customer_id": seed.alice.pk})).status_code
    assert client.get(f"/api/v1/customers/{seed.alice.pk}/balance").status_code in (200, 401)


def test_web_money_fields_parse_with_the_currencys_decimals(seed):
    """A JPY issuer's "12.50" is a form error (it was a 500), like the API's 422."""
    seed.ownnet.currency = "JPY"
    seed.ownnet.save(update_fields=["currency"])
    client = _own_staff(seed)
    url = reverse("web:one_time_charge_new", kwargs={"customer_id": seed.olga.pk})
    response = client.post(url, _charge_form(seed, unit_price="12.50"))
    assert response.status_code == 200
    assert "JPY has no decimals" in str(response.context["form"].errors["unit_price"])
    assert not OneTimeCharge.objects.exists()
    response = client.post(url, _charge_form(seed, unit_price="1250"))
    assert response.status_code == 302
    assert OneTimeCharge.objects.get().unit_price_minor == 1250


def test_web_billing_run_refuses_a_future_date(seed):
    client = _web(make_user("adm-web", Role.ADMIN))
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    response = client.post(reverse("web:billing_start"), {"run_date": tomorrow.isoformat()})
    assert response.status_code == 302
    assert not BillingRun.objects.exists()
    page = client.get(reverse("web:billing")).content.decode()
    assert "cannot be dated in the future" in page


def test_api_bounded(seed):
    body = {
        "customer_id": seed.olga.pk,
        "description": "Router",
        "tax_rate_id": seed.own_vat.pk,
        "charge_date": "2026-03-01",
    }
    for changes in (
        *({"unit_price": text} for text in REFUSED),
        {"unit_price": MAX, "quantity": 2},
        {"unit_price": "1.00", "quantity": QUANTITY_MAX + 1},
    ):
        answer = seed.ownnet_admin.post("/one-time-charges", {**body, **changes})
        assert_error(answer, 422)
    assert not OneTimeCharge.objects.exists()
    assert seed.ownnet_admin.post("/one-time-charges", {**body, "unit_price": MAX}).status == 201

    pay = {"customer_id": seed.alice.pk, "currency": "EUR", "date": "2026-03-01"}
    for text in REFUSED:
        assert_error(seed.accountant.post("/payments", {**pay, "amount": text}), 422)
    assert not Payment.objects.exists()
    answer = seed.accountant.post("/payments", {**pay, "amount": MAX, "reference": "M"})
    assert answer.status == 201, answer.body
    balance = seed.accountant.get(f"/customers/{seed.alice.pk}/balance")
    assert balance.status == 200
    assert balance.body["balance"]["amount"] == MAX


def test_customer_import_bounded(seed):
    header = "reference,name,tariff,service_start,service_quantity,service_price,min_balance\n"
    cases = [
        ("1", "1e15", ""),
        ("1", "9e99", ""),
        (str(QUANTITY_MAX + 1), "", ""),
        ("2", MAX, ""),
        ("1", "", "-1e15"),
    ]
    for quantity, price, minimum in cases:
        row = f"I-1,Imported,{seed.fiber.name},2026-03-01,{quantity},{price},{minimum}\n"
        result = customers_import(csv_text=header + row, partner=seed.home, dry_run=False)
        assert result.errors, (quantity, price, minimum)
        assert not Service.objects.filter(customer__reference="I-1").exists()
    row = f"I-1,Imported,{seed.fiber.name},2026-03-01,1,{MAX},\n"
    result = customers_import(csv_text=header + row, partner=seed.home, dry_run=False)
    assert not result.errors, result.errors
    assert Service.objects.get(customer__reference="I-1").price_override_minor == AMOUNT_MAX_MINOR


def test_bank_files_bounded(seed):
    for amount in ("1E15", "9E99", "92233720368547758"):
        with pytest.raises(BankFileError, match="largest amount"):
            bank_file_parse(camt053([Entry(amount, txs=[Tx(amount, "X")])]))
    with pytest.raises(BankFileError, match="not an amount"):
        bank_file_parse(camt053([Entry("Infinity", txs=[Tx("Infinity", "X")])]))
    csv_file = b"date,amount,reference\n2026-03-01,1e15,R1\n"
    with pytest.raises(BankFileError, match="largest amount"):
        bank_file_parse(csv_file)
    assert bank_file_parse(camt053([Entry(MAX, txs=[Tx(MAX, "X")])])).lines[0].amount == (
        Money.parse(MAX, "EUR").amount
    )
