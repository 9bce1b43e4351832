"""A mode change or a move to another partner takes effect from the next period: for every
pair of modes, every day of a service is charged exactly once (docs/domain.md, "Changing mode or
partner").

The cycles differ on purpose: the home partner and the percentage partner bill on day 1
monthly, the own-invoicing partner on day 10 (and wholesale on day 1), the aggregated
partner on day 5 quarterly. The services start on 20 January, mid-cycle for all of them;
the change happens on 15 March; billing runs on the 1st, 5th and 10th of every month until
10 July."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest

from ispbill.billing.changes import PartnerChangeError, customer_partner_change, partner_mode_change
from ispbill.billing.models import Charge, ChargeKind
from ispbill.billing.run import billing_run_start
from ispbill.core.invariants import invariants_check
from ispbill.customers.models import Customer
from ispbill.partners.models import AggregationCycle, Partner, PartnerMode
from ispbill.subscriptions.models import Service
from tests.factories import CustomerFactory, PartnerFactory, ServiceFactory, TariffFactory

pytestmark = pytest.mark.django_db
MODES = [PartnerMode.DIRECT, PartnerMode.PERCENTAGE, PartnerMode.OWN_INVOICING, "aggregated"]
START, CHANGE, LAST = date(2026, 1, 20), date(2026, 3, 15), date(2026, 7, 10)
RUN_DATES = [date(2026, m, d) for m in range(1, 8) for d in (1, 5, 10)]

SETTINGS: dict[str, dict[str, object]] = {
    PartnerMode.PERCENTAGE: {"commission_bp": 1000},
    PartnerMode.OWN_INVOICING: {
        "billing_day": 10,
        "wholesale_charges": True,
        "discount_bp": 3000,
        "invoice_number_pattern": "R{partner_id|2}-{next|5}",
    },
    PartnerMode.AGGREGATED: {
        "aggregation_day": 5,
        "aggregation_cycle": AggregationCycle.QUARTERLY,
        "discount_bp": 2500,
    },
}


def _partner(mode: str, home: Partner) -> Partner:
    if mode == PartnerMode.DIRECT:
        return home
    from tests.factories import partner_with_account

    return partner_with_account(mode=mode, **SETTINGS[mode])


def _bill(dates: list[date]) -> None:
    for d in dates:
        billing_run_start(run_date=d)


def _days(kind: str, service: Service) -> list[date]:
    out: list[date] = []
    for start, end in Charge.objects.filter(service=service, kind=kind).values_list(
        "period_start", "period_end"
    ):
        out.extend(start + timedelta(days=n) for n in range((end - start).days + 1))
    return out


def _assert_each_day_once(service: Service) -> None:
    days = _days(ChargeKind.RETAIL, service)
    assert len(days) == len(set(days)), "a day charged twice"
    last = max(days)
    expected = {START + timedelta(days=n) for n in range((last - START).days + 1)}
    assert set(days) == expected, "a day never charged"
    assert last >= LAST  # prepaid: charged at least through the last run
    service.refresh_from_db()
    assert service.charged_through == last + timedelta(days=1)
    # Nothing left held or waiting: every retail charge is on an invoice.
    assert not Charge.objects.filter(service=service, invoice__isnull=True).exists()
    wholesale = _days(ChargeKind.WHOLESALE, service)
    assert len(wholesale) == len(set(wholesale)), "a day billed wholesale twice"


def _world(home: Partner, from_mode: str) -> tuple[Partner, Customer, list[Service]]:
    old = _partner(from_mode, home)
    customer = CustomerFactory(partner=old)
    fiber = TariffFactory(price_minor=2990)
    quarterly = TariffFactory(price_minor=8700, period_months=3)
    services = [
        ServiceFactory(customer=customer, tariff=fiber, start_date=START),
        ServiceFactory(customer=customer, tariff=quarterly, start_date=START),
    ]
    return old, customer, services


def _retail_after_change(services: list[Service], pointers: dict[int, date]) -> list[Charge]:
    return [
        ch
        for s in services
        for ch in Charge.objects.filter(service=s, kind=ChargeKind.RETAIL)
        if ch.period_start >= pointers[s.pk]
    ]


def _expect_billed_as(charges: list[Charge], partner: Partner, customer: Customer, home) -> None:
    assert charges, "nothing billed after the change"
    if partner.mode == PartnerMode.AGGREGATED:
        account, issuer = partner.account_id, home.pk
    elif partner.mode == PartnerMode.OWN_INVOICING:
        account, issuer = customer.pk, partner.pk
    else:
        account, issuer = customer.pk, home.pk
    assert {(ch.account_id, ch.issuer_id) for ch in charges} == {(account, issuer)}


@pytest.mark.parametrize(("from_mode", "to_mode"), list(itertools.permutations(MODES, 2)))
def test_customer_moves_to_a_partner_in_another_mode(home, from_mode, to_mode):
    _old, customer, services = _world(home, from_mode)
    new = _partner(to_mode, home)
    _bill([d for d in RUN_DATES if d <= CHANGE])
    pointers = {s.pk: Service.objects.get(pk=s.pk).charged_through or START for s in services}
    customer_partner_change(customer=customer, partner=new, actor="test")
    _bill([d for d in RUN_DATES if CHANGE < d <= LAST])

    for s in services:
        _assert_each_day_once(s)
        if to_mode == PartnerMode.OWN_INVOICING:
            # Wholesale for the new partner only from the first day not charged at the move.
            assert min(_days(ChargeKind.WHOLESALE, s)) >= pointers[s.pk]
    if from_mode == PartnerMode.OWN_INVOICING:
        assert not Charge.objects.filter(
            kind=ChargeKind.WHOLESALE, service__in=services, billing_date__gt=CHANGE
        ).exists()
    _expect_billed_as(_retail_after_change(services, pointers), new, customer, home)
    assert invariants_check()[1] == []


@pytest.mark.parametrize(("from_mode", "to_mode"), list(itertools.permutations(MODES[1:], 2)))
def test_partner_changes_mode(home, from_mode, to_mode):
    partner, customer, services = _world(home, from_mode)
    for key, value in SETTINGS[to_mode].items():
        setattr(partner, key, value)
    partner.save()
    # The new mode's settings are set up front: only ``mode`` switches on the change date.
    Partner.objects.filter(pk=partner.pk).update(mode=from_mode)
    partner.refresh_from_db()
    _bill([d for d in RUN_DATES if d <= CHANGE])
    pointers = {s.pk: Service.objects.get(pk=s.pk).charged_through or START for s in services}
    partner_mode_change(partner=partner, mode=to_mode, actor="test")
    _bill([d for d in RUN_DATES if CHANGE < d <= LAST])

    for s in services:
        _assert_each_day_once(s)
    partner.refresh_from_db()
    _expect_billed_as(_retail_after_change(services, pointers), partner, customer, home)
    assert invariants_check()[1] == []


def test_refusals(home):
    partner = PartnerFactory(mode=PartnerMode.PERCENTAGE)
    with pytest.raises(PartnerChangeError, match="home partner stays direct"):
        partner_mode_change(partner=home, mode=PartnerMode.PERCENTAGE)
    aggregated = PartnerFactory(mode=PartnerMode.OWN_INVOICING)
    Partner.objects.filter(pk=aggregated.pk).update(mode=PartnerMode.AGGREGATED)
    with pytest.raises(PartnerChangeError, match="no account"):
        customer_partner_change(customer=CustomerFactory(partner=partner), partner=aggregated)
    # Switching to aggregated creates the account the operator bills.
    partner_mode_change(partner=partner, mode=PartnerMode.AGGREGATED)
    partner.refresh_from_db()
    assert partner.account is not None and partner.account.partner_id == home.pk
    with pytest.raises(PartnerChangeError, match="partner's account"):
        customer_partner_change(customer=partner.account, partner=partner)
