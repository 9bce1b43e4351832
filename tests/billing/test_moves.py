"""Moving a customer to another partner with what the move bills (docs/reseller-modes.md,
"Changing mode or moving a customer"): the preview and the move are one code path, the
preview leaves nothing behind, figures worked by hand.

Throughout: an operator customer (billing day 1, prepaid) with Fiber at 30.00 net, 19 %
VAT, from 1 March 2026, billed on 1 March and 1 April (so charged up to 30 April); the move
is looked at on 15 April 2026."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine

from ispbill.billing.moves import PartnerChangeError, customer_partner_move
from ispbill.billing.run import billing_run_start
from ispbill.catalog.models import PartnerPrice
from ispbill.core.invariants import invariants_check
from ispbill.core.models import AuditEvent
from ispbill.customers.models import Customer
from ispbill.partners.models import Partner, PartnerMode
from ispbill.subscriptions.models import Service
from tests.factories import PartnerFactory, partner_with_account
from tests.security.world import database_fingerprint

from .builders import customer, service, tariff

pytestmark = pytest.mark.django_db
TODAY = date(2026, 4, 15)


@pytest.fixture
def billed(home):  # type: ignore[no-untyped-def]
    c = customer()
    fiber = tariff(price=3000)
    s = service(c, fiber, date(2026, 3, 1))
    for day in (date(2026, 3, 1), date(2026, 4, 1)):
        billing_run_start(run_date=day)
    s.refresh_from_db()
    assert s.charged_through == date(2026, 5, 1)
    with time_machine.travel(TODAY, tick=False):
        yield c, fiber, s


def _lines(charges):  # type: ignore[no-untyped-def]
    return [
        (ch.billing_date, ch.period_start, ch.period_end, ch.amount_minor, ch.billed_to)
        for ch in charges
    ]


def test_to_an_aggregated_partner_the_rest_of_the_cut_period_then_its_cycle(billed):
    """WISP aggregates on day 5, monthly, with a partner price of 21.00. The next billing
    date on its cycle is 5 May, which charges:
    - the rest of the cut period 5 April - 4 May (30 days), charged up to 30 April already:
      1-4 May, 4 days: 21.00 x 4 / 30 = 2.80;
    - 5 May - 4 June in full, 21.00.
    Both go on WISP's aggregated invoice (its account), none to the customer."""
    c, fiber, s = billed
    wisp = partner_with_account(mode=PartnerMode.AGGREGATED, name="WISP", aggregation_day=5)
    PartnerPrice.objects.create(partner=wisp, tariff=fiber, price_minor=2100)
    before = database_fingerprint()
    preview = customer_partner_move(customer=c, partner=wisp, commit=False, actor="test")
    assert database_fingerprint() == before  # nothing written, no number, no audit
    assert c.partner_id != wisp.pk and Customer.objects.get(pk=c.pk).partner_id != wisp.pk
    assert (preview.committed, preview.to_partner, preview.to_mode) == (False, "WISP", "aggregated")
    assert (preview.cycle, preview.next_billing_date) == ("day 5, monthly", date(2026, 5, 5))
    assert preview.billed_to == wisp.account.name and preview.invoices == []
    account = wisp.account.name
    assert _lines(preview.held) == [
        (date(2026, 5, 5), date(2026, 5, 1), date(2026, 5, 4), 280, account),
        (date(2026, 5, 5), date(2026, 5, 5), date(2026, 6, 4), 2100, account),
    ]

    done = customer_partner_move(customer=c, partner=wisp, commit=True, actor="test")
    assert done.committed and _lines(done.held) == _lines(preview.held)
    c.refresh_from_db()
    assert c.partner_id == wisp.pk and Service.objects.get(pk=s.pk).partner_id == wisp.pk
    event = AuditEvent.objects.get(action="customer.partner_changed")
    assert event.changes["partner"]["after"] == "WISP"
    # What the preview showed is what the run bills.
    billing_run_start(run_date=date(2026, 5, 5))
    from ispbill.billing.models import Charge

    billed_after = Charge.objects.filter(service=s, period_start__gte=date(2026, 5, 1))
    assert sorted((ch.period_start, ch.amount_minor) for ch in billed_after) == [
        (date(2026, 5, 1), 280),
        (date(2026, 5, 5), 2100),
    ]
    assert invariants_check()[1] == []


