"""Creating a partner with its account, changing a partner's mode, or moving a customer to
another partner (docs/domain.md, "Changing mode or partner").

Both take effect from the next period: what was charged stays where it is, and each
service's pointer (the first day not charged yet) is where the new mode's billing starts, on
the new cycle (``core/periods.py`` charges the rest of a period cut by a cycle change). So
no (service, period) is billed twice or lost.

Wholesale charges follow the same rule: a service that comes under an own-invoicing partner
with wholesale charges is billed to that partner from its first day not charged yet, never
for days it was billed elsewhere before."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from ispbill.billing.models import Charge
from ispbill.catalog.services import partner_tariffs_default_apply
from ispbill.core.audit import audit_record
from ispbill.core.errors import DomainError
from ispbill.customers.models import Customer
from ispbill.customers.services import partner_account_ensure
from ispbill.partners.models import Partner, PartnerMode
from ispbill.partners.services import partner_fields_apply, partner_update
from ispbill.subscriptions.models import OneTimeCharge, Service


class PartnerChangeError(DomainError):
    """A mode change or move that cannot be made as asked; the message says why."""

    code = "partner_change"


def _wholesale_from_next_period(services: list[Service]) -> None:
    """Start wholesale billing at each service's first day not charged (or billed
    wholesale) yet."""
    changed = []
    for s in services:
        pointers = [d for d in (s.charged_through, s.wholesale_charged_through) if d is not None]
        start = max(pointers) if pointers else None
        if start != s.wholesale_charged_through:
            s.wholesale_charged_through = start
            changed.append(s)
    if changed:
        Service.objects.bulk_update(changed, ["wholesale_charged_through"])


def _has_held_charges(partner: Partner) -> bool:
    return (
        partner.account_id is not None
        and Charge.objects.filter(
            account_id=partner.account_id, invoice__isnull=True, credit_note__isnull=True
        )
        .exclude(customer_id=partner.account_id)
        .exists()
    )


@transaction.atomic
def partner_create(*, mode: str, actor: Any = None, **fields: Any) -> Partner:
    """A new reseller in ``mode``; aggregated partners get their account at once."""
    if mode == PartnerMode.DIRECT or mode not in PartnerMode.values:
        raise ValidationError({"mode": "Choose percentage, own invoicing or aggregated."})
    partner = Partner(mode=mode)
    partner_fields_apply(partner, fields)
    partner.save()
    if mode == PartnerMode.AGGREGATED or partner.wholesale_charges:
        partner_account_ensure(partner=partner)
    audit_record(
        action="partner.created",
        obj=partner,
        actor=actor,
        changes={"name": partner.name, "mode": mode},
    )
    # Something to sell from the first day (docs/reseller-modes.md, "Selling").
    partner_tariffs_default_apply(partner=partner, actor=actor)
    return partner


@transaction.atomic
def partner_mode_change(*, partner: Partner, mode: str, actor: Any = None) -> Partner:
    """Switch a reseller to another mode, from each service's next period on."""
    p = Partner.objects.select_for_update(no_key=True).get(pk=partner.pk)
    if p.is_home or mode == PartnerMode.DIRECT:
        raise PartnerChangeError("Only resellers change mode; the home partner stays direct.")
    if mode not in PartnerMode.values:
        raise PartnerChangeError(f"Unknown mode {mode!r}.")
    if mode == p.mode:
        return p
    if p.mode == PartnerMode.AGGREGATED and _has_held_charges(p):
        raise PartnerChangeError(
            f"{p.name} has charges waiting for its aggregated invoice; run billing up to "
            "today first, then change the mode."
        )
    old = p.mode
    if mode == PartnerMode.AGGREGATED:
        partner_account_ensure(partner=p)
    p.mode = mode
    p.save(update_fields=["mode"])
    if mode == PartnerMode.OWN_INVOICING and p.wholesale_charges:
        _wholesale_from_next_period(list(Service.objects.filter(partner=p)))
    audit_record(
        action="partner.mode_changed",
        obj=p,
        actor=actor,
        partner_id=p.pk,
        changes={"mode": {"before": old, "after": mode}},
    )
    partner.mode, partner.account_id = p.mode, p.account_id
    return p


@transaction.atomic
def partner_settings_save(
    *, partner: Partner, mode: str | None = None, actor: Any = None, **fields: Any
) -> Partner:
    """Save a reseller's settings form: a changed ``mode`` goes through
    ``partner_mode_change`` (its checks and audit), then the settings through
    ``partner_update``; both or neither."""
    if mode is not None and mode != partner.mode:
        partner_mode_change(partner=partner, mode=mode, actor=actor)
    return partner_update(partner=partner, actor=actor, **fields)


@transaction.atomic
def customer_partner_change(*, customer: Customer, partner: Partner, actor: Any = None) -> Customer:
    """Move a customer (its services and one-time charges) to another partner, from each
    service's next period on. Its issued documents stay with the partner they were issued
    under."""
    c = Customer.objects.select_for_update(no_key=True).get(pk=customer.pk)
    target = Partner.objects.get(pk=partner.pk)
    if Partner.objects.filter(account_id=c.pk).exists():
        raise PartnerChangeError(
            f"{c.reference} is a partner's account; it stays a customer of the home partner."
        )
    if target.pk == c.partner_id:
        return c
    if not target.is_active:
        raise PartnerChangeError(f"{target.name} is disabled; enable it before moving customers.")
    if target.mode == PartnerMode.AGGREGATED and target.account_id is None:
        raise PartnerChangeError(
            f"{target.name} is in aggregated mode but has no account to bill; create it first."
        )
    old = Partner.objects.get(pk=c.partner_id)
    c.partner = target
    c.save(update_fields=["partner"])
    services = list(Service.objects.filter(customer=c))
    for s in services:
        s.partner = target
    Service.objects.bulk_update(services, ["partner"])
    OneTimeCharge.objects.filter(customer=c).update(partner=target)
    if target.mode == PartnerMode.OWN_INVOICING and target.wholesale_charges:
        _wholesale_from_next_period(services)
    audit_record(
        action="customer.partner_changed",
        obj=c,
        actor=actor,
        changes={"partner": {"before": old.name, "after": target.name}},
    )
    customer.partner = target
    return c
