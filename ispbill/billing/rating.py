"""Rating: the charges of one service for the periods due on one billing date. Pure.

Amounts are in minor units; each charge is rounded once (docs/domain.md, "Money")."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, timedelta

from ispbill.core.money import BP_INT, div_round
from ispbill.core.periods import Cycle, ServicePeriod, effective_period_months, periods_due

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ServiceTerms:
    """What rating needs to know of a service, as plain values."""

    service_id: int
    description: str
    start_date: date
    end_date: date | None
    quantity: int
    unit_price_minor: int  # per tariff period, already the price that applies to this payer
    tariff_period_months: int
    discount_bp: int = 0
    discount_until: date | None = None


@dataclass(frozen=True, slots=True)
class ChargeDraft:
    service_id: int
    period: ServicePeriod
    description: str
    quantity: int
    unit_price_minor: int  # for the whole (effective) period
    amount_minor: int
    # Why the amount is not quantity x unit price (``charge_adjustment``); empty when it is.
    adjustment: dict[str, int] = field(default_factory=dict)

    @property
    def next_uncharged(self) -> date:
        return self.period.period.end + ONE_DAY


def charge_amount(
    *,
    unit_price_minor: int,
    quantity: int,
    sp: ServicePeriod,
    discount_bp: int,
    discount_until: date | None,
) -> int:
    """``unit x quantity x (active days - discounted days x discount) / days in period``,
    rounded once. A discount ending mid-period applies to the days up to its end date."""
    if not discount_bp and sp.active == sp.full:
        return unit_price_minor * quantity  # a whole period at full price: nothing to round
    discounted_days = 0
    if discount_bp:
        if discount_until is None:
            discounted_days = sp.active.days
        else:
            part = sp.active.overlap(sp.active.start, discount_until)
            discounted_days = part.days if part else 0
    # unit x quantity x (active - discounted x bp / BP) / full days, as one exact fraction.
    weighted = sp.active.days * BP_INT - discounted_days * discount_bp
    return div_round(unit_price_minor * quantity * weighted, sp.full.days * BP_INT)


def charge_adjustment(
    *, sp: ServicePeriod, discount_bp: int, discount_until: date | None
) -> dict[str, int]:
    """What ``charge_amount`` applied besides quantity x unit price, for the invoice line to
    say: ``days`` of ``period_days`` when the service was active for part of the period
    ("12/30 days"), ``discount_bp`` with ``discount_days`` when the discount covered fewer
    days than were charged. Empty for a whole period at full price."""
    out: dict[str, int] = {}
    if sp.active != sp.full:
        out["days"], out["period_days"] = sp.active.days, sp.full.days
    if discount_bp:
        if discount_until is None:
            discounted_days = sp.active.days
        else:
            part = sp.active.overlap(sp.active.start, discount_until)
            discounted_days = part.days if part else 0
        if discounted_days:
            out["discount_bp"] = discount_bp
            if discounted_days != sp.active.days:
                out["discount_days"] = discounted_days
    return out


def service_rate(
    *,
    terms: ServiceTerms,
    cycle: Cycle,
    prepaid: bool,
    charged_through: date | None,
    billing_date: date,
) -> list[ChargeDraft]:
    """The charges due for ``terms`` on ``billing_date`` that were not charged yet."""
    start = terms.start_date
    if charged_through is not None:
        # From the first day not charged on, the periods depend on the start only through
        # the billing dates they fall on (``service_periods``): the first one on or after the
        # start, or any billing date up to that day when periods are the cycle's. The same
        # periods as for a service starting then; so services started on different days
        # share one rating.
        first_billing = cycle.on_or_after(start)
        if charged_through >= first_billing:
            months = effective_period_months(terms.tariff_period_months, cycle.months)
            start = cycle.on_or_before(charged_through) if months == cycle.months else first_billing
    rated = _rated(
        start,
        terms.end_date,
        terms.quantity,
        terms.unit_price_minor,
        terms.tariff_period_months,
        terms.discount_bp,
        terms.discount_until if terms.discount_bp else None,
        cycle,
        prepaid,
        charged_through,
        billing_date,
    )
    return [
        ChargeDraft(
            terms.service_id,
            sp,
            terms.description,
            terms.quantity,
            price,
            amount,
            charge_adjustment(
                sp=sp,
                discount_bp=terms.discount_bp,
                discount_until=terms.discount_until if terms.discount_bp else None,
            )
            if terms.discount_bp or sp.active != sp.full
            else {},
        )
        for sp, price, amount in rated
    ]


@functools.lru_cache(maxsize=16384)
def _rated(
    start: date,
    end: date | None,
    quantity: int,
    unit_price_minor: int,
    tariff_period_months: int,
    discount_bp: int,
    discount_until: date | None,
    cycle: Cycle,
    prepaid: bool,
    charged_through: date | None,
    billing_date: date,
) -> tuple[tuple[ServicePeriod, int, int], ...]:
    """(period, unit price of the period, amount) of each period due. Pure, so remembered:
    a chunk's services mostly share their tariff, price and pointer."""
    months = effective_period_months(tariff_period_months, cycle.months)
    # A monthly tariff on a quarterly cycle costs three months' price per period.
    period_price = unit_price_minor * (months // tariff_period_months)
    return tuple(
        (
            sp,
            period_price,
            charge_amount(
                unit_price_minor=period_price,
                quantity=quantity,
                sp=sp,
                discount_bp=discount_bp,
                discount_until=discount_until,
            ),
        )
        for sp in periods_due(
            cycle=cycle,
            period_months=months,
            service_start=start,
            service_end=end,
            charged_through=charged_through,
            billing_date=billing_date,
            prepaid=prepaid,
        )
    )


def skipped_through(
    *,
    terms: ServiceTerms,
    cycle: Cycle,
    prepaid: bool,
    charged_through: date | None,
    billing_date: date,
) -> date | None:
    """For a paused service or an inactive customer: the pointer after the periods due now,
    which are skipped (not charged) so they are not charged later either."""
    drafts = service_rate(
        terms=terms,
        cycle=cycle,
        prepaid=prepaid,
        charged_through=charged_through,
        billing_date=billing_date,
    )
    return drafts[-1].next_uncharged if drafts else charged_through
