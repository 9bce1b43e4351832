"""POST /customers/{id}/partner-change: a preview and the move, one code path (docs/api.md,
docs/reseller-modes.md). Figures by hand: Alice (operator customer, billing day 1, prepaid)
has Fiber 100 at 30.00 net, 19 % VAT, from 1 January 2026, billed on 1 January and
1 February (so charged up to 28 February); the move is made on 10 February 2026."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine

from ispbill.billing.run import billing_run_start
from ispbill.catalog.models import PartnerPrice
from ispbill.core.models import AuditEvent
from ispbill.customers.models import Customer
from ispbill.partners.models import Partner, PartnerMode
from ispbill.subscriptions.models import Service
from tests.security.world import database_fingerprint

from .conftest import Seed, assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def moved_world(seed: Seed):  # type: ignore[no-untyped-def]
    Service.objects.create(
        partner=seed.home, customer=seed.alice, tariff=seed.fiber, start_date=date(2026, 1, 1)
    )
    for day in (date(2026, 1, 1), date(2026, 2, 1)):
        billing_run_start(run_date=day)
    account = Customer.objects.create(partner=seed.home, reference="P-W", name="WISP account")
    wisp = Partner.objects.create(
        name="WISP", mode=PartnerMode.AGGREGATED, aggregation_day=5, account=account
    )
    PartnerPrice.objects.create(partner=wisp, tariff=seed.fiber, price_minor=2100)
    with time_machine.travel(date(2026, 2, 10), tick=False):
        for api in (
            seed.admin,
            seed.accountant,
            seed.support,
            seed.citynet_admin,
            seed.ownnet_admin,
        ):
            api.get("/customers")  # the tokens' last use, written once a minute, is written
        yield seed, wisp


def test_preview_then_move(moved_world):  # type: ignore[no-untyped-def]
    """To WISP (aggregated, day 5 monthly, 21.00): the next billing date on its cycle is
    5 March, charging the rest of the cut period 5 February - 4 March (28 days) not charged
    yet, 1-4 March: 21.00 x 4 / 28 = 3.00, and 5 March - 4 April, 21.00; both for WISP's
    aggregated invoice, nothing to Alice."""
    seed, wisp = moved_world
    url = f"/customers/{seed.alice.pk}/partner-change"
    before = database_fingerprint()
    preview = seed.admin.post(url, {"partner_id": wisp.pk, "preview": True})
    assert preview.status == 200, preview.body
    assert database_fingerprint() == before
    body = preview.body
    assert (body["moved"], body["from_partner"], body["to_partner"], body["to_mode"]) == (
        False,
        "Main",
        "WISP",
        "aggregated",
    )
    assert (body["cycle"], body["next_billing_date"], body["billed_to"]) == (
        "day 5, monthly",
        "2026-03-05",
        "WISP account",
    )
    assert body["invoices"] == [] and body["wholesale"] == []
    assert [
        (c["billing_date"], c["period_start"], c["period_end"], c["amount"]["amount"])
        for c in body["held"]
    ] == [
        ("2026-03-05", "2026-03-01", "2026-03-04", "3.00"),
        ("2026-03-05", "2026-03-05", "2026-04-04", "21.00"),
    ]

    done = seed.admin.post(url, {"partner_id": wisp.pk})
    assert done.status == 200 and done.body["moved"] is True
    assert done.body["held"] == body["held"]
    assert Customer.objects.get(pk=seed.alice.pk).partner_id == wisp.pk
    event = AuditEvent.objects.get(action="customer.partner_changed")
    assert event.changes["partner"] == {"before": "Main", "after": "WISP"}
    assert event.actor_id is not None


def test_refusals(moved_world):  # type: ignore[no-untyped-def]
    seed, wisp = moved_world
    url = f"/customers/{seed.alice.pk}/partner-change"
    disabled = Partner.objects.create(name="Gone", mode=PartnerMode.PERCENTAGE, is_active=False)
    before = database_fingerprint()
    for partner_id, words in [(seed.home.pk, "already belongs"), (disabled.pk, "disabled")]:
        for preview in (True, False):
            body = assert_error(
                seed.admin.post(url, {"partner_id": partner_id, "preview": preview}),
                422,
                "partner_change_refused",
            )
            assert words in body["fields"]["partner_id"]
    assert_error(seed.admin.post(url, {"partner_id": 999_999}), 404)
    assert_error(seed.admin.post("/customers/999999/partner-change", {"partner_id": wisp.pk}), 404)
    # A partner's account stays the home partner's.
    body = assert_error(
        seed.admin.post(f"/customers/{wisp.account_id}/partner-change", {"partner_id": wisp.pk}),
        422,
    )
    assert "partner's account" in body["detail"]
    # Only the operator administrator moves customers: the others are refused, and another
    # partner's customer is a 404 before that for nobody (the capability comes first).
    for api in (seed.accountant, seed.support, seed.citynet_admin, seed.ownnet_admin):
        assert_error(api.post(url, {"partner_id": wisp.pk, "preview": True}), 403)
    assert database_fingerprint() == before


def test_the_operation_is_documented(seed: Seed):
    schema = seed.admin.get("/openapi.json").body
    operation = schema["paths"]["/api/v1/customers/{customer_id}/partner-change"]["post"]
    assert "preview" in str(operation["requestBody"]) or operation["requestBody"]
    assert "Move a customer to another partner" in operation["description"]
