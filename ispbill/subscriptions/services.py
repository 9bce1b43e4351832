"""Service and one-time charge write services."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from ispbill.catalog.models import Tariff
from ispbill.core.audit import audit_record
from ispbill.core.errors import DomainValidationError
from ispbill.customers.models import Customer
from ispbill.subscriptions.models import OneTimeCharge, Service, ServiceStatus
from ispbill.subscriptions.signals import service_created, service_stopped, services_changed


@transaction.atomic
def service_record(
    *,
    customer: Customer,
    tariff: Tariff,
    start_date: date,
    actor: Any = None,
    **fields: Any,
) -> Service:
    """The rows of a customer's subscription to a tariff from ``start_date``, audited. The
    whole operation, with the first period invoiced at once when the issuer says so, is
    ``ispbill.billing.actions.service_create``."""
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
    service_created.send(sender=Service, service=service)
    audit_record(
        action="service.created",
        obj=service,
        actor=actor,
        changes={"tariff": tariff.name, "start_date": start_date.isoformat()},
    )
    return service


@transaction.atomic
def one_time_charge_record(
    *, customer: Customer, actor: Any = None, **fields: Any
) -> OneTimeCharge:
    """Installation, equipment: the charge, for the customer's next invoice, audited. With
    an invoice of its own at once: ``ispbill.billing.actions.one_time_charge_create``."""
    charge = OneTimeCharge(partner_id=customer.partner_id, customer=customer, **fields)
    charge.full_clean()
    charge.save()
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
    "start_date",
)


@transaction.atomic
def service_update(*, service: Service, actor: Any = None, **fields: Any) -> Service:
    """Change a service's terms; periods already charged stay as invoiced."""
    unknown = set(fields) - set(SERVICE_UPDATE_FIELDS)
    if unknown:
        raise ValueError(f"not service fields: {sorted(unknown)}")
    locked = Service.objects.select_for_update(no_key=True).get(pk=service.pk)
    before = {name: getattr(locked, name) for name in fields}
    if "start_date" in fields and fields["start_date"] != locked.start_date:
        start_date_check(locked)
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


def service_billed(service: Service) -> bool:
    """Whether a billing run (or an invoice at once) has processed a period of the service:
    from then on its start date is history (docs/billing.md "Ending and editing a service")."""
    return service.charged_through is not None or service.wholesale_charged_through is not None


def start_date_check(service: Service) -> None:
    """A service's start date may be corrected until it is billed."""
    if service_billed(service):
        raise DomainValidationError.for_fields(
            {
                "start_date": (
                    f"The service is billed from {service.start_date.isoformat()}; its start "
                    "date can no longer change. End it and add a new service instead."
                )
            },
            code="already_billed",
        )


def services_stop_ended(*, today: date, actor: Any = "scheduler") -> list[int]:
    """Stop the services whose end date has passed (the end date is their last day): their
    RADIUS rows go, ``service.stopped`` is told (disconnection fee, webhooks). Run by the daily
    work; a service ended on or before today by hand was stopped at once."""
    due = list(
        Service.objects.filter(end_date__lt=today)
        .exclude(status=ServiceStatus.STOPPED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for pk in due:
        service_update(
            service=Service.objects.get(pk=pk), actor=actor, status=ServiceStatus.STOPPED
        )
    return due
