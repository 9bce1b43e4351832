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
    """Block, unblock (active) or deactivate a customer by hand. An aggregated partner's
    account takes its sub-customers along as dunning does (``block_subcustomers``): blocked
    or deactivated, its active sub-customers are blocked; active again, those blocked with
    it are unblocked."""
    if status not in CustomerStatus.values:
        raise ValidationError(f"Unknown status {status!r}.")
    locked = Customer.objects.select_for_update(no_key=True).get(pk=customer.pk)
    if locked.status == status:
        return locked
    before = locked.status
    locked.status = status
    locked.status_changed_at = timezone.now()
    locked.save(update_fields=["status", "status_changed_at"])
    customers_status_changed.send(
        sender=Customer, customer_ids=[locked.pk], previous={locked.pk: before}
    )
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
    partner = partner_accounts([locked.pk]).get(locked.pk)
    if partner is not None:
        if status == CustomerStatus.ACTIVE:
            subcustomers_release(account_ids=[locked.pk], actor=actor)
        elif status in (CustomerStatus.BLOCKED, CustomerStatus.INACTIVE):
            subcustomers_block(partner=partner, account_status=status, actor=actor)
    return locked


# Back to active from these is a reconnection (the issuer's reconnection fee).
RECONNECTED_FROM = (CustomerStatus.BLOCKED, CustomerStatus.INACTIVE)


def customers_status_bulk_set(
    customers: list[Customer],
    status: str,
    reason: str,
    *,
    actor: Any = "dunning",
    with_partner: bool | None = None,
) -> None:
    """Set the status of many customers at once (dunning, payments), each change audited.
    ``with_partner``: set (or clear) ``blocked_with_partner`` too."""
    now = timezone.now()
    fields = ["status", "status_changed_at"]
    if with_partner is not None:
        fields.append("blocked_with_partner")
    previous: dict[int, str] = {}
    for c in customers:
        old = c.status
        previous[c.pk] = old
        c.status = status
        c.status_changed_at = now
        if with_partner is not None:
            c.blocked_with_partner = with_partner
        audit_record(
            action=f"customer.{status}",
            obj=c,
            actor=actor,
            changes={"status": {"before": old, "after": status}, "reason": reason},
        )
    Customer.objects.bulk_update(customers, fields)
    customers_status_changed.send(
        sender=Customer, customer_ids=[c.pk for c in customers], previous=previous
    )


def partner_accounts(account_ids: list[int]) -> dict[int, Partner]:
    """The partners whose accounts these customers are, by account id."""
    if not account_ids:
        return {}
    return {
        p.account_id: p
        for p in Partner.objects.filter(account_id__in=account_ids)
        if p.account_id is not None
    }


def subcustomers_block(
    *, partner: Partner, account_status: str, actor: Any = "dunning"
) -> list[int]:
    """An aggregated partner set to ``block_subcustomers`` whose account is blocked or
    deactivated: its active sub-customers are blocked with it (marked
    ``blocked_with_partner``, so the partner's payment unblocks exactly them). Blocked, not
    deactivated: they are restored the moment the partner pays."""
    if partner.mode != PartnerMode.AGGREGATED or not partner.block_subcustomers:
        return []
    subs = list(
        Customer.objects.filter(partner=partner, status=CustomerStatus.ACTIVE).order_by("pk")
    )
    word = "deactivated" if account_status == CustomerStatus.INACTIVE else "blocked"
    customers_status_bulk_set(
        subs,
        CustomerStatus.BLOCKED,
        f"partner account {partner.name} {word}",
        actor=actor,
        with_partner=True,
    )
    return [c.pk for c in subs]


def subcustomers_release(*, account_ids: list[int], actor: Any = "dunning") -> list[int]:
    """The sub-customers blocked with their partner's account (``blocked_with_partner``)
    become active again: the partner paid, or its account was unblocked. Sub-customers
    blocked for a reason of their own stay blocked."""
    partners = partner_accounts(account_ids)
    if not partners:
        return []
    subs = list(
        Customer.objects.filter(
            partner_id__in=[p.pk for p in partners.values()],
            status=CustomerStatus.BLOCKED,
            blocked_with_partner=True,
        ).order_by("pk")
    )
    customers_status_bulk_set(
        subs, CustomerStatus.ACTIVE, "partner account cleared", actor=actor, with_partner=False
    )
    return [c.pk for c in subs]


def partner_account_ensure(*, partner: Partner) -> Customer:
    """The partner's account (the home partner's customer record the operator bills)."""
    if partner.account_id is not None:
        return Customer.objects.get(pk=partner.account_id)
    home = Partner.objects.get(is_home=True)
    account = Customer.objects.create(
        partner=home,
        reference=f"P{partner.pk:04d}",
        name=partner.legal_name or partner.name,
        company=partner.legal_name or partner.name,
        email=partner.email,
        street=partner.street,
        postcode=partner.postcode,
        city=partner.city,
        country=partner.country,
        vat_id=partner.vat_id,
    )
    partner.account = account
    Partner.objects.filter(pk=partner.pk).update(account=account)
    return account
