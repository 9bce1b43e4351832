"""What a plan change credits and charges (docs/billing.md "Changing plan").
Pure: no ORM, no clock.

A service moves from its old terms to new ones (another tariff, so another price and period)
from the effective day E, which belongs to the new tariff:

- every charge of the service that covers days from E on is given back for those days
  (``credit_amount``): the old tariff's price prorated by day exactly as the run rated it
  (the same period length, the same discount, rounded once);
- days before E not charged yet (postpaid, or a first period not billed yet) are charged at
  the old tariff now, as the run would have charged a service ending the day before E
  (``closing``), so the next run rates the new tariff only;
- the new tariff is charged from E as the run charges it (``rating.service_rate``): prepaid,
  every period of it that begins on or before the last day given back (at least the period
  holding E); postpaid, the periods given back that have ended. Later periods are the run's.

Sum over a service's charges and credits is then each day charged at the tariff in force that
day, up to the rounding of each line to the minor unit (docs/billing.md "Changing plan",
tests/billing/test_plan_rating.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from ispbill.billing.rating import ChargeDraft, ServiceTerms, charge_amount, service_rate
from ispbill.core.money import div_round
from ispbill.core.periods import (
    Cycle,
    Period,
    ServicePeriod,
    add_months,
    effective_period_months,
)

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ChargedSpan:
    """A stored charge of the service not given back yet, as the planner needs it."""

    charge_id: int
    start: date
    end: date
    unit_price_minor: int  # for the whole (effective) period, as rated
    quantity: int
    amount_minor: int
    tariff_months: int  # the period of the tariff it charged


@dataclass(frozen=True, slots=True)
class CreditDraft:
    """The days ``period`` of charge ``charge_id`` given back: ``amount_minor`` (positive)."""

    charge_id: int
    period: Period
    amount_minor: int


@dataclass(frozen=True, slots=True)
class ChangePlan:
    effective: date  # the first day of the new tariff (not before the service starts)
    credits: tuple[CreditDraft, ...]
    closing: tuple[ChargeDraft, ...]  # old tariff, days before ``effective`` not charged yet
    charges: tuple[ChargeDraft, ...]  # new tariff from ``effective``
    charged_through: date | None  # the service's first day not charged, after the change

    @property
    def credited_minor(self) -> int:
        return sum(c.amount_minor for c in self.credits)

    @property
    def charged_minor(self) -> int:
        return sum(c.amount_minor for c in (*self.closing, *self.charges))


def full_period(span: ChargedSpan, cycle: Cycle) -> Period:
    """The period a charge was prorated over: it ends where the charge ends (every charged
    span does, ``periods.service_periods``) and is as long as the tariff's effective period.
    Should the tariff or the cycle have changed since, so that this period would not hold
    the span, the span itself."""
    months = effective_period_months(span.tariff_months, cycle.months)
    start = add_months(span.end + ONE_DAY, -months)
    return Period(start, span.end) if start <= span.start else Period(span.start, span.end)


def credit_amount(*, span: ChargedSpan, first: date, terms: ServiceTerms, cycle: Cycle) -> int:
    """What a charge gave for its days from ``first`` on: ``unit x quantity x (active days -
    discounted days x discount) / days in period`` of those days, rounded once, as the run
    rated it. The whole charge from its first day.

    The charge is first rated again with the service's terms; if that does not give its
    amount (its discount or end date changed since it was rated), the credit is its amount
    per active day instead, so never more than was charged."""
    if first <= span.start:
        return span.amount_minor
    charged = Period(span.start, span.end).overlap(terms.start_date, terms.end_date)
    part = Period(first, span.end).overlap(terms.start_date, terms.end_date)
    if charged is None or part is None:
        return 0
    full = full_period(span, cycle)
    discount_until = terms.discount_until if terms.discount_bp else None

    def rated(sp: ServicePeriod) -> int:
        return charge_amount(
            unit_price_minor=span.unit_price_minor,
            quantity=span.quantity,
            sp=sp,
            discount_bp=terms.discount_bp,
            discount_until=discount_until,
        )

    if rated(ServicePeriod(Period(span.start, span.end), full, charged)) == span.amount_minor:
        return rated(ServicePeriod(Period(first, span.end), full, part))
    return div_round(span.amount_minor * part.days, charged.days)


def change_plan(
    *,
    old: ServiceTerms,
    new: ServiceTerms | None,
    cycle: Cycle,
    prepaid: bool,
    charged_through: date | None,
    charged: Sequence[ChargedSpan],
    effective: date,
) -> ChangePlan:
    """The credits and charges of moving a service from ``old`` to ``new`` terms on
    ``effective``. ``charged`` are the service's charges not given back yet (of one kind:
    retail, or wholesale), ``charged_through`` its first day not charged (None: none was).
    ``new`` None: the service is no longer charged (of this kind) from ``effective`` on.

    Both terms carry the service's own start, end, quantity and discount; ``new`` the new
    tariff's price for this payer and period."""
    first = max(effective, old.start_date)
    if old.end_date is not None and first > old.end_date:
        raise ValueError(f"the service ends on {old.end_date}, before {first}")
    credits = []
    last_given_back: date | None = None
    for span in sorted(charged, key=lambda s: s.start):
        if span.end < first:
            continue
        period_from = max(first, span.start)
        amount = credit_amount(span=span, first=period_from, terms=old, cycle=cycle)
        credits.append(CreditDraft(span.charge_id, Period(period_from, span.end), amount))
        last_given_back = span.end if last_given_back is None else max(last_given_back, span.end)

    closing: list[ChargeDraft] = []
    if (charged_through is None or charged_through < first) and first > old.start_date:
        # The old tariff's days before the change not charged yet, as for a service
        # ending the day before: every period from the pointer that starts before it.
        ending = dataclasses.replace(old, end_date=first - ONE_DAY)
        for d in service_rate(
            terms=ending,
            cycle=cycle,
            prepaid=True,
            charged_through=charged_through,
            billing_date=first - ONE_DAY,
        ):
            sp = d.period
            if sp.period.end >= first:
                sp = ServicePeriod(Period(sp.period.start, first - ONE_DAY), sp.full, sp.active)
            closing.append(dataclasses.replace(d, period=sp))

    charges: list[ChargeDraft] = []
    if new is not None:
        moved = dataclasses.replace(new, start_date=old.start_date, end_date=old.end_date)
        if prepaid and (credits or closing or charged_through is not None):
            # (Nothing charged yet and the change before the service's first day: only the
            # tariff changes, the run charges it from the start.)
            until = first if last_given_back is None else max(first, last_given_back)
            charges = service_rate(
                terms=moved, cycle=cycle, prepaid=True, charged_through=first, billing_date=until
            )
        elif last_given_back is not None:
            charges = service_rate(
                terms=moved,
                cycle=cycle,
                prepaid=False,
                charged_through=first,
                billing_date=last_given_back + ONE_DAY,
            )

    # The first day not charged: after the new tariff's charges; else the change's first day
    # when anything before it was settled now; else as it was (nothing charged yet).
    if charges:
        pointer: date | None = charges[-1].next_uncharged
    elif credits or closing or (charged_through is not None and charged_through < first):
        pointer = first
    else:
        pointer = charged_through
    return ChangePlan(
        effective=first,
        credits=tuple(credits),
        closing=tuple(closing),
        charges=tuple(charges),
        charged_through=pointer,
    )
