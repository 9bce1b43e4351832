"""Ending a service and terminating a customer, with what it will mean for the bill
(docs/billing.md "Ending and editing a service").

- A service's **end date** is its last day of service (domain.md, "Services"). Ended on or
  before today it is stopped at once: its RADIUS rows go and ``service.stopped`` is told
  (disconnection fee, webhooks). Ended later it stays as it is until then, and the daily work
  stops it after its end date (``subscriptions.services.services_stop_ended``).
- Billing charges it up to its end date, the last period prorated; the preview lists those
  charges not made yet, rated exactly as the run will rate them (``rating.service_rate``).
- Days after the end date that were already charged (a prepaid period) are **not** given
  back by ending the service: the preview shows what they are worth
  (``plan_rating.credit_amount``, the plan change's rule), so the operator can credit that
  invoice if the contract says so. The default end date is the last day charged, so by
  default nothing is charged beyond the end.
- Terminating a customer ends all its services on one day (today or earlier) and makes it
  inactive. Inactive customers are not billed, so the days up to that day not charged yet
  are not charged: the preview says so; an open balance is shown as a warning.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db import transaction

from ispbill.billing.fees import fee_amount_minor, fee_issuer
from ispbill.billing.models import ChargeKind
from ispbill.billing.plan_changes import (
    charged_spans,
    live_spans,
    service_context,
    service_terms,
    wholesale_price,
)
from ispbill.billing.plan_rating import credit_amount
from ispbill.billing.rating import service_rate
from ispbill.core.audit import audit_record
from ispbill.core.errors import DomainValidationError
from ispbill.core.money import Money
from ispbill.customers.models import Customer, CustomerStatus
from ispbill.customers.services import customer_status_set
from ispbill.payments.selectors import customer_balance_minor
from ispbill.subscriptions.models import FeeKind, Service, ServiceStatus
from ispbill.subscriptions.services import service_update

ONE_DAY = timedelta(days=1)
# How far ahead an end date may be set: a year and a day.
END_AHEAD_MAX = timedelta(days=366)
# Rating up to the end date: every period up to it is due on a billing date this far after.
_AFTER_END = timedelta(days=400)


@dataclass(frozen=True, slots=True)
class EndLine:
    """Days of the service and their amount (minor units)."""

    start: date
    end: date
    amount_minor: int


@dataclass(frozen=True, slots=True)
class ServiceEnding:
    """What ending a service on ``end_date`` means, before (preview) and after (outcome)."""

    service_id: int
    name: str
    end_date: date
    stops_now: bool  # stopped at once (end date today or earlier); else after the end date
    currency: str
    to_charge: tuple[EndLine, ...]  # up to the end date, not charged yet: the next runs'
    billed: bool  # False: the customer becomes inactive, so ``to_charge`` is not charged
    charged_after: EndLine | None  # days after the end already charged; not given back
    fee_minor: int  # the issuer's disconnection fee, charged when the service stops

    @property
    def to_charge_minor(self) -> int:
        return sum(line.amount_minor for line in self.to_charge)

    def money(self, minor: int) -> Money:
        return Money.from_minor(minor, self.currency)


@dataclass(frozen=True, slots=True)
class CustomerTermination:
    customer_id: int
    on: date
    currency: str
    services: tuple[ServiceEnding, ...]
    balance_minor: int  # negative: the customer owes (shown as a warning, never a block)

    @property
    def fee_minor(self) -> int:
        return sum(s.fee_minor for s in self.services)

    @property
    def not_billed_minor(self) -> int:
        return sum(s.to_charge_minor for s in self.services)


def service_end_default(service: Service, today: date) -> date:
    """The end date a form proposes: the end date set already, else the last day charged
    when that is today or later (the end of the paid period), else today."""
    if service.end_date is not None:
        return service.end_date
    if service.charged_through is not None and service.charged_through - ONE_DAY >= today:
        return service.charged_through - ONE_DAY
    return max(today, service.start_date)


def service_end_check(service: Service, end: date, today: date) -> None:
    """Refuse an end date outside the allowed range, naming ``end_date``."""

    def refuse(text: str) -> None:
        raise DomainValidationError.for_fields({"end_date": text}, code="invalid_end_date")

    if service.status == ServiceStatus.STOPPED:
        refuse("The service is stopped already.")
    if end < service.start_date:
        refuse(f"Choose a day on or after the service's start, {service.start_date.isoformat()}.")
    if end > today + END_AHEAD_MAX:
        refuse(f"Choose a day up to {(today + END_AHEAD_MAX).isoformat()} (a year ahead).")


def service_ending(
    *, service: Service, end: date, today: date, billed: bool = True
) -> ServiceEnding:
    """The preview of ending ``service`` on ``end`` (validated by ``service_end_check``)."""
    customer = Customer.objects.get(pk=service.customer_id)
    ctx, partner, _home = service_context(customer)
    tariff = service.tariff
    if ctx.wholesale_pricing:
        price = wholesale_price(tariff, partner)
    elif service.price_override_minor is not None:
        price = service.price_override_minor
    else:
        price = tariff.price_minor
    name = service.description or tariff.name
    as_charged = service_terms(service, tariff, price, name)
    to_charge: tuple[EndLine, ...] = ()
    if service.status == ServiceStatus.ACTIVE:  # a paused service is not charged
        drafts = service_rate(
            terms=dataclasses.replace(as_charged, end_date=end),
            cycle=ctx.cycle,
            prepaid=ctx.prepaid,
            charged_through=service.charged_through,
            billing_date=end + _AFTER_END,
        )
        to_charge = tuple(
            EndLine(d.period.active.start, d.period.active.end, d.amount_minor) for d in drafts
        )
    charged_after = None
    charges, months = live_spans(service, ChargeKind.RETAIL, end + ONE_DAY)
    spans = charged_spans(charges, months)
    if spans:
        worth = sum(
            credit_amount(span=span, first=end + ONE_DAY, terms=as_charged, cycle=ctx.cycle)
            for span in spans
        )
        charged_after = EndLine(end + ONE_DAY, max(span.end for span in spans), worth)
    issuer = fee_issuer(customer)
    return ServiceEnding(
        service_id=service.pk,
        name=name,
        end_date=end,
        stops_now=end <= today,
        currency=ctx.issuer.currency,
        to_charge=to_charge,
        billed=billed,
        charged_after=charged_after,
        fee_minor=fee_amount_minor(issuer, FeeKind.DISCONNECTION),
    )


def service_end_preview(*, service: Service, end: date, today: date) -> ServiceEnding:
    service_end_check(service, end, today)
    return service_ending(service=service, end=end, today=today)


@transaction.atomic
def service_end(*, service: Service, end: date, today: date, actor: Any = None) -> ServiceEnding:
    """End ``service`` on ``end``: its end date set, stopped at once when the day has come
    (else by the daily work after it), audited as ``service.ended``."""
    locked = Service.objects.select_for_update(no_key=True).get(pk=service.pk)
    service_end_check(locked, end, today)
    ending = service_ending(service=locked, end=end, today=today)
    fields: dict[str, Any] = {"end_date": end}
    if ending.stops_now:
        fields["status"] = ServiceStatus.STOPPED
    service_update(service=locked, actor=actor, **fields)
    audit_record(action="service.ended", obj=locked, actor=actor, changes=_audit(ending))
    return ending


def _audit(ending: ServiceEnding) -> dict[str, Any]:
    return {
        "end_date": ending.end_date.isoformat(),
        "stopped_now": ending.stops_now,
        "to_charge": str(ending.money(ending.to_charge_minor)),
        "charged_after_end": (
            str(ending.money(ending.charged_after.amount_minor)) if ending.charged_after else None
        ),
    }


def _terminated_services(customer: Customer) -> list[Service]:
    return list(
        Service.objects.filter(customer=customer)
        .exclude(status=ServiceStatus.STOPPED)
        .select_related("tariff")
        .order_by("pk")
    )


def customer_termination_check(customer: Customer, on: date, today: date) -> None:
    def refuse(text: str) -> None:
        raise DomainValidationError.for_fields({"date": text}, code="invalid_termination")

    if customer.status == CustomerStatus.INACTIVE:
        refuse("The customer is inactive already.")
    if on > today:
        refuse(
            "Choose today or an earlier day: a customer is made inactive at once. To stop "
            "later, end its services on that day."
        )
    late = [s for s in _terminated_services(customer) if s.start_date > on]
    if late:
        names = ", ".join(f"{s.description or s.tariff.name} ({s.start_date})" for s in late)
        refuse(f"These services start after {on.isoformat()}: {names}. Choose a later day.")


def customer_termination_preview(
    *, customer: Customer, on: date, today: date
) -> CustomerTermination:
    customer_termination_check(customer, on, today)
    services = tuple(
        service_ending(
            service=s,
            end=min(on, s.end_date) if s.end_date else on,
            today=today,
            billed=False,
        )
        for s in _terminated_services(customer)
    )
    ctx, _partner, _home = service_context(customer)
    return CustomerTermination(
        customer_id=customer.pk,
        on=on,
        currency=ctx.issuer.currency,
        services=services,
        balance_minor=customer_balance_minor([customer.pk])[customer.pk],
    )


@transaction.atomic
def customer_terminate(
    *, customer: Customer, on: date, today: date, actor: Any = None
) -> CustomerTermination:
    """End every service of ``customer`` on ``on`` (one already ending earlier keeps its
    day) and make it inactive, audited as ``customer.terminated``."""
    locked = Customer.objects.select_for_update(no_key=True).get(pk=customer.pk)
    termination = customer_termination_preview(customer=locked, on=on, today=today)
    for ending in termination.services:
        service = Service.objects.select_for_update(no_key=True).get(pk=ending.service_id)
        service_update(
            service=service, actor=actor, end_date=ending.end_date, status=ServiceStatus.STOPPED
        )
    customer_status_set(
        customer=locked, status=CustomerStatus.INACTIVE, actor=actor, reason="terminated"
    )
    audit_record(
        action="customer.terminated",
        obj=locked,
        actor=actor,
        changes={
            "date": on.isoformat(),
            "services": [s.service_id for s in termination.services],
            "balance": str(Money.from_minor(termination.balance_minor, termination.currency)),
        },
    )
    return termination
