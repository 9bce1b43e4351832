"""Subscribing as the screens, the API and imports do it: the subscription's rows
(``subscriptions.services``) and, when the issuer or the user asks, its invoice at once
(``billing.immediate``, docs/domain.md "First period"). Subscriptions do not know billing:
this module, one layer up, does both in one transaction."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from ispbill.billing.immediate import one_time_charge_invoice_now, service_first_period_invoice
from ispbill.catalog.models import Tariff
from ispbill.customers.models import Customer
from ispbill.subscriptions.models import OneTimeCharge, Service
from ispbill.subscriptions.services import one_time_charge_record, service_record


@transaction.atomic
def service_create(
    *,
    customer: Customer,
    tariff: Tariff,
    start_date: date,
    actor: Any = None,
    **fields: Any,
) -> Service:
    """Subscribe a customer to a tariff from ``start_date``; its first partial period is
    invoiced at once when its issuer bills first periods on activation."""
    service = service_record(
        customer=customer, tariff=tariff, start_date=start_date, actor=actor, **fields
    )
    service_first_period_invoice(service=service, on=timezone.localdate(), actor=actor)
    return service


@transaction.atomic
def one_time_charge_create(
    *, customer: Customer, actor: Any = None, invoice_now: bool = False, **fields: Any
) -> OneTimeCharge:
    """Installation, equipment: charged on the customer's next invoice, or on an invoice of
    its own at once with ``invoice_now``."""
    charge = one_time_charge_record(customer=customer, actor=actor, **fields)
    if invoice_now:
        one_time_charge_invoice_now(charge=charge, on=timezone.localdate(), actor=actor)
    return charge
