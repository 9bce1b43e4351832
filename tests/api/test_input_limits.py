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
from urllib.parse import urlsplit

import pytest
from django.apps import apps
from django.contrib.messages import ERROR, get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ispbill.accounts.models import Role
from ispbill.billing.models import BillingRun
from ispbill.core.money import (
    AMOUNT_MAX_MINOR,
    PERCENT_MAX_BP,
    QUANTITY_MAX,
    AmountError,
    AmountRangeError,
    Money,
    percent_parse,
)
from ispbill.dataio.bank_files import BankFileError, bank_file_parse
from ispbill.dataio.customer_import import customers_import
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import Partner, PartnerMode
from ispbill.payments.models import Payment
from ispbill.subscriptions.models import OneTimeCharge, Service
from tests.api.conftest import Seed, assert_error, make_user
from tests.dataio.camt import Entry, Tx, camt053
from tests.security.test_every_form import _Forms

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


# -- every number field of every web form and API operation ----------------------------------

MONEY_OVER = ["10000000000.01", "1e15", "9e99", "92233720368547758"]
QUANTITY_OVER = [str(QUANTITY_MAX + 1), "1e15", "9e99"]
PERCENT_OVER = ["100.01", "1e15", "9e99", "-1", "12.505", "NaN"]
MAXIMUM = {"money": MAX, "quantity": str(QUANTITY_MAX), "percent": "100.00"}
OVER = {"money": MONEY_OVER, "quantity": QUANTITY_OVER, "percent": PERCENT_OVER}


# Written by every request, refused or not: a session (messages may be kept there) and a
# token's time of last use.
NOT_COMPARED = ("sessions.Session", "accounts.ApiToken")


