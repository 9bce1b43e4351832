"""Catalog write services: tariffs and tax rates."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Max, QuerySet
from django.forms.models import model_to_dict

from ispbill.catalog.models import PartnerPrice, Tariff, TaxRate
from ispbill.catalog.signals import tariff_access_changed
from ispbill.core.audit import audit_record, model_diff
from ispbill.core.errors import DomainValidationError
from ispbill.core.money import AmountRangeError, amount_max, line_check
from ispbill.partners.models import Partner

TARIFF_FIELDS = (
    "name",
    "kind",
    "price_minor",
    "tax_rate",
    "period_months",
    "download_kbps",
    "upload_kbps",
    "is_active",
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


def _price_fits_services(
    *, price_minor: int, services: QuerySet[Any], currency: str, what: str
) -> None:
    """A raised price times the largest quantity of ``services`` (the ones it prices) stays
    within the line limit (``line_check``), else DomainValidationError on ``price``: a line
    over the limit would be refused only at the next billing run (docs/security.md, "Input
    limits")."""
    largest = services.aggregate(q=Max("quantity"))["q"]
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
    from ispbill.subscriptions.models import Service

    locked = Tariff.objects.select_for_update(no_key=True).get(pk=tariff.pk)
    before = model_to_dict(locked, fields=list(TARIFF_FIELDS))
    _apply(locked, fields)
    if locked.price_minor > before["price_minor"]:
        # Every service on it, whoever's: retail lines without a price override use the
        # tariff's price, and wholesale lines (no partner price) a share of it.
        _price_fits_services(
            price_minor=locked.price_minor,
            services=Service._base_manager.filter(tariff_id=locked.pk),
            currency=Partner.objects.values_list("currency", flat=True).get(pk=locked.partner_id),
            what="this tariff",
        )
    locked.save()
    if available_to is not None:
        locked.available_to.set(list(available_to))
    changes = model_diff(before, model_to_dict(locked, fields=list(TARIFF_FIELDS)))
    if {"kind", "download_kbps", "upload_kbps"} & set(changes):
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
        from ispbill.subscriptions.models import Service

        _price_fits_services(
            price_minor=price_minor,
            services=Service._base_manager.filter(partner_id=partner.pk, tariff_id=tariff.pk),
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