def test_to_an_own_invoicing_partner_its_invoices_and_the_wholesale_charges(billed):
    """Alpenfunk bills on day 10 and is billed wholesale on day 1 at 20.00. Its invoice of
    10 May (the next billing date on its cycle) to the customer:
    - 1-9 May, the rest of the cut period 10 April - 9 May (30 days): 30.00 x 9 / 30 = 9.00;
    - 10 May - 9 June: 30.00;
    net 39.00, VAT 19 % 7.41, total 46.41. Wholesale, to Alpenfunk's account, from the first
    day not charged (1 May) on its day 1: 1-31 May, 20.00."""
    c, fiber, _s = billed
    alpen = partner_with_account(
        mode=PartnerMode.OWN_INVOICING, name="Alpenfunk", billing_day=10, wholesale_charges=True
    )
    PartnerPrice.objects.create(partner=alpen, tariff=fiber, price_minor=2000)
    before = database_fingerprint()
    preview = customer_partner_move(customer=c, partner=alpen, commit=False)
    assert database_fingerprint() == before
    assert (preview.issuer, preview.billed_to, preview.cycle) == (
        "Alpenfunk",
        c.name,
        "day 10, monthly",
    )
    assert [
        (i.billing_date, i.issue_date, i.net_minor, i.tax_minor, i.total_minor, i.issuer)
        for i in preview.invoices
    ] == [(date(2026, 5, 10), date(2026, 5, 10), 3900, 741, 4641, "Alpenfunk")]
    assert _lines(preview.invoices[0].charges) == [
        (date(2026, 5, 10), date(2026, 5, 1), date(2026, 5, 9), 900, c.name),
        (date(2026, 5, 10), date(2026, 5, 10), date(2026, 6, 9), 3000, c.name),
    ]
    assert preview.held == []
    assert preview.wholesale_billing_date == date(2026, 5, 1)
    assert _lines(preview.wholesale) == [
        (date(2026, 5, 1), date(2026, 5, 1), date(2026, 5, 31), 2000, alpen.account.name)
    ]


def test_refusals_change_nothing(billed, home):  # type: ignore[no-untyped-def]
    c, _fiber, _s = billed
    disabled = PartnerFactory(mode=PartnerMode.PERCENTAGE, name="Gone", is_active=False)
    no_account = PartnerFactory(mode=PartnerMode.PERCENTAGE, name="Agg")
    Partner.objects.filter(pk=no_account.pk).update(mode=PartnerMode.AGGREGATED)
    no_account.refresh_from_db()
    agg = partner_with_account(mode=PartnerMode.AGGREGATED, name="Agg2")
    before = database_fingerprint()
    for partner, message in [
        (home, "already belongs to"),
        (disabled, "is disabled"),
        (no_account, "has no account"),
    ]:
        for commit in (False, True):
            with pytest.raises(PartnerChangeError, match=message):
                customer_partner_move(customer=c, partner=partner, commit=commit)
    with pytest.raises(PartnerChangeError, match="partner's account"):
        customer_partner_move(customer=agg.account, partner=agg, commit=True)
    assert database_fingerprint() == before


def test_a_customer_without_services_bills_nothing(home):  # type: ignore[no-untyped-def]
    c = customer()
    other = PartnerFactory(mode=PartnerMode.PERCENTAGE, name="CityNet")
    preview = customer_partner_move(customer=c, partner=other, commit=False)
    assert preview.nothing_billed and preview.next_billing_date is None
    assert preview.issuer == home.name  # the operator invoices a percentage partner's customers