def _rows() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every other table: what a refused post must leave as it was."""
    return {
        model._meta.label: list(model._base_manager.order_by("pk").values_list())
        for model in apps.get_models()
        if model._meta.managed and model._meta.label not in NOT_COMPARED
    }


def _refused(response: Any) -> bool:
    """A form error on the page, or a redirect with an error message."""
    if response.status_code == 200 and response.context and "form" in response.context:
        return bool(response.context["form"].errors)
    if response.status_code == 302:
        return any(m.level == ERROR for m in get_messages(response.wsgi_request))
    return False


def _form_fields(client: Client, page: str, action: str) -> dict[str, list[str]]:
    parser = _Forms(page)
    parser.feed(client.get(page).content.decode())
    (form,) = [f for f in parser.forms if urlsplit(f.action).path == action]
    data: dict[str, list[str]] = {}
    for name, value in form.fields:
        data.setdefault(name, []).append(value)
    return data


def test_every_number_field_of_every_web_form_bounded(billed):
    """Each amount, quantity and percentage of each web form, posted as the GET page fills
    the rest: the maximum never answers 5xx, each value over it answers a form error (or a
    redirect with an error message) and writes nothing."""
    seed = billed.seed
    users = {
        "own-staff": make_user("lim-own", Role.PARTNER_STAFF, partner=seed.ownnet),
        "admin": make_user("lim-adm", Role.ADMIN),
        "accountant": make_user("lim-acc", Role.ACCOUNTANT),
    }
    olga, alice = {"customer_id": seed.olga.pk}, {"customer_id": seed.alice.pk}
    invoice = {"invoice_id": billed.alice_invoices[-1]}
    # The partner form takes only the chosen mode's settings: the discount is an aggregated
    # partner's (a percentage partner's form ignores it).
    bulk = Partner.objects.create(name="Bulk Limits", mode=PartnerMode.AGGREGATED)
    forms: list[tuple[str, str, str, dict[str, str]]] = [
        (
            "own-staff",
            reverse("web:one_time_charge_new", kwargs=olga),
            "",
            {"unit_price": "money", "quantity": "quantity"},
        ),
        (
            "own-staff",
            reverse("web:service_new", kwargs=olga),
            "",
            {"price_override": "money", "quantity": "quantity", "discount_percent": "percent"},
        ),
        ("admin", reverse("web:tariff_new"), "", {"price": "money"}),
        ("admin", reverse("web:customer_new"), "", {"min_balance": "money"}),
        ("admin", reverse("web:customer_edit", kwargs=alice), "", {"min_balance": "money"}),
        (
            "admin",
            reverse("web:partner_edit", kwargs={"partner_id": seed.citynet.pk}),
            "",
            {"commission_percent": "percent"},
        ),
        (
            "admin",
            reverse("web:partner_edit", kwargs={"partner_id": bulk.pk}),
            "",
            {"discount_percent": "percent"},
        ),
        ("admin", reverse("web:tariffs"), reverse("web:tax_rate_new"), {"rate_percent": "percent"}),
        ("accountant", reverse("web:payment_new"), "", {"amount": "money"}),
        (
            "accountant",
            reverse("web:payment_refund", kwargs={"payment_id": billed.payment_id}),
            "",
            {"amount": "money"},
        ),
        ("accountant", reverse("web:credit_note_new", kwargs=invoice), "", {"line_": "money"}),
    ]
    clients = {}
    for who, user in users.items():
        clients[who] = Client()
        clients[who].force_login(user)
    failures: list[str] = []
    tried = 0
    for who, page, action, fields in forms:
        client = clients[who]
        action = action or page
        data = _form_fields(client, page, action)
        for prefix, kind in fields.items():
            (name,) = [n for n in data if n.startswith(prefix)][:1] or [prefix]
            assert name in data, (page, name, sorted(data))
            for value in OVER[kind]:
                tried += 1
                before = _rows()
                response = client.post(action, {**data, name: [value]})
                where = f"{who} POST {action} {name}={value!r}"
                if response.status_code >= 500 or not _refused(response):
                    failures.append(f"{where}: {response.status_code}, not refused")
                elif _rows() != before:
                    failures.append(f"{where}: refused but wrote")
            response = client.post(action, {**data, name: [MAXIMUM[kind]]})
            if response.status_code >= 500:
                failures.append(f"{who} POST {action} {name}=maximum: {response.status_code}")
    assert not failures, "\n".join(failures)
    assert tried == 8 * 4 + 2 * 3 + 4 * 6, tried  # money fields, quantities, percentages


def test_every_number_of_every_api_operation_bounded(billed):
    """The API's amounts, quantities and percentages over the limits: 422 with the field
    named, nothing written; the maximum is accepted (or refused by a business rule, 4xx)."""
    seed = billed.seed
    service = Service.objects.filter(customer=seed.olga).get()
    line = Invoice.objects.get(pk=billed.alice_invoices[-1]).lines.first()
    assert line is not None
    charge = {
        "customer_id": seed.olga.pk,
        "description": "Router",
        "tax_rate_id": seed.own_vat.pk,
        "charge_date": "2026-03-01",
        "unit_price": "1.00",
    }
    new_service = {
        "customer_id": seed.olga.pk,
        "tariff_id": seed.own_tariff.pk,
        "start_date": "2026-03-01",
    }
    tariff = {"name": "Huge", "price": "1.00", "tax_rate_id": seed.vat.pk}
    payment = {"customer_id": seed.alice.pk, "currency": "EUR", "date": "2026-03-01"}
    pay, sid = billed.payment_id, service.pk
    wholesale = {"partner_id": seed.citynet.pk, "tariff_id": seed.fiber.pk}
    price = seed.admin.post("/partner-prices", {**wholesale, "price": "24.00"})
    assert price.status == 201, price.body
    pp = price.body["id"]
    inv = billed.alice_invoices[-1]
    operations: list[tuple[Any, str, str, dict[str, Any], str, str]] = [
        (seed.ownnet_admin, "post", "/one-time-charges", charge, "unit_price", "money"),
        (seed.ownnet_admin, "post", "/one-time-charges", charge, "quantity", "quantity"),
        (seed.ownnet_admin, "post", "/services", new_service, "price_override", "money"),
        (seed.ownnet_admin, "post", "/services", new_service, "quantity", "quantity"),
        (seed.ownnet_admin, "post", "/services", new_service, "discount_bp", "percent"),
        (seed.ownnet_admin, "patch", f"/services/{sid}", {}, "price_override", "money"),
        (seed.ownnet_admin, "patch", f"/services/{sid}", {}, "quantity", "quantity"),
        (seed.ownnet_admin, "patch", f"/services/{sid}", {}, "discount_bp", "percent"),
        (seed.admin, "post", "/tariffs", tariff, "price", "money"),
        (seed.admin, "patch", f"/tariffs/{seed.fiber.pk}", {}, "price", "money"),
        (seed.admin, "post", "/partner-prices", wholesale, "price", "money"),
        (seed.admin, "patch", f"/partner-prices/{pp}", {}, "price", "money"),
        (seed.admin, "patch", f"/customers/{seed.alice.pk}", {}, "min_balance", "money"),
        (seed.accountant, "post", "/payments", payment, "amount", "money"),
        (seed.accountant, "post", f"/payments/{pay}/refunds", {}, "amount", "money"),
        (seed.admin, "patch", f"/partners/{seed.citynet.pk}", {}, "commission_bp", "bp"),
        (seed.admin, "patch", f"/partners/{seed.citynet.pk}", {}, "discount_bp", "bp"),
        (seed.admin, "post", "/tax-rates", {"name": "Odd"}, "rate_bp", "bp"),
        (seed.admin, "patch", f"/tax-rates/{seed.vat.pk}", {}, "rate_bp", "bp"),
    ]
    over: dict[str, list[Any]] = {
        "money": MONEY_OVER,
        "quantity": [QUANTITY_MAX + 1, 10**15, 9e99],
        "percent": [10_001, 10**15, 9e99, -1],
        "bp": [10_001, 10**15, 9e99, -1],
    }
    failures: list[str] = []
    tried = 0
    for api, method, path, body, field, kind in operations:
        for value in over[kind]:
            tried += 1
            before = _rows()
            answer = getattr(api, method)(path, {**body, field: value})
            where = f"{method.upper()} {path} {field}={value!r}"
            if answer.status != 422:
                failures.append(f"{where}: {answer.status} {answer.body}")
            elif _rows() != before:
                failures.append(f"{where}: refused but wrote")
    # Credit-note lines: an amount per line.
    for value in MONEY_OVER:
        tried += 1
        body = {"reason": "Too much", "lines": [{"invoice_line_id": line.pk, "amount": value}]}
        answer = seed.accountant.post(f"/invoices/{inv}/credit-notes", body)
        if answer.status != 422:
            failures.append(f"credit note line {value!r}: {answer.status} {answer.body}")
    assert not failures, "\n".join(failures)
    assert tried == 19 * 4 - 3 + 4, tried  # the three quantity rows try three values each
    assert seed.admin.patch(f"/partners/{seed.citynet.pk}", {"commission_bp": 10_000}).status == 200
    answer = seed.admin.patch(f"/tariffs/{seed.fiber.pk}", {"price": MAX})
    assert answer.status == 200, answer.body
    answer = seed.admin.patch(f"/partner-prices/{pp}", {"price": MAX})
    assert answer.status == 200, answer.body


def test_the_largest_jpy_amount_is_accepted_everywhere(seed):
    """10**12 minor units is 1,000,000,000,000 JPY: 13 digits, which the API's amount
    pattern (12 digits) refused while the web form accepted it."""
    seed.ownnet.currency = "JPY"
    seed.ownnet.save(update_fields=["currency"])
    body = {
        "customer_id": seed.olga.pk,
        "description": "Router",
        "tax_rate_id": seed.own_vat.pk,
        "charge_date": "2026-03-01",
    }
    answer = seed.ownnet_admin.post("/one-time-charges", {**body, "unit_price": "1000000000000"})
    assert answer.status == 201, answer.body
    assert_error(
        seed.ownnet_admin.post("/one-time-charges", {**body, "unit_price": "1000000000001"}), 422
    )
    client = _own_staff(seed)
    url = reverse("web:one_time_charge_new", kwargs={"customer_id": seed.olga.pk})
    response = client.post(url, _charge_form(seed, unit_price="1000000000000"))
    assert response.status_code == 302
    assert list(OneTimeCharge.objects.values_list("unit_price_minor", flat=True)) == [
        AMOUNT_MAX_MINOR,
        AMOUNT_MAX_MINOR,
    ]


def test_percentages_parsed_by_one_parser(seed):
    """The web forms, the API and the customer import accept and refuse the same
    percentages (``percent_parse``, ``PERCENT_MAX_BP``)."""
    assert [percent_parse(t) for t in ("0", "12.5", "12,50", "12.5 %", "100")] == [
        0,
        1250,
        1250,
        1250,
        PERCENT_MAX_BP,
    ]
    for text in PERCENT_OVER:
        with pytest.raises(AmountError):
            percent_parse(text)
    header = "reference,name,tariff,service_start,service_discount\n"
    for number, text in enumerate(PERCENT_OVER):
        row = f"P-{number},Imported,{seed.fiber.name},2026-03-01,{text}\n"
        result = customers_import(csv_text=header + row, partner=seed.home, dry_run=False)
        assert result.errors, text
    assert not Service.objects.exists()
    row = f'P-9,Imported,{seed.fiber.name},2026-03-01,"12,5"\n'
    result = customers_import(csv_text=header + row, partner=seed.home, dry_run=False)
    assert not result.errors, result.errors
    assert Service.objects.get().discount_bp == 1250


def test_imports_and_bank_lines_through_the_web_bounded(seed):
    """The upload pages of the customer import and of bank statements, and the assignment
    of a queued bank line, with amounts over the limits: row errors, a form error or an
    error message, never a 500, nothing written; the maximum goes through."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from ispbill.dataio.models import UnmatchedBankLine, UnmatchedReason

    client = _web(make_user("lim-imp", Role.ADMIN))
    header = "reference,name,tariff,service_start,service_quantity,service_price,service_discount\n"
    url = reverse("web:customers_import")
    rows = [
        ("1", "92233720368547758", ""),
        ("2", MAX, ""),  # each within, the line above
        ("1", "9e99", ""),
        (str(QUANTITY_MAX + 1), "", ""),
        ("1e15", "", ""),
        ("1", "", "100.01"),
        ("1", "", "9e99"),
    ]
    for quantity, price, discount in rows:
        csv_text = header + f"W-1,Web,{seed.fiber.name},2026-03-01,{quantity},{price},{discount}\n"
        before = _rows()
        upload = SimpleUploadedFile("c.csv", csv_text.encode(), content_type="text/csv")
        response = client.post(url, {"file": upload})
        assert response.status_code == 200, (quantity, price, discount)
        assert response.context["result"].errors, (quantity, price, discount)
        assert _rows() == before, (quantity, price, discount)
    csv_text = header + f"W-1,Web,{seed.fiber.name},2026-03-01,1,{MAX},100\n"
    upload = SimpleUploadedFile("c.csv", csv_text.encode(), content_type="text/csv")
    assert client.post(url, {"file": upload}).status_code == 302
    assert Service.objects.get(customer__reference="W-1").price_override_minor == AMOUNT_MAX_MINOR

    url = reverse("web:payments_import")
    for amount in ("10000000000.01", "1e15", "9e99", "92233720368547758"):
        before = _rows()
        statement = f"date,amount,reference\n2026-03-01,{amount},R1\n".encode()
        upload = SimpleUploadedFile("s.csv", statement, content_type="text/csv")
        response = client.post(url, {"file": upload, "date_format": "%Y-%m-%d"})
        assert response.status_code == 200, amount
        assert "largest amount" in str(response.context["form"].errors["file"]), amount
        assert _rows() == before, amount

    line = UnmatchedBankLine.objects.create(
        partner=seed.home,
        reference="Q-1",
        booking_date=dt.date(2026, 3, 1),
        amount_minor=1000,
        currency="EUR",
        reason=UnmatchedReason.choices[0][0],
    )
    url = reverse("web:bank_line_assign", kwargs={"line_id": line.pk})
    for amount in ("10000000000.01", "1e15", "9e99", "92233720368547758", "NaN"):
        before = _rows()
        response = client.post(url, {"customer": seed.alice.reference, "amount": amount})
        assert response.status_code == 302, amount
        assert any(m.level == ERROR for m in get_messages(response.wsgi_request)), amount
        assert _rows() == before, amount
    response = client.post(url, {"customer": seed.alice.reference, "amount": MAX})
    assert response.status_code == 302
    assert Payment.objects.get().amount_minor == AMOUNT_MAX_MINOR
