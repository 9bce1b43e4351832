import itertools
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ispbill.billing.rating import charge_amount
from ispbill.core.periods import (
    Cycle,
    Period,
    ServicePeriod,
    add_months,
    effective_period_months,
    periods_due,
    service_periods,
)

START = date(2026, 1, 1)


def _rate(price_minor: int, full: Period, active: Period) -> int:
    """What the billing run charges for ``active`` days of ``full`` (billing/rating.py)."""
    return charge_amount(
        unit_price_minor=price_minor,
        quantity=1,
        sp=ServicePeriod(period=active, full=full, active=active),
        discount_bp=0,
        discount_until=None,
    )


def test_day_10_bills_10_march_to_9_april():
    assert Cycle(10).period_starting(date(2026, 3, 10)) == Period(
        date(2026, 3, 10), date(2026, 4, 9)
    )


def test_billing_day_must_be_1_to_28():
    with pytest.raises(ValueError):
        Cycle(29)
    with pytest.raises(ValueError):
        Cycle(0)


def test_quarterly_cycle_from_january_on_day_5():
    c = Cycle(5, 3, 1)
    assert c.on_or_after(date(2026, 2, 10)) == date(2026, 4, 5)
    assert c.on_or_before(date(2026, 2, 10)) == date(2026, 1, 5)
    assert list(c.dates_between(date(2026, 1, 1), date(2026, 12, 31))) == [
        date(2026, 1, 5),
        date(2026, 4, 5),
        date(2026, 7, 5),
        date(2026, 10, 5),
    ]


def test_add_months_clamps_month_end():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)


def test_service_starting_mid_period_prepaid():
    # Billing day 1; service from 15 March. On 1 April: 15-31 March (17 of 31 days) and April.
    due = periods_due(
        cycle=Cycle(1),
        period_months=1,
        service_start=date(2026, 3, 15),
        service_end=None,
        charged_through=None,
        billing_date=date(2026, 4, 1),
        prepaid=True,
    )
    assert [(d.period.start, d.period.end, d.active.days, d.full.days) for d in due] == [
        (date(2026, 3, 15), date(2026, 3, 31), 17, 31),
        (date(2026, 4, 1), date(2026, 4, 30), 30, 30),
    ]
    # 30.00 x 17 / 31 = 16.4516 -> 16.45, as the run rates it.
    first = due[0]
    assert _rate(3000, first.full, first.active) == 1645


def test_postpaid_charges_the_period_that_ended():
    due = periods_due(
        cycle=Cycle(1),
        period_months=1,
        service_start=date(2026, 1, 1),
        service_end=None,
        charged_through=date(2026, 3, 1),
        billing_date=date(2026, 4, 1),
        prepaid=False,
    )
    assert [d.period for d in due] == [Period(date(2026, 3, 1), date(2026, 3, 31))]


def test_service_ending_mid_period():
    # Ends 10 April inclusive: April is charged 10 of 30 days.
    due = periods_due(
        cycle=Cycle(1),
        period_months=1,
        service_start=date(2026, 1, 1),
        service_end=date(2026, 4, 10),
        charged_through=date(2026, 4, 1),
        billing_date=date(2026, 4, 1),
        prepaid=True,
    )
    assert [(d.active.days, d.full.days) for d in due] == [(10, 30)]
    # Nothing after the end date.
    assert (
        periods_due(
            cycle=Cycle(1),
            period_months=1,
            service_start=date(2026, 1, 1),
            service_end=date(2026, 4, 10),
            charged_through=date(2026, 5, 1),
            billing_date=date(2026, 5, 1),
            prepaid=True,
        )
        == []
    )


def test_quarterly_tariff_is_charged_every_three_months_in_advance():
    due_apr = periods_due(
        cycle=Cycle(1),
        period_months=3,
        service_start=date(2026, 4, 1),
        service_end=None,
        charged_through=None,
        billing_date=date(2026, 4, 1),
        prepaid=True,
    )
    assert [d.period for d in due_apr] == [Period(date(2026, 4, 1), date(2026, 6, 30))]
    due_may = periods_due(
        cycle=Cycle(1),
        period_months=3,
        service_start=date(2026, 4, 1),
        service_end=None,
        charged_through=date(2026, 7, 1),
        billing_date=date(2026, 5, 1),
        prepaid=True,
    )
    assert due_may == []


def test_monthly_tariff_on_quarterly_cycle_is_three_months_per_period():
    assert effective_period_months(1, 3) == 3
    assert effective_period_months(12, 3) == 12


