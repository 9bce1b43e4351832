"""The operator moves a customer to another partner from the customer's page: a preview of
what the move bills, then the move (tests/billing/test_moves.py has the same figures)."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from ispbill.accounts.models import Role, User
from ispbill.billing.run import billing_run_start
from ispbill.catalog.models import PartnerPrice
from ispbill.core.models import AuditEvent
from ispbill.customers.models import Customer
from ispbill.partners.models import PartnerMode
from tests.billing.builders import customer, service, tariff
from tests.factories import PartnerFactory, partner_with_account
from tests.security.world import database_fingerprint

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-test-password"


def _client(username: str, role: str, **kw) -> Client:  # type: ignore[no-untyped-def]
    User.objects.create_user(username=username, password=PASSWORD, role=role, **kw)
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


@pytest.fixture
def world(home):  # type: ignore[no-untyped-def]
    """An operator customer with Fiber (30.00) from 1 March 2026, billed on 1 March and
    1 April; WISP aggregates on day 5 monthly at 21.00; today is 15 April 2026."""
    c = customer()
    fiber = tariff(price=3000)
    service(c, fiber, date(2026, 3, 1))
    for day in (date(2026, 3, 1), date(2026, 4, 1)):
        billing_run_start(run_date=day)
    wisp = partner_with_account(mode=PartnerMode.AGGREGATED, name="WISP", aggregation_day=5)
    PartnerPrice.objects.create(partner=wisp, tariff=fiber, price_minor=2100)
    admin = _client("ops", Role.ADMIN)
    with time_machine.travel(date(2026, 4, 15), tick=False):
        yield c, wisp, admin


def test_preview_then_move(world):  # type: ignore[no-untyped-def]
    c, wisp, admin = world
    page = admin.get(reverse("web:customer", kwargs={"customer_id": c.pk}))
    url = reverse("web:customer_partner_move", kwargs={"customer_id": c.pk})
    assert url in page.content.decode()  # the "Move to partner" action
    chooser = admin.get(url)
    assert chooser.status_code == 200
    choices = [p.pk for p in chooser.context["form"].fields["partner"].queryset]
    assert wisp.pk in choices and c.partner_id not in choices

    before = database_fingerprint()
    preview = admin.post(url, {"partner": wisp.pk})
    assert preview.status_code == 200
    assert database_fingerprint() == before  # the move and its billing rolled back
    text = preview.content.decode()
    # The rest of the cut period 5 April - 4 May, 1-4 May: 21.00 x 4 / 30 = 2.80; then
    # 5 May - 4 June, 21.00; both for WISP's aggregated invoice.
    move = preview.context["move"]
    assert [(ch.period_start, ch.amount_minor) for ch in move.held] == [
        (date(2026, 5, 1), 280),
        (date(2026, 5, 5), 2100),
    ]
    for needle in ("€2.80", "€21.00", "day 5, monthly", "aggregated invoice", "Move to WISP"):
        assert needle in text, needle
    assert Customer.objects.get(pk=c.pk).partner_id != wisp.pk

    done = admin.post(url, {"partner": wisp.pk, "confirm": "yes"})
    assert done.status_code == 302 and done["Location"].endswith(f"/customers/{c.pk}/")
    assert Customer.objects.get(pk=c.pk).partner_id == wisp.pk
    event = AuditEvent.objects.get(action="customer.partner_changed")
    assert event.changes["partner"] == {"before": "Main", "after": "WISP"}


def test_refusals_are_form_errors(world, home):  # type: ignore[no-untyped-def]
    c, wisp, admin = world
    disabled = PartnerFactory(mode=PartnerMode.PERCENTAGE, name="Gone", is_active=False)
    url = reverse("web:customer_partner_move", kwargs={"customer_id": c.pk})
    before = database_fingerprint()
    for partner_id in (home.pk, disabled.pk, "", "1" * 25):
        for confirm in ("", "yes"):
            answer = admin.post(url, {"partner": partner_id, "confirm": confirm})
            assert answer.status_code == 200
            assert "partner" in answer.context["form"].errors
    account_url = reverse("web:customer_partner_move", kwargs={"customer_id": wisp.account_id})
    answer = admin.post(account_url, {"partner": wisp.pk, "confirm": "yes"})
    assert "partner's account" in answer.context["form"].errors["partner"][0]
    assert database_fingerprint() == before


def test_only_the_operator_administrator_moves_customers(world):  # type: ignore[no-untyped-def]
    c, wisp, _admin = world
    url = reverse("web:customer_partner_move", kwargs={"customer_id": c.pk})
    citynet = PartnerFactory(mode=PartnerMode.PERCENTAGE, name="CityNet")
    for username, role, kw in [
        ("acc", Role.ACCOUNTANT, {}),
        ("sup", Role.SUPPORT, {}),
        ("city", Role.PARTNER_ADMIN, {"partner": citynet}),
    ]:
        client = _client(username, role, **kw)
        assert client.get(url).status_code == 403
        assert client.post(url, {"partner": wisp.pk, "confirm": "yes"}).status_code == 403
        page = client.get(reverse("web:customer", kwargs={"customer_id": c.pk}))
        assert url not in page.content.decode()
    assert Customer.objects.get(pk=c.pk).partner_id != wisp.pk
