"""Rating is remembered and shared between services (``service_rate``): services whose
periods from their pointer on cannot differ share one computation, even when they started
on different days. That must never change a charge: checked here against the rating of each
service's own start, computed afresh."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ispbill.billing.rating import ServiceTerms, _rated, service_rate
from ispbill.core.periods import Cycle

DAY0 = date(2025, 1, 1)


def _fresh(terms: ServiceTerms, cycle: Cycle, prepaid: bool, charged_through, billing_date):
    """The rating from the service's own start, not remembered, not shared."""
    return [
        (sp, price, amount)
        for sp, price, amount in _rated.__wrapped__(
            terms.start_date,
            terms.end_date,
            terms.quantity,
            terms.unit_price_minor,
            terms.tariff_period_months,
            terms.discount_bp,
            terms.discount_until,
            cycle,
            prepaid,
            charged_through,
            billing_date,
        )
    ]


def _shared(terms: ServiceTerms, cycle: Cycle, prepaid: bool, charged_through, billing_date):
    drafts = service_rate(
        terms=terms,
        cycle=cycle,
        prepaid=prepaid,
        charged_through=charged_through,
        billing_date=billing_date,
    )
    assert all(d.service_id == terms.service_id for d in drafts)
    return [(d.period, d.unit_price_minor, d.amount_minor) for d in drafts]


@settings(max_examples=400, deadline=None)
@given(
    day=st.integers(1, 28),
    cycle_months=st.sampled_from([1, 3, 6, 12]),
    anchor=st.integers(1, 12),
    tariff_months=st.sampled_from([1, 3, 6, 12]),
    start=st.integers(0, 500),
    pointer=st.one_of(st.none(), st.integers(-40, 600)),
    length=st.one_of(st.none(), st.integers(0, 700)),
    billing=st.integers(0, 800),
    discount_bp=st.sampled_from([0, 0, 1000, 2500]),
    discount_days=st.one_of(st.none(), st.integers(0, 400)),
    prepaid=st.booleans(),
)
def test_a_shared_rating_equals_the_rating_from_the_services_own_start(
    day,
    cycle_months,
    anchor,
    tariff_months,
    start,
    pointer,
    length,
    billing,
    discount_bp,
    discount_days,
    prepaid,
):
    start_date = DAY0 + timedelta(days=start)
    terms = ServiceTerms(
        service_id=7,
        description="Fiber",
        start_date=start_date,
        end_date=None if length is None else start_date + timedelta(days=length),
        quantity=2,
        unit_price_minor=2990,
        tariff_period_months=tariff_months,
        discount_bp=discount_bp,
        discount_until=None if discount_days is None else start_date + timedelta(discount_days),
    )
    cycle = Cycle(day, cycle_months, anchor)
    charged_through = None if pointer is None else start_date + timedelta(days=pointer)
    billing_date = DAY0 + timedelta(days=billing)
    assert _shared(terms, cycle, prepaid, charged_through, billing_date) == _fresh(
        terms, cycle, prepaid, charged_through, billing_date
    )


def test_services_started_in_different_months_share_one_rating_from_their_pointer():
    """Two monthly services on a monthly cycle (day 1), started in January and in March,
    both charged through March: April is rated once, 29.90 for each."""
    _rated.cache_clear()
    cycle = Cycle(1)
    for n, start in enumerate([date(2026, 1, 14), date(2026, 3, 1)]):
        terms = ServiceTerms(n, "Fiber", start, None, 1, 2990, 1)
        [draft] = service_rate(
            terms=terms,
            cycle=cycle,
            prepaid=True,
            charged_through=date(2026, 4, 1),
            billing_date=date(2026, 4, 1),
        )
        assert draft.service_id == n
        assert (draft.period.period.start, draft.period.period.end) == (
            date(2026, 4, 1),
            date(2026, 4, 30),
        )
        assert draft.amount_minor == 2990
    assert _rated.cache_info().misses == 1 and _rated.cache_info().hits == 1
    # A service whose first (partial) period is still due is rated from its own start:
    # 14 - 31 January prorated, 18 of 31 days of 29.90 = 17.36.
    terms = ServiceTerms(3, "Fiber", date(2026, 1, 14), None, 1, 2990, 1)
    first, *_ = service_rate(
        terms=terms, cycle=cycle, prepaid=True, charged_through=None, billing_date=date(2026, 2, 1)
    )
    assert first.amount_minor == 1736
