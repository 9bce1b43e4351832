"""Fixtures of the API tests: users with tokens, a small catalog, a JSON client."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client

from ispbill.accounts.models import Role, User
from ispbill.accounts.services import api_token_create
from ispbill.catalog.models import Tariff, TaxRate
from ispbill.customers.models import Customer
from ispbill.partners.models import Partner, PartnerMode

BASE = "/api/v1"


@dataclass
class Answer:
    status: int
    body: Any
    raw: bytes
    headers: dict[str, str]


class Api:
    """Calls the API with a bearer token, JSON in and out."""

    def __init__(self, token: str) -> None:
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def call(
        self, method: str, path: str, body: Any = None, *, key: str | None = None, **query: Any
    ) -> Answer:
        url = path if path.startswith("/api/") else BASE + path
        extra = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
        if method == "GET":
            response = self.client.get(url, query or None, **extra)
        else:
            data = json.dumps(body if body is not None else {})
            response = getattr(self.client, method.lower())(
                url, data, content_type="application/json", **extra
            )
        # A streamed answer (the CSV line detail) is read whole.
        content = b"".join(response.streaming_content) if response.streaming else response.content
        parsed: Any = None
        if response.get("Content-Type", "").startswith("application/json"):
            parsed = json.loads(content)
        return Answer(response.status_code, parsed, content, dict(response.items()))

    def get(self, path: str, **query: Any) -> Answer:
        return self.call("GET", path, **query)

    def post(self, path: str, body: Any = None, *, key: str | None = None) -> Answer:
        return self.call("POST", path, body, key=key)

    def patch(self, path: str, body: Any = None) -> Answer:
        return self.call("PATCH", path, body)

    def delete(self, path: str) -> Answer:
        return self.call("DELETE", path)


def make_user(username: str, role: str, **kw: Any) -> User:
    return User.objects.create(
        username=username,
        role=role,
        password=make_password(None),
        email=f"{username}@example.com",
        **kw,
    )


def api_for(user: User) -> Api:
    _token, plaintext = api_token_create(user=user, name="tests")
    return Api(plaintext)


@dataclass
class Seed:
    home: Partner
    vat: TaxRate
    fiber: Tariff  # operator tariff, 30.00 net at 19 %
    citynet: Partner  # percentage partner allowed to sell fiber
    ownnet: Partner  # own-invoicing partner with its own tariff
    own_vat: TaxRate
    own_tariff: Tariff  # 20.00 net at 19 %
    alice: Customer  # operator's customer
    bob: Customer  # CityNet's customer
    olga: Customer  # OwnNet's customer
    admin: Api
    accountant: Api
    support: Api
    citynet_admin: Api
    ownnet_admin: Api
    portal: Api


@pytest.fixture
def seed(db: Any) -> Seed:
    # A transactional test before this one may have flushed the migrations' home partner.
    home = Partner.objects.filter(is_home=True).first() or Partner.objects.create(
        name="Main", mode=PartnerMode.DIRECT, is_home=True
    )
    vat = TaxRate.objects.create(partner=home, name="VAT 19 %", rate_bp=1900)
    fiber = Tariff.objects.create(partner=home, name="Fiber 100", price_minor=3000, tax_rate=vat)
    citynet = Partner.objects.create(
        name="CityNet", mode=PartnerMode.PERCENTAGE, commission_bp=1000
    )
    fiber.available_to.add(citynet)
    # With the operator's runs: one run bills every mode here (own runs: test_own_runs.py).
    ownnet = Partner.objects.create(
        name="OwnNet", mode=PartnerMode.OWN_INVOICING, runs_own_billing=False
    )
    own_vat = TaxRate.objects.create(partner=ownnet, name="USt 19", rate_bp=1900)
    own_tariff = Tariff.objects.create(
        partner=ownnet, name="Own 50", price_minor=2000, tax_rate=own_vat
    )
    alice = Customer.objects.create(
        partner=home, reference="A-1", name="Alice", email="alice@example.org"
    )
    bob = Customer.objects.create(partner=citynet, reference="B-1", name="Bob")
    olga = Customer.objects.create(partner=ownnet, reference="O-1", name="Olga")
    return Seed(
        home=home,
        vat=vat,
        fiber=fiber,
        citynet=citynet,
        ownnet=ownnet,
        own_vat=own_vat,
        own_tariff=own_tariff,
        alice=alice,
        bob=bob,
        olga=olga,
        admin=api_for(make_user("root", Role.ADMIN, is_staff=True)),
        accountant=api_for(make_user("acc", Role.ACCOUNTANT)),
        support=api_for(make_user("sup", Role.SUPPORT)),
        citynet_admin=api_for(make_user("city", Role.PARTNER_ADMIN, partner=citynet)),
        ownnet_admin=api_for(make_user("own", Role.PARTNER_ADMIN, partner=ownnet)),
        portal=api_for(make_user("bobby", Role.CUSTOMER, partner=citynet, customer=bob)),
    )


def assert_error(answer: Answer, status: int, code: str | None = None) -> dict[str, Any]:
    """The error body has the documented shape and status."""
    assert answer.status == status, (answer.status, answer.body)
    assert set(answer.body) == {"detail", "code", "fields"}, answer.body
    assert isinstance(answer.body["detail"], str) and answer.body["detail"]
    assert isinstance(answer.body["fields"], dict)
    if code is not None:
        assert answer.body["code"] == code, answer.body
    return answer.body  # type: ignore[no-any-return]


@dataclass
class Billed:
    """``seed`` after a billing run on 1 Feb 2026 for services started on 1 Jan 2026."""

    seed: Seed
    run_id: int
    alice_invoices: list[int]  # oldest first
    bob_invoices: list[int]
    olga_invoices: list[int]
    payment_id: int  # Bob paid 35.70 on 5 Feb 2026
    statement_id: int  # CityNet's commission for February 2026
    credit_note_id: int  # 10.00 net off Alice's January invoice


@pytest.fixture
def billed(seed: Seed) -> Billed:
    from datetime import date

    from ispbill.billing.run import billing_run_start
    from ispbill.commission.statements import commission_statement_build
    from ispbill.core.money import Money
    from ispbill.invoicing.models import Invoice
    from ispbill.payments.credit_notes import credit_note_issue
    from ispbill.payments.services import payment_record
    from ispbill.subscriptions.models import Service

    for customer, tariff in (
        (seed.alice, seed.fiber),
        (seed.bob, seed.fiber),
        (seed.olga, seed.own_tariff),
    ):
        Service.objects.create(
            partner=customer.partner, customer=customer, tariff=tariff, start_date=date(2026, 1, 1)
        )
    summary = billing_run_start(run_date=date(2026, 2, 1))

    def ids(customer: Customer) -> list[int]:
        return list(
            Invoice.objects.filter(customer=customer)
            .order_by("billing_date", "pk")
            .values_list("pk", flat=True)
        )

    payment = payment_record(
        customer=seed.bob,
        amount=Money.parse("35.70", "EUR"),
        on=date(2026, 2, 5),
        reference="BANK-1",
    )
    statement = commission_statement_build(partner=seed.citynet, month=date(2026, 2, 1))
    alice_first = Invoice.objects.get(pk=ids(seed.alice)[0])
    line = alice_first.lines.get()
    cn = credit_note_issue(
        invoice=alice_first, on=date(2026, 2, 10), reason="Outage", lines={line.pk: 1000}
    )
    return Billed(
        seed=seed,
        run_id=int(summary.run_id or 0),
        alice_invoices=ids(seed.alice),
        bob_invoices=ids(seed.bob),
        olga_invoices=ids(seed.olga),
        payment_id=payment.pk,
        statement_id=statement.pk,
        credit_note_id=cn.pk,
    )
