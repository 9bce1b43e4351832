"""Customer write services: create, update, block and unblock."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from ispbill.core.audit import audit_record, model_diff
from ispbill.customers.models import Customer, CustomerStatus
from ispbill.customers.signals import customers_reconnected, customers_status_changed
from ispbill.partners.models import Partner, PartnerMode

# Fields a user may set on a customer; status changes go through customer_status_set.
CUSTOMER_FIELDS = (
    "reference",
    "name",
    "company",
    "email",
    "phone",
    "street",
    "postcode",
    "city",
    "country",
    "vat_id",
    "language",
    "billing_day",
    "payment_due_days",
    "payment_period",
    "min_balance_minor",
)


def _apply(customer: Customer, fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(CUSTOMER_FIELDS)
    if unknown:
        raise ValueError(f"not customer fields: {sorted(unknown)}")
    for name, value in fields.items():
        setattr(customer, name, value)
    customer.full_clean()


@transaction.atomic
def customer_create(*, partner: Partner, actor: Any = None, **fields: Any) -> Customer:
    """A new customer of ``partner``; raises ValidationError with per-field messages."""
    if not partner.is_active:
        raise ValidationError(f"{partner.name} is disabled; it cannot take new customers.")
    customer = Customer(partner=partner, status=CustomerStatus.ACTIVE)
    _apply(customer, fields)
    customer.save()
    audit_record(
        action="customer.created",
        obj=customer,
        actor=actor,
        changes={k: fields[k] for k in sorted(fields)},
    )
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, actor: Any = None, **fields: Any) -> Customer:
    """Change a customer's details and billing settings; ``status`` changes by hand."""
    status = fields.pop("status", None)
    if status is not None:
        customer = customer_status_set(customer=customer, status=status, actor=actor)
    locked = Customer.objects.select_for_update(no_key=True).get(pk=customer.pk)
    before = model_to_dict(locked, fields=list(CUSTOMER_FIELDS))
    _apply(locked, fields)
    locked.save()
    changes = model_diff(before, model_to_dict(locked, fields=list(CUSTOMER_FIELDS)))
    if changes:
        audit_record(action="customer.updated", obj=locked, actor=actor, changes=changes)
    return locked


@transaction.atomic
def customer_status_set(
    *, customer: Customer, status: str, actor: Any = None, reason: str = ""
) -> Customer:
    """Block, unblock (active) or deactivate a customer by hand."""
    if status not in CustomerStatus.values:
        raise ValidationError(f"Unknown status {status!r}.")
    locked = Customer.objects.select_for_update(no_key=True).get(pk=customer.pk)
    if locked.status == status:
        return locked
    before = locked.status
    locked.status = status
    locked.status_changed_at = timezone.now()
    locked.save(update_fields=["status", "status_changed_at"])
    customers_status_changed.send(sender=Customer, customer_ids=[locked.pk])
    if status == CustomerStatus.ACTIVE and before in RECONNECTED_FROM:
        customers_reconnected.send(
            sender=Customer, customers=[locked], actor=actor, on=timezone.localdate()
        )
    audit_record(
        action="customer.status_changed",
        obj=locked,
        actor=actor,
        changes={"status": {"before": before, "after": status}, "reason": reason or "by hand"},
    )
    return locked


# Back to active from these is a reconnection (the issuer's reconnection fee).
RECONNECTED_FROM = (CustomerStatus.BLOCKED, CustomerStatus.INACTIVE)


def customers_status_bulk_set(customers: list[Customer], status: str, reason: str) -> None:
    """Set the status of many customers at once (dunning, payments), each change audited."""
    now = timezone.now()
    for c in customers:
        old = c.status
        c.status = status
        c.status_changed_at = now
        audit_record(
            action=f"customer.{status}",
            obj=c,
            actor="dunning",
            changes={"status": {"before": old, "after": status}, "reason": reason},
        )
    Customer.objects.bulk_update(customers, ["status", "status_changed_at"])
    customers_status_changed.send(sender=Customer, customer_ids=[c.pk for c in customers])


def partner_subcustomers_cascade(account_ids: list[int], status: str) -> None:
    """An aggregated partner's account blocked/unblocked takes its sub-customers along."""
    partners = Partner.objects.filter(
        account_id__in=account_ids, mode=PartnerMode.AGGREGATED, block_subcustomers=True
    )
    for partner in partners:
        if status == CustomerStatus.BLOCKED:
            subs = list(Customer.objects.filter(partner=partner, status=CustomerStatus.ACTIVE))
            customers_status_bulk_set(
                subs, CustomerStatus.BLOCKED, f"partner account {partner.name} blocked"
            )
        else:
            subs = list(Customer.objects.filter(partner=partner, status=CustomerStatus.BLOCKED))
            customers_status_bulk_set(
                subs, CustomerStatus.ACTIVE, f"partner account {partner.name} unblocked"
            )
