"""Catalog selectors: which tariffs a partner offers and may sell, and the tax rates a
customer's issuer charges (docs/domain.md, "Catalog"). The web forms, the API and the
customer import all ask here, so the rule is written once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from ispbill.catalog.models import PartnerPrice, Tariff, TaxRate
from ispbill.catalog.pricing import wholesale_price_minor
from ispbill.customers.models import Customer
from ispbill.customers.selectors import account_issuer
from ispbill.partners.models import Partner, PartnerMode


def tariffs_offered(*, partner_ids: Iterable[int]) -> QuerySet[Tariff]:
    """Every tariff of these partners' catalogues, active or not (services on a withdrawn
    tariff still name it): their own, and the operator's tariffs made available to them.
    A reseller's own tariff made available to another reseller is not offered to it: only
    operator tariffs are shared. The base manager with an explicit filter, since an operator
    tariff lies outside a partner's scope."""
    ids = list(partner_ids)
    return Tariff._base_manager.filter(
        Q(partner_id__in=ids) | Q(partner__is_home=True, available_to__in=ids)
    ).distinct()


def tariffs_sellable(*, partner: Partner) -> QuerySet[Tariff]:
    """The tariffs a partner may sell today: the active ones of its catalogue (the home
    partner: the operator's own)."""
    return tariffs_offered(partner_ids=[partner.pk]).filter(is_active=True)


def tariff_sellable(*, customer: Customer, tariff_id: int) -> Tariff | None:
    """The tariff if the customer's partner offers it, else None. A withdrawn tariff is
    returned, so the service refuses it with its own message ("no longer sold")."""
    return tariffs_offered(partner_ids=[customer.partner_id]).filter(pk=tariff_id).first()


def tax_rate_for_customer(*, customer: Customer, tax_rate_id: int) -> TaxRate | None:
    """One of the tax rates of the issuer that bills ``customer``."""
    issuer = account_issuer(customer)
    return TaxRate._base_manager.filter(pk=tax_rate_id, partner=issuer).first()


def partner_pays_wholesale(partner: Partner) -> bool:
    """Whether the operator bills this reseller for its customers' services at its partner
    prices: aggregated partners, and own-invoicing partners with wholesale charges. A
    percentage partner's customers pay the retail price; the partner earns commission."""
    return partner.mode == PartnerMode.AGGREGATED or (
        partner.mode == PartnerMode.OWN_INVOICING and partner.wholesale_charges
    )


@dataclass(frozen=True, slots=True)
class PartnerTariffPrice:
    """One operator tariff as one reseller sees it: may it sell it, and at what price the
    operator bills it (``price_minor``: the partner price, else the discount off retail)."""

    tariff: Tariff
    available: bool
    partner_price_minor: int | None  # the partner's own price, None where the discount applies
    price_minor: int

    @property
    def source(self) -> str:
        """Where ``price_minor`` comes from: "partner_price" or "discount"."""
        return "partner_price" if self.partner_price_minor is not None else "discount"


def partner_prices_minor(*, partner: Partner) -> dict[int, int]:
    """Tariff id -> this reseller's partner price (only the tariffs that have one). Through
    the scoped manager: a reseller's request reads its own prices only."""
    return dict(
        PartnerPrice.objects.filter(partner_id=partner.pk).values_list("tariff_id", "price_minor")
    )


def partner_price_list(
    *, partner: Partner, available_only: bool = False, active_only: bool = False
) -> list[PartnerTariffPrice]:
    """Every operator tariff with this reseller's availability and price: the operator's
    "Tariffs and prices" screen of a partner, the partner's own price list and the API.

    The operator's tariffs lie outside a reseller's scope, hence the base manager with an
    explicit filter; partner prices are read through the scoped manager."""
    tariffs = Tariff._base_manager.filter(partner__is_home=True).select_related(
        "tax_rate", "partner"
    )
    if active_only:
        tariffs = tariffs.filter(is_active=True)
    available = set(
        Tariff._base_manager.filter(partner__is_home=True, available_to=partner.pk).values_list(
            "pk", flat=True
        )
    )
    prices = partner_prices_minor(partner=partner)
    rows = []
    for t in tariffs.order_by("name", "pk"):
        if available_only and t.pk not in available:
            continue
        own = prices.get(t.pk)
        rows.append(
            PartnerTariffPrice(
                tariff=t,
                available=t.pk in available,
                partner_price_minor=own,
                price_minor=wholesale_price_minor(
                    retail_minor=t.price_minor,
                    partner_price_minor=own,
                    discount_bp=partner.discount_bp,
                ),
            )
        )
    return rows
