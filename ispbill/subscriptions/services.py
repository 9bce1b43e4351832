"""Service and one-time charge write services."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ispbill.catalog.models import Tariff
from ispbill.core.audit import audit_record
from ispbill.customers.models import Customer
from ispbill.subscriptions.models import OneTimeCharge, Service, ServiceStatus
from ispbill.subscriptions.signals import service_stopped, services_changed


@transaction.atomic
def service_create(
    *,
    customer: Customer,
    tariff: Tariff,
    start_date: date,
    actor: Any = None,
    **fields: Any,
) -> Service:
    """Subscribe a customer to a tariff from ``start_date``."""
    if not tariff.is_active:
        raise ValidationError({"tariff": f"The tariff {tariff.name} is no longer sold."})
    service = Service(
        partner_id=customer.partner_id,
        customer=customer,
        tariff=tariff,
        start_date=start_date,
        **fields,
    )
    service.full_clean()
    service.save()
    audit_record(
        action="service.created",
        obj=service,
        actor=actor,
        changes={"tariff": tariff.name, "start_date": start_date.isoformat()},
    )
    from ispbill.billing.immediate import service_first_period_invoice

    service_first_period_invoice(service=service, on=timezone.localdate(), actor=actor)
    return service


@transaction.atomic
def one_time_charge_create(
    *, customer: Customer, actor: Any = None, invoice_now: bool = False, **fields: Any
) -> OneTimeCharge:
    """Installation, equipment: charged on the customer's next invoice, or on an invoice of
    its own at once with ``invoice_now``."""
    charge = OneTimeCharge(partner_id=customer.partner_id, customer=customer, **fields)
    charge.full_clean()
    charge.save()
    if invoice_now:
        from ispbill.billing.immediate import one_time_charge_invoice_now

        one_time_charge_invoice_now(charge=charge, on=timezone.localdate(), actor=actor)
    audit_record(
        action="one_time_charge.created",
        obj=charge,
        actor=actor,
        changes={k: fields[k] for k in sorted(fields)},
    )
    return charge


SERVICE_UPDATE_FIELDS = (
    "description",
    "quantity",
    "price_override_minor",
    "discount_bp",
    "discount_until",
    "end_date",
    "status",
)


@transaction.atomic
def service_update(*, service: Service, actor: Any = None, **fields: Any) -> Service:
    """Change a service's terms; periods already charged stay as invoiced."""
    unknown = set(fields) - set(SERVICE_UPDATE_FIELDS)
    if unknown:
        raise ValueError(f"not service fields: {sorted(unknown)}")
    locked = Service.objects.select_for_update(no_key=True).get(pk=service.pk)
    before = {name: getattr(locked, name) for name in fields}
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.full_clean()
    locked.save(update_fields=list(fields) or None)
    services_changed.send(sender=Service, service_ids=[locked.pk])
    if before.get("status") not in (None, ServiceStatus.STOPPED) and (
        locked.status == ServiceStatus.STOPPED
    ):
        service_stopped.send(sender=Service, service=locked, actor=actor)
    changes = {
        name: {"before": before[name], "after": value}
        for name, value in fields.items()
        if before[name] != value
    }
    if changes:
        audit_record(action="service.updated", obj=locked, actor=actor, changes=changes)
    return locked
