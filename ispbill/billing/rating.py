"""Rating: the charges of one service for the periods due on one billing date. Pure.

Amounts are in minor units; each charge is rounded once (DOMAIN.md "Money")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from ispbill.core.periods import Cycle, ServicePeriod, effective_period_months, periods_due
from ispbill.invoicing.tax import BP_INT, div_round

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


def service_rate(
    *,
    terms: ServiceTerms,
    cycle: Cycle,
    prepaid: bool,
    charged_through: date | None,
    billing_date: date,
) -> list[ChargeDraft]:
    """The charges due for ``terms`` on ``billing_date`` that were not charged yet."""
    months = effective_period_months(terms.tariff_period_months, cycle.months)
    # A monthly tariff on a quarterly cycle costs three months' price per period.
    period_price = terms.unit_price_minor * (months // terms.tariff_period_months)
    drafts = []
    for sp in periods_due(
        cycle=cycle,
        period_months=months,
        service_start=terms.start_date,
        service_end=terms.end_date,
        charged_through=charged_through,
        billing_date=billing_date,
        prepaid=prepaid,
    ):
        amount = charge_amount(
            unit_price_minor=period_price,
            quantity=terms.quantity,
            sp=sp,
            discount_bp=terms.discount_bp,
            discount_until=terms.discount_until,
        )
        drafts.append(
            ChargeDraft(
                service_id=terms.service_id,
                period=sp,
                description=terms.description,
                quantity=terms.quantity,
                unit_price_minor=period_price,
                amount_minor=amount,
            )
        )
    return drafts


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
