"""Every bad value of issue #19 (IBAN DE00123, VAT id XX, country Ge, pattern INV-{foo},
reminder days abc, and BIC and currency) is refused with its reason through the web forms,
the API and the CSV import, and nothing is written; good values are stored normalised.
Settings of another mode than the partner's are ignored by the web form and refused by the
API (ispbill/core/validators.py, docs/reseller-modes.md)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from ispbill.accounts.models import Role, User
from ispbill.core.models import AuditEvent
from ispbill.customers.models import Customer
from ispbill.dataio.customer_import import COLUMNS, customers_import
from ispbill.partners.models import Partner, PartnerMode
from tests.api.conftest import Seed, assert_error
from tests.web.test_partner_edit import _form_data

pytestmark = pytest.mark.django_db

# (field, bad value, what the refusal says)
BAD_PARTNER_VALUES = [
    ("iban", "DE00123", "DE00123 has 7 characters"),
    ("bic", "XX", "XX is not a BIC"),
    ("vat_id", "XX", "XX does not start with a country code"),
    ("country", "Ge", "Write the country code in capitals: GE (Georgia)"),
    ("currency", "eur", "Write the currency code in capitals: EUR"),
    (
        "invoice_number_pattern",
        "INV-{foo}",
        "Unknown token {foo} in the number pattern; use one of {year}, {month}, {day}, "
        "{partner_id}, {customer_id}, {next}.",
    ),
    ("credit_note_number_pattern", "CN{next}{next}", "{next} exactly once"),
    ("receipt_number_pattern", "R-{year}", "{next} exactly once"),
    ("reminder_days", "abc", "'abc' is not a number of days"),
]
BAD_CUSTOMER_VALUES = [
    ("country", "Ge", "Write the country code in capitals: GE (Georgia)"),
    ("vat_id", "XX", "XX does not start with a country code"),
    ("vat_id", "DE123456789", "The check digit of DE123456789 does not match"),
]


def _admin_client() -> Client:
    client = Client()
    client.force_login(User.objects.create(username="web-admin", role=Role.ADMIN))
    return client


def _new_partner_data(**changes: str) -> dict[str, Any]:
    """A complete own-invoicing partner (every issuer setting applies to it)."""
    data = {
        "name": "Funkwelle",
        "mode": "own_invoicing",
        "wholesale_charges": "",
        "discount_percent": "0",
        "aggregation_day": 1,
        "aggregation_cycle": 1,
        "aggregation_anchor_month": 1,
        "legal_name": "Funkwelle GmbH",
        "country": "DE",
        "vat_id": "DE123456788",
        "iban": "DE89370400440532013000",
        "bic": "COBADEFFXXX",
        "currency": "EUR",
        "billing_day": 1,
        "payment_due_days": 14,
        "payment_period": "prepaid",
        "first_period_billing": "next_invoice",
        "reminder_days": "3,5,7",
        "invoice_number_pattern": "FW-{year}-{next|5}",
        "credit_note_number_pattern": "FW-CN-{year}-{next|5}",
        "receipt_number_pattern": "FW-R-{year}-{next|5}",
        "plan_change_credit": "credit_note",
        "plan_change_invoicing": "next_invoice",
        "late_fee_days": 7,
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(("field", "bad", "says"), BAD_PARTNER_VALUES)
def test_partner_form_refuses_and_writes_nothing(seed: Seed, field: str, bad: str, says: str):
    client = _admin_client()
    partners, events = Partner.objects.count(), AuditEvent.objects.count()
    response = client.post(reverse("web:partner_new"), _new_partner_data(**{field: bad}))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field] and says in errors[field][0], errors
    assert says in response.content.decode().replace("&#x27;", "'")
    assert (Partner.objects.count(), AuditEvent.objects.count()) == (partners, events)

    # Editing: the same refusal, the stored value stays.
    url = reverse("web:partner_edit", kwargs={"partner_id": seed.ownnet.pk})
    data = _form_data(client, url)
    before = Partner.objects.values().get(pk=seed.ownnet.pk)
    data[field] = [bad]
    response = client.post(url, data)
    assert response.status_code == 200 and says in response.context["form"].errors[field][0]
    assert Partner.objects.values().get(pk=seed.ownnet.pk) == before


@pytest.mark.parametrize(("field", "bad", "says"), BAD_PARTNER_VALUES)
def test_issuer_settings_form_refuses(seed: Seed, field: str, bad: str, says: str):
    client = _admin_client()
    url = reverse("web:settings")
    data = _form_data(client, url)
    before = Partner.objects.values().get(pk=seed.home.pk)
    data[field] = [bad]
    response = client.post(url, data)
    assert response.status_code == 200
    assert says in response.context["form"].errors[field][0]
    assert Partner.objects.values().get(pk=seed.home.pk) == before


@pytest.mark.parametrize(("field", "bad", "says"), BAD_PARTNER_VALUES)
def test_partner_api_refuses_and_writes_nothing(seed: Seed, field: str, bad: str, says: str):
    partners, events = Partner.objects.count(), AuditEvent.objects.count()
    body = assert_error(
        seed.admin.post("/partners", {"name": "Funkwelle", "mode": "own_invoicing", field: bad}),
        422,
    )
    assert says in body["fields"][field], body
    before = Partner.objects.values().get(pk=seed.ownnet.pk)
    body = assert_error(seed.admin.patch(f"/partners/{seed.ownnet.pk}", {field: bad}), 422)
    assert says in body["fields"][field], body
    assert Partner.objects.values().get(pk=seed.ownnet.pk) == before
    assert (Partner.objects.count(), AuditEvent.objects.count()) == (partners, events)


def test_good_values_are_stored_normalised_everywhere(seed: Seed):
    client = _admin_client()
    response = client.post(
        reverse("web:partner_new"),
        _new_partner_data(
            iban="de89 3704 0044 0532 0130 00",
            bic="cobadeff",
            vat_id="de 123.456.788",
            reminder_days="7, 3 3",
        ),
    )
    assert response.status_code == 302, response.context["form"].errors
    web = Partner.objects.get(name="Funkwelle")
    assert (web.iban, web.bic, web.vat_id, web.reminder_days) == (
        "DE89370400440532013000",
        "COBADEFF",
        "DE123456788",
        "3,7",
    )
    created = seed.admin.post(
        "/partners",
        {
            "name": "Api Funk",
            "mode": "own_invoicing",
            "iban": "AT61 1904 3002 3457 3201",
            "vat_id": "ATU 1358 5627",
            "reminder_days": "10,5",
        },
    )
    assert created.status == 201, created.body
    assert (created.body["iban"], created.body["vat_id"], created.body["reminder_days"]) == (
        "AT611904300234573201",
        "ATU13585627",
        "5,10",
    )


@pytest.mark.parametrize(("field", "bad", "says"), BAD_CUSTOMER_VALUES)
def test_customer_form_api_and_import_refuse(seed: Seed, field: str, bad: str, says: str):
    client = _admin_client()
    customers, events = Customer.objects.count(), AuditEvent.objects.count()
    good = {"partner": seed.home.pk, "reference": "N-1", "name": "Nina", "language": "en"}
    response = client.post(
        reverse("web:customer_new"), {**good, "country": "DE", "vat_id": "", field: bad}
    )
    assert response.status_code == 200
    assert says in response.context["form"].errors[field][0]

    body = assert_error(
        seed.admin.post("/customers", {"reference": "N-1", "name": "Nina", field: bad}), 422
    )
    assert says in body["fields"][field]
    before = Customer.objects.values().get(pk=seed.alice.pk)
    body = assert_error(seed.admin.patch(f"/customers/{seed.alice.pk}", {field: bad}), 422)
    assert says in body["fields"][field]
    assert Customer.objects.values().get(pk=seed.alice.pk) == before

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerow({"reference": "N-1", "name": "Nina", "country": "DE"})
    writer.writerow({"reference": "N-2", "name": "Nils", field: bad})
    result = customers_import(csv_text=out.getvalue(), dry_run=False)
    assert [(e.row, e.column) for e in result.errors] == [(3, field)]
    assert says in result.errors[0].message
    assert result.customers_created == 0
    assert (Customer.objects.count(), AuditEvent.objects.count()) == (customers, events)


def test_customer_values_normalised_in_import_and_api(seed: Seed):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerow({"reference": "N-1", "name": "Nina AG", "vat_id": "de 123 456 788"})
    result = customers_import(csv_text=out.getvalue(), dry_run=False)
    assert result.errors == []
    nina = Customer.objects.get(reference="N-1")
    assert (nina.country, nina.vat_id) == ("DE", "DE123456788")
    answer = seed.admin.patch(
        f"/customers/{seed.alice.pk}", {"vat_id": "ATU13585627", "country": "AT"}
    )
    assert answer.status == 200, answer.body
    assert (answer.body["country"], answer.body["vat_id"]) == ("AT", "ATU13585627")


def test_partner_form_shows_and_keeps_only_the_chosen_modes_settings(seed: Seed):
    client = _admin_client()
    page = client.get(reverse("web:partner_new")).content.decode()
    assert '<fieldset data-modes="percentage"><legend>Percentage commission' in page
    assert '<fieldset data-modes="own_invoicing"><legend>Own invoicing' in page
    assert '<fieldset data-modes="direct own_invoicing"><legend>Numbering' in page
    assert 'data-modes="aggregated"' in page  # block sub-customers, one field
    assert '<form method="post" novalidate data-mode-form>' in page

    # An aggregated partner: the commission and the issuer settings posted are ignored,
    # even a value that would be refused (reminder days "abc").
    data = _new_partner_data(
        name="WISP",
        mode="aggregated",
        commission_percent="50",
        commission_base="invoiced",
        commission_statement_day=9,
        reminder_days="abc",
        billing_day=99,
        discount_percent="25",
        aggregation_day=5,
        aggregation_cycle=3,
    )
    response = client.post(reverse("web:partner_new"), data)
    assert response.status_code == 302, response.context["form"].errors
    wisp = Partner.objects.get(name="WISP")
    assert (wisp.mode, wisp.discount_bp, wisp.aggregation_day, wisp.aggregation_cycle) == (
        PartnerMode.AGGREGATED,
        2500,
        5,
        3,
    )
    assert (wisp.commission_bp, wisp.commission_base, wisp.commission_statement_day) == (
        0,
        "paid",
        1,
    )
    assert (wisp.reminder_days, wisp.billing_day) == ("3,5,7", 1)  # the model's defaults

    # Editing a percentage partner: the wholesale discount posted is ignored, the stored
    # one (0) stays; its commission is saved.
    url = reverse("web:partner_edit", kwargs={"partner_id": seed.citynet.pk})
    data2 = _form_data(client, url)
    data2.update(discount_percent=["abc"], commission_percent=["12.5"], block_subcustomers=["on"])
    response = client.post(url, data2)
    assert response.status_code == 302, response.context["form"].errors
    citynet = Partner.objects.get(pk=seed.citynet.pk)
    assert (citynet.commission_bp, citynet.discount_bp, citynet.block_subcustomers) == (
        1250,
        0,
        False,
    )


def test_api_refuses_another_modes_setting_unless_unchanged(seed: Seed):
    body = assert_error(
        seed.admin.post("/partners", {"name": "X", "mode": "percentage", "discount_bp": 1000}),
        422,
    )
    assert body["fields"] == {
        "discount_bp": "Applies only to own-invoicing partners and aggregated partners, "
        "not to percentage partners."
    }
    assert not Partner.objects.filter(name="X").exists()
    body = assert_error(
        seed.admin.patch(f"/partners/{seed.citynet.pk}", {"reminder_days": "1,2"}), 422
    )
    assert body["fields"]["reminder_days"] == (
        "Applies only to the home partner and own-invoicing partners, not to percentage partners."
    )
    # The whole partner sent back (as read) is accepted: other modes' values unchanged.
    read = seed.admin.get(f"/partners/{seed.citynet.pk}").body
    back = {
        k: v
        for k, v in read.items()
        if k not in ("id", "mode", "is_home", "is_active", "account_id")
    }
    for k, v in back.items():  # fees are read as money objects, written as amounts
        if k.startswith("fee_") and isinstance(v, dict):
            back[k] = v["amount"]
    answer = seed.admin.patch(f"/partners/{seed.citynet.pk}", {**back, "commission_bp": 1500})
    assert answer.status == 200, answer.body
    assert answer.body["commission_bp"] == 1500
