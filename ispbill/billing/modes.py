"""How a customer's partner mode shapes its billing: issuer, payer, cycle, prices.

- direct / own invoicing: the customer's partner issues to the customer, on its billing day.
- percentage: the home partner issues to the customer (commission accrues separately).
- aggregated: the home partner bills the partner's account; the customer's charges are held
  for that invoice, rated at partner prices on the partner's aggregation day and cycle."""

from __future__ import annotations

from dataclasses import dataclass

from ispbill.catalog.pricing import wholesale_price_minor
from ispbill.core.errors import DomainError
from ispbill.core.periods import Cycle
from ispbill.customers.models import Customer, CustomerRow
from ispbill.partners.models import Partner, PartnerMode, PaymentPeriod

__all__ = [
    "BillingContext",
    "BillingSetupError",
    "billing_context",
    "wholesale_cycle",
    "wholesale_price_minor",
]


@dataclass(frozen=True, slots=True)
class BillingContext:
    issuer: Partner
    account_id: int  # who is invoiced
    cycle: Cycle
    prepaid: bool
    held: bool  # charges wait for the partner's aggregated invoice
    wholesale_pricing: bool  # priced at partner prices (PartnerPrice, else discount)
    payment_due_days: int


class BillingSetupError(DomainError):
    """A partner set up so that its customers cannot be billed (the message says how to fix)."""

    code = "billing_setup"


def billing_context(
    customer: Customer | CustomerRow, partner: Partner, home: Partner
) -> BillingContext:
    if partner.mode == PartnerMode.AGGREGATED:
        if partner.account_id is None:
            raise BillingSetupError(
                f"Partner {partner.name} is in aggregated mode but has no account to bill; "
                "create its account first."
            )
        return BillingContext(
            issuer=home,
            account_id=partner.account_id,
            cycle=Cycle(
                partner.aggregation_day, partner.aggregation_cycle, partner.aggregation_anchor_month
            ),
            prepaid=partner.payment_period == PaymentPeriod.PREPAID,
            held=True,
            wholesale_pricing=True,
            payment_due_days=home.payment_due_days,
        )
    issuer = home if partner.mode == PartnerMode.PERCENTAGE else partner
    payment_period = customer.payment_period or issuer.payment_period
    return BillingContext(
        issuer=issuer,
        account_id=customer.pk,
        cycle=Cycle(customer.billing_day or issuer.billing_day),
        prepaid=payment_period == PaymentPeriod.PREPAID,
        held=False,
        wholesale_pricing=False,
        payment_due_days=(
            customer.payment_due_days
            if customer.payment_due_days is not None
            else issuer.payment_due_days
        ),
    )


def wholesale_cycle(partner: Partner) -> Cycle:
    return Cycle(
        partner.aggregation_day, partner.aggregation_cycle, partner.aggregation_anchor_month
    )
