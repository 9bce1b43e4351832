"""Billing follows the customers and their services (connected by BillingConfig.ready): a
service stopped is charged its issuer's disconnection fee, a customer active again after
blocking its reconnection fee. Customers and subscriptions tell; they do not know billing."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils import timezone

from ispbill.billing.fees import fee_charge, reconnection_fee_charge
from ispbill.customers.models import Customer
from ispbill.customers.signals import customers_reconnected
from ispbill.subscriptions.models import FeeKind, Service
from ispbill.subscriptions.signals import service_stopped


def on_service_stopped(*, service: Service, actor: Any = None, **kwargs: Any) -> None:
    fee_charge(
        customer=Customer.objects.get(pk=service.customer_id),
        kind=FeeKind.DISCONNECTION,
        on=service.end_date or timezone.localdate(),
        description=service.description or service.tariff.name,
        service=service,
        actor=actor,
    )


def on_customers_reconnected(
    *, customers: list[Customer], actor: Any = None, on: date | None = None, **kwargs: Any
) -> None:
    reconnection_fee_charge(customers=customers, actor=actor, on=on)


def billing_receivers_connect() -> None:
    service_stopped.connect(on_service_stopped, dispatch_uid="billing.disconnection_fee")
    customers_reconnected.connect(on_customers_reconnected, dispatch_uid="billing.reconnection_fee")