def test_catch_up_yields_every_missed_period_in_order():
    due = periods_due(
        cycle=Cycle(1),
        period_months=1,
        service_start=date(2026, 1, 1),
        service_end=None,
        charged_through=date(2026, 2, 1),
        billing_date=date(2026, 4, 1),
        prepaid=True,
    )
    assert [d.period.start for d in due] == [date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)]


days = st.integers(min_value=1, max_value=28)
months = st.sampled_from([1, 3, 6, 12])
dates = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))


@given(days, months, dates, st.integers(min_value=0, max_value=40))
def test_full_periods_start_on_the_billing_day_and_tile(day, period_months, start, n):
    cycle = Cycle(day)
    periods = list(
        service_periods(
            cycle=cycle,
            period_months=period_months,
            service_start=start,
            service_end=None,
            until=add_months(start, n),
        )
    )
    assert periods[0].period.start == start
    for sp in periods[1:]:
        assert sp.period.start.day == day
        assert sp.period.days == sp.full.days
    for a, b in itertools.pairwise(periods):
        assert a.period.end + timedelta(days=1) == b.period.start


@given(
    st.integers(min_value=0, max_value=10**7),
    st.lists(st.integers(min_value=1, max_value=10), min_size=1, max_size=8),
)
def test_prorated_parts_add_up_to_the_price(price_minor, parts):
    # A period split into consecutive parts: the rounded parts add up to the full price within
    # one minor unit per part.
    total_days = sum(parts)
    full = Period(START, START + timedelta(days=total_days - 1))
    rounded, begin = [], START
    for days in parts:
        active = Period(begin, begin + timedelta(days=days - 1))
        rounded.append(_rate(price_minor, full, active))
        begin = active.end + timedelta(days=1)
    assert abs(sum(rounded) - price_minor) <= len(parts)


@given(st.integers(min_value=0, max_value=10**7), st.integers(1, 366), st.data())
def test_proration_is_bounded_by_the_price(price_minor, period_days, data):
    active_days = data.draw(st.integers(1, period_days))
    full = Period(START, START + timedelta(days=period_days - 1))
    active = Period(START, START + timedelta(days=active_days - 1))
    value = _rate(price_minor, full, active)
    assert 0 <= value <= price_minor
    # Exactly ROUND_HALF_UP of the exact fraction, as the proration rule of docs/domain.md says.
    exact = Decimal(price_minor) * active_days / period_days
    assert value == int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def test_cycle_change_charges_the_remainder_of_the_new_period():
    # Charged monthly on day 1 through 30 April; the customer moves to a quarterly cycle on
    # day 5 (January, April, July, October). The next run charges 1 May - 4 July as the
    # remainder of the 5 April - 4 July period: 65 of 91 days.
    due = periods_due(
        cycle=Cycle(5, 3, 1),
        period_months=3,
        service_start=date(2026, 1, 10),
        service_end=None,
        charged_through=date(2026, 5, 1),
        billing_date=date(2026, 7, 5),
        prepaid=True,
    )
    assert [(d.period.start, d.period.end, d.active.days, d.full.days) for d in due][:1] == [
        (date(2026, 5, 1), date(2026, 7, 4), 65, 91)
    ]
    assert due[1].period == Period(date(2026, 7, 5), date(2026, 10, 4))


@given(days, months, dates, st.integers(min_value=0, max_value=30), st.integers(0, 400))
def test_charging_in_steps_equals_charging_at_once(day, period_months, start, n, cut):
    # Whatever the pointer, the periods cover every day from the service start exactly once.
    cycle = Cycle(day)
    until = add_months(start, n)
    pointer = start + timedelta(days=cut)
    first = list(
        service_periods(
            cycle=cycle,
            period_months=period_months,
            service_start=start,
            service_end=None,
            until=min(until, pointer - timedelta(days=1)),
        )
    )
    first = [sp for sp in first if sp.period.start < pointer]
    covered = set()
    for sp in first:
        end = min(sp.period.end, pointer - timedelta(days=1))
        covered |= {
            sp.period.start + timedelta(days=i) for i in range((end - sp.period.start).days + 1)
        }
    rest = list(
        service_periods(
            cycle=cycle,
            period_months=period_months,
            service_start=start,
            service_end=None,
            not_before=pointer,
            until=until,
        )
    )
    for sp in rest:
        days_ = {sp.period.start + timedelta(days=i) for i in range(sp.period.days)}
        assert not covered & days_
        covered |= days_
    if rest:
        last = max(sp.period.end for sp in rest)
        expected = {start + timedelta(days=i) for i in range((last - start).days + 1)}
        assert covered == expected
