"""A reseller's price of an operator tariff (docs/domain.md, "Catalog"): pure, no ORM.

The billing run, plan changes and the price list screens all ask here, so the rule that a
partner price wins over the partner's discount is written once."""

from __future__ import annotations

from ispbill.core.money import BP_INT, div_round


def wholesale_price_minor(
    *, retail_minor: int, partner_price_minor: int | None, discount_bp: int
) -> int:
    """A partner's price: its PartnerPrice, else its discount off the retail price (rounded
    half up to the minor unit)."""
    if partner_price_minor is not None:
        return partner_price_minor
    return div_round(retail_minor * (BP_INT - discount_bp), BP_INT)
