"""Billing cycles, service periods and proration. Pure: no ORM, no clock.

Rules (docs/domain.md, "Billing cycle"):
- A billing day is 1-28; a monthly period runs from the billing day to the day before the
  next one (day 10 bills 10 March - 9 April).
- A cycle of C months bills on its billing day every C months, in the months congruent to its
  anchor month (quarterly from January: January, April, July, October).
- A service's periods: a first partial period from its start to the day before the first
  billing date on or after its start (if it does not start on one), then full periods of P
  months from that billing date. P is the longer of the tariff's period and the cycle.
- Proration: price x active days / days in period, both ends included.
"""

from __future__ import annotations

import calendar
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

ONE_DAY = timedelta(days=1)
ALLOWED_PERIOD_MONTHS = (1, 3, 6, 12)


@functools.lru_cache(maxsize=8192)
def add_months(d: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's last day."""
    index = d.year * 12 + (d.month - 1) + months
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(d.day, last))


def validate_billing_day(day: int) -> int:
    if not 1 <= day <= 28:
        raise ValueError(f"billing day must be between 1 and 28, not {day}")
    return day


@dataclass(frozen=True, slots=True)
class Period:
    """A closed interval of dates: both start and end are included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def __contains__(self, d: object) -> bool:
        return isinstance(d, date) and self.start <= d <= self.end

    def overlap(self, start: date, end: date | None) -> Period | None:
        lo = max(self.start, start)
        hi = self.end if end is None else min(self.end, end)
        return Period(lo, hi) if lo <= hi else None

    def __str__(self) -> str:
        return f"{self.start.isoformat()} – {self.end.isoformat()}"


@dataclass(frozen=True, slots=True)
class Cycle:
    """Billing dates: ``day`` of every ``months``-th month, counted from ``anchor_month``."""

    day: int
    months: int = 1
    anchor_month: int = 1

    def __post_init__(self) -> None:
        validate_billing_day(self.day)
        if self.months not in (1, 3, 6, 12):
            raise ValueError(f"a cycle is 1, 3, 6 or 12 months, not {self.months}")
        if not 1 <= self.anchor_month <= 12:
            raise ValueError("anchor month must be 1-12")

    def is_billing_date(self, d: date) -> bool:
        return d.day == self.day and (d.month - self.anchor_month) % self.months == 0

    def on_or_after(self, d: date) -> date:
        """The first billing date on or after ``d``."""
        candidate = date(d.year, d.month, self.day)
        if candidate < d:
            candidate = add_months(candidate, 1)
        while (candidate.month - self.anchor_month) % self.months:
            candidate = add_months(candidate, 1)
        return candidate

    def after(self, d: date) -> date:
        return self.on_or_after(d + ONE_DAY)

    def on_or_before(self, d: date) -> date:
        candidate = date(d.year, d.month, self.day)
        if candidate > d:
            candidate = add_months(candidate, -1)
        while (candidate.month - self.anchor_month) % self.months:
            candidate = add_months(candidate, -1)
        return candidate

    def dates_between(self, first: date, last: date) -> Iterator[date]:
        """Billing dates in [first, last], in order."""
        d = self.on_or_after(first)
        while d <= last:
            yield d
            d = add_months(d, self.months)

    def period_starting(self, d: date) -> Period:
        """The cycle period that starts on billing date ``d``."""
        return Period(d, add_months(d, self.months) - ONE_DAY)


@dataclass(frozen=True, slots=True)
class ServicePeriod:
    """One chargeable period of a service.

    ``period`` is the span charged; ``full`` is the complete period it is part of (the
    denominator of proration); ``active`` is the part of it the service is active."""

    period: Period
    full: Period
    active: Period

    @property
    def is_partial(self) -> bool:
        return self.active.days != self.full.days


def effective_period_months(tariff_months: int, cycle_months: int) -> int:
    """A service is charged per the longer of its tariff's period and the customer's cycle."""
    if tariff_months not in ALLOWED_PERIOD_MONTHS:
        raise ValueError(f"a tariff period is 1, 3, 6 or 12 months, not {tariff_months}")
    return max(tariff_months, cycle_months)


def service_periods(
    *,
    cycle: Cycle,
    period_months: int,
    service_start: date,
    service_end: date | None,
    not_before: date | None = None,
    until: date,
) -> Iterator[ServicePeriod]:
    """The service's periods in order that start on or before ``until``.

    ``not_before`` is the first day not yet charged: a period that began earlier is cut to
    start there (its remainder is charged, prorated), one that ended earlier is skipped. That
    also covers a cycle that changed (a mode or partner change): the old cycle's last charged
    day is followed by the remainder of the new cycle's period, so no day is lost or doubled.
    Periods in which the service is not active at all are not yielded."""
    lo = service_start if not_before is None else max(service_start, not_before)
    first_billing = cycle.on_or_after(service_start)
    if service_start < first_billing:
        partial = Period(service_start, first_billing - ONE_DAY)
        if partial.end >= lo:
            span = Period(lo, partial.end)
            if span.start > until:
                return
            full = Period(add_months(first_billing, -period_months), first_billing - ONE_DAY)
            active = span.overlap(service_start, service_end)
            if active is not None:
                yield ServicePeriod(span, full, active)
    # Jump close to ``lo`` instead of walking every period since the service started.
    start = first_billing
    if lo > start:
        months_between = (lo.year - start.year) * 12 + (lo.month - start.month)
        steps = max(months_between // period_months - 1, 0)
        start = add_months(start, steps * period_months)
    while start <= until:
        if service_end is not None and start > service_end:
            return
        full = Period(start, add_months(start, period_months) - ONE_DAY)
        if full.end >= lo:
            span = Period(max(full.start, lo), full.end)
            if span.start > until:
                return
            active = span.overlap(service_start, service_end)
            if active is not None:
                yield ServicePeriod(span, full, active)
        start = add_months(start, period_months)


def periods_due(
    *,
    cycle: Cycle,
    period_months: int,
    service_start: date,
    service_end: date | None,
    charged_through: date | None,
    billing_date: date,
    prepaid: bool,
) -> list[ServicePeriod]:
    """Periods to charge on ``billing_date`` not yet charged (``charged_through`` is the
    first day not yet charged, or None when nothing was).

    Prepaid charges every period starting on or before the billing date; postpaid every
    period that ended before it."""
    candidates = service_periods(
        cycle=cycle,
        period_months=period_months,
        service_start=service_start,
        service_end=service_end,
        not_before=charged_through,
        until=billing_date,
    )
    if prepaid:
        return list(candidates)
    return [sp for sp in candidates if sp.period.end < billing_date]
