"""Catalog write services: tariffs and tax rates."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.forms.models import model_to_dict

from ispbill.catalog.models import PartnerPrice, Tariff, TaxRate
from ispbill.catalog.selectors import partner_prices_minor
from ispbill.catalog.signals import tariff_access_changed
from ispbill.core.audit import audit_record, model_diff
from ispbill.core.errors import DomainError, DomainValidationError
from ispbill.core.money import AmountRangeError, amount_max, line_check
from ispbill.partners.models import Partner, PartnerMode

TARIFF_FIELDS = (
    "name",
    "kind",
    "price_minor",
    "tax_rate",
    "period_months",
    "download_kbps",
    "upload_kbps",
    "is_active",
    "customer_selectable",
    "included_gb",
    "cap_action",
    "throttle_download_kbps",
    "throttle_upload_kbps",
    "overage_price_minor",
    "topup_gb",
    "topup_price_minor",
    "usage_alerts",
    "rollover",
)


def _apply(tariff: Tariff, fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(TARIFF_FIELDS)
    if unknown:
        raise ValueError(f"not tariff fields: {sorted(unknown)}")
    for name, value in fields.items():
        setattr(tariff, name, value)
    tariff.full_clean()


@transaction.atomic
def tariff_create(
    *,
    partner: Partner,
    actor: Any = None,
    available_to: Iterable[Partner] = (),
    **fields: Any,
) -> Tariff:
    """A tariff owned by ``partner`` (the home partner or an own-invoicing partner)."""
    tariff = Tariff(partner=partner)
    _apply(tariff, fields)
    tariff.save()
    tariff.available_to.set(list(available_to))
    audit_record(
        action="tariff.created",
        obj=tariff,
        actor=actor,
        changes={"name": tariff.name, "price_minor": tariff.price_minor},
    )
    return tariff


def _largest_quantity(*, tariff_id: int, partner_id: int | None = None) -> int | None:
    """The largest quantity of the services on a tariff (of one partner's), whoever's: read
    through the tariff's reverse relation, so the catalog asks subscriptions nothing."""
    services = {"services__partner_id": partner_id} if partner_id is not None else {}
    return Tariff._base_manager.filter(pk=tariff_id, **services).aggregate(
        q=Max("services__quantity")
    )["q"]


def _price_fits_services(
    *, price_minor: int, largest: int | None, currency: str, what: str
) -> None:
    """A raised price times the largest quantity of the services it prices stays within the
    line limit (``line_check``), else DomainValidationError on ``price``: a line over the
    limit would be refused only at the next billing run (docs/security.md, "Input
    limits")."""
    if not largest:
        return
    try:
        line_check(unit_minor=price_minor, quantity=largest, currency=currency)
    except AmountRangeError as exc:
        raise DomainValidationError.for_fields(
            {
                "price": (
                    f"A service on {what} has quantity {largest:,}: at this price its line "
                    f"would be above {amount_max(currency):,} {currency}, the largest line "
                    "ispbill accepts. Lower the price or that service's quantity."
                )
            },
            code="line_limit",
        ) from exc


@transaction.atomic
def tariff_update(
    *,
    tariff: Tariff,
    actor: Any = None,
    available_to: Iterable[Partner] | None = None,
    **fields: Any,
) -> Tariff:
    """Change a tariff; issued invoices keep their copied lines."""
    locked = Tariff.objects.select_for_update(no_key=True).get(pk=tariff.pk)
    before = model_to_dict(locked, fields=list(TARIFF_FIELDS))
    _apply(locked, fields)
    if locked.price_minor > before["price_minor"]:
        # Every service on it, whoever's: retail lines without a price override use the
        # tariff's price, and wholesale lines (no partner price) a share of it.
        _price_fits_services(
            price_minor=locked.price_minor,
            largest=_largest_quantity(tariff_id=locked.pk),
            currency=Partner.objects.values_list("currency", flat=True).get(pk=locked.partner_id),
            what="this tariff",
        )
    locked.save()
    if available_to is not None:
        locked.available_to.set(list(available_to))
    changes = model_diff(before, model_to_dict(locked, fields=list(TARIFF_FIELDS)))
    if {
        "kind",
        "download_kbps",
        "upload_kbps",
        "cap_action",
        "throttle_download_kbps",
        "throttle_upload_kbps",
    } & set(changes):
        tariff_access_changed.send(sender=Tariff, tariff_id=locked.pk)
    if changes:
        audit_record(action="tariff.updated", obj=locked, actor=actor, changes=changes)
    return locked


@transaction.atomic
def tax_rate_create(
    *, partner: Partner, name: str, rate_bp: int, category: str = "S", actor: Any = None
) -> TaxRate:
    rate = TaxRate(partner=partner, name=name, rate_bp=rate_bp, category=category)
    rate.full_clean()
    rate.save()
    audit_record(
        action="tax_rate.created",
        obj=rate,
        actor=actor,
        changes={"name": name, "rate_bp": rate_bp, "category": category},
    )
    return rate


TAX_RATE_FIELDS = ("name", "rate_bp", "category", "is_active")


@transaction.atomic
def tax_rate_update(*, tax_rate: TaxRate, actor: Any = None, **fields: Any) -> TaxRate:
    """Change a tax rate; issued documents keep the rate printed on their lines."""
    unknown = set(fields) - set(TAX_RATE_FIELDS)
    if unknown:
        raise ValueError(f"not tax rate fields: {sorted(unknown)}")
    locked = TaxRate.objects.select_for_update(no_key=True).get(pk=tax_rate.pk)
    before = model_to_dict(locked, fields=list(TAX_RATE_FIELDS))
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.full_clean()
    locked.save()
    changes = model_diff(before, model_to_dict(locked, fields=list(TAX_RATE_FIELDS)))
    if changes:
        audit_record(action="tax_rate.updated", obj=locked, actor=actor, changes=changes)
    return locked


@transaction.atomic
def partner_price_set(
    *, partner: Partner, tariff: Tariff, price_minor: int, actor: Any = None
) -> PartnerPrice:
    """The wholesale price of an operator tariff for one reseller, created or changed."""
    from django.core.exceptions import ValidationError

    errors: dict[str, str] = {}
    if partner.is_home:
        errors["partner_id"] = "The operator has no wholesale price; choose a reseller."
    if not Partner.objects.filter(pk=tariff.partner_id, is_home=True).exists():
        errors["tariff_id"] = "Wholesale prices are for operator tariffs."
    if price_minor < 0:
        errors["price"] = "A price cannot be negative."
    if errors:
        raise ValidationError(errors)
    price = (
        PartnerPrice.objects.select_for_update(no_key=True)
        .filter(partner=partner, tariff=tariff)
        .first()
    )
    before = price.price_minor if price is not None else None
    if before is None or price_minor > before:
        _price_fits_services(
            price_minor=price_minor,
            largest=_largest_quantity(tariff_id=tariff.pk, partner_id=partner.pk),
            currency=Partner.objects.values_list("currency", flat=True).get(is_home=True),
            what="this tariff for this partner",
        )
    if price is None:
        price = PartnerPrice.objects.create(partner=partner, tariff=tariff, price_minor=price_minor)
    elif price.price_minor != price_minor:
        price.price_minor = price_minor
        price.save(update_fields=["price_minor"])
    if before != price_minor:
        audit_record(
            action="partner_price.set",
            obj=price,
            actor=actor,
            changes={"tariff": tariff.pk, "price_minor": {"before": before, "after": price_minor}},
        )
    return price


# -- selling: which operator tariffs a reseller may sell, and at what price ----------------


@dataclass(frozen=True, slots=True)
class PriceListEntry:
    """One line of a reseller's price list as the operator saves it. ``price_minor`` None
    removes the partner price: the partner's discount off retail applies again."""

    tariff_id: int
    available: bool
    price_minor: int | None


def _reseller(partner: Partner) -> None:
    if partner.is_home:
        raise DomainValidationError.for_fields(
            {"partner_id": "The operator sells every tariff of its own; choose a reseller."},
            code="not_a_reseller",
        )


def _operator_tariffs(ids: Iterable[int]) -> dict[int, Tariff]:
    """The operator's tariffs among ``ids`` (base manager: they lie outside a reseller's
    scope, and only the operator's are shared)."""
    return Tariff._base_manager.filter(pk__in=list(ids), partner__is_home=True).in_bulk()


def _available_add(*, partner: Partner, tariff_ids: Iterable[int]) -> list[int]:
    """Make these tariffs available to ``partner``; returns the ids that were not yet."""
    through = Tariff.available_to.through
    have = set(
        through.objects.filter(partner_id=partner.pk, tariff_id__in=list(tariff_ids)).values_list(
            "tariff_id", flat=True
        )
    )
    new = sorted(set(tariff_ids) - have)
    through.objects.bulk_create(
        [through(tariff_id=t, partner_id=partner.pk) for t in new], ignore_conflicts=True
    )
    return new


def _available_remove(*, partner: Partner, tariff_ids: Iterable[int]) -> list[int]:
    through = Tariff.available_to.through
    rows = through.objects.filter(partner_id=partner.pk, tariff_id__in=list(tariff_ids))
    gone = sorted(rows.values_list("tariff_id", flat=True))
    rows.delete()
    return gone


@transaction.atomic
def partner_price_clear(*, partner: Partner, tariff: Tariff, actor: Any = None) -> bool:
    """Remove a reseller's partner price of a tariff (its discount applies again); False
    when it had none."""
    price = PartnerPrice.objects.filter(partner=partner, tariff=tariff).first()
    if price is None:
        return False
    audit_record(
        action="partner_price.cleared",
        obj=price,
        actor=actor,
        partner_id=partner.pk,
        changes={"tariff": tariff.pk, "price_minor": {"before": price.price_minor, "after": None}},
    )
    price.delete()
    return True


@transaction.atomic
def partner_price_list_save(
    *, partner: Partner, entries: Iterable[PriceListEntry], actor: Any = None
) -> dict[str, int]:
    """Save lines of a reseller's price list: availability and partner price per operator
    tariff, all or nothing. Tariffs not named keep what they have. Returns how many tariffs
    became available, unavailable, and how many prices changed."""
    _reseller(partner)
    entries = list(entries)
    tariffs = _operator_tariffs(e.tariff_id for e in entries)
    errors = {
        f"tariff_{e.tariff_id}": f"Tariff {e.tariff_id} is not one of the operator's tariffs."
        for e in entries
        if e.tariff_id not in tariffs
    }
    for e in entries:
        if e.price_minor is not None and e.price_minor < 0:
            errors[f"price_{e.tariff_id}"] = "A price cannot be negative."
    if len({e.tariff_id for e in entries}) != len(entries):
        errors["entries"] = "Each tariff may appear only once."
    if errors:
        raise DomainValidationError.for_fields(errors)
    added = _available_add(
        partner=partner, tariff_ids=[e.tariff_id for e in entries if e.available]
    )
    removed = _available_remove(
        partner=partner, tariff_ids=[e.tariff_id for e in entries if not e.available]
    )
    prices = partner_prices_minor(partner=partner)
    changed = 0
    for e in entries:
        tariff = tariffs[e.tariff_id]
        if e.price_minor is None:
            changed += partner_price_clear(partner=partner, tariff=tariff, actor=actor)
        elif prices.get(e.tariff_id) != e.price_minor:
            try:
                partner_price_set(
                    partner=partner, tariff=tariff, price_minor=e.price_minor, actor=actor
                )
            except DomainError as exc:
                raise DomainValidationError.for_fields(
                    {f"price_{e.tariff_id}": f"{tariff.name}: {exc.message}"}, code=exc.code
                ) from exc
            changed += 1
    if added or removed:
        audit_record(
            action="partner.tariffs_available",
            obj=partner,
            actor=actor,
            partner_id=partner.pk,
            changes={"added": added, "removed": removed},
        )
    return {"made_available": len(added), "made_unavailable": len(removed), "prices": changed}


@transaction.atomic
def partner_tariffs_make_all_available(*, partner: Partner, actor: Any = None) -> int:
    """Make every active operator tariff available to a reseller; returns how many were not
    available yet. Withdrawn tariffs are left as they are."""
    _reseller(partner)
    ids = Tariff._base_manager.filter(partner__is_home=True, is_active=True).values_list(
        "pk", flat=True
    )
    added = _available_add(partner=partner, tariff_ids=list(ids))
    if added:
        audit_record(
            action="partner.tariffs_available",
            obj=partner,
            actor=actor,
            partner_id=partner.pk,
            changes={"added": added, "removed": [], "all": True},
        )
    return len(added)


def partner_sells_operator_tariffs_by_default(partner: Partner) -> bool:
    """The default availability of a new reseller (docs/reseller-modes.md, "Selling"):
    percentage and aggregated partners sell the operator's tariffs, so they get every active
    one; an own-invoicing partner sells its own catalogue, and the operator's only where it
    bills the partner for them (wholesale charges)."""
    if partner.is_home:
        return False
    if partner.mode == PartnerMode.OWN_INVOICING:
        return partner.wholesale_charges
    return True


def partner_tariffs_default_apply(*, partner: Partner, actor: Any = None) -> int:
    """Give a new reseller its default availability; returns how many tariffs it got."""
    if not partner_sells_operator_tariffs_by_default(partner):
        return 0
    return partner_tariffs_make_all_available(partner=partner, actor=actor)
