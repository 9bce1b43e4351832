"""RADIUS follows the domain: a customer's status, a service or a tariff's speeds changed,
so the routers' rows follow (connected by RadiusConfig.ready). The domain apps tell; they
do not know RADIUS exists."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ispbill.catalog.signals import tariff_access_changed
from ispbill.customers.signals import customers_status_changed
from ispbill.radius.sync import radius_sync_customers, radius_sync_services, radius_sync_tariff
from ispbill.subscriptions.signals import services_changed


def on_customers_status_changed(*, customer_ids: Iterable[int], **kwargs: Any) -> None:
    radius_sync_customers(customer_ids=customer_ids)


def on_services_changed(*, service_ids: Iterable[int], **kwargs: Any) -> None:
    radius_sync_services(service_ids=service_ids)


def on_tariff_access_changed(*, tariff_id: int, **kwargs: Any) -> None:
    radius_sync_tariff(tariff_id=tariff_id)


def radius_receivers_connect() -> None:
    customers_status_changed.connect(on_customers_status_changed, dispatch_uid="radius.customers")
    services_changed.connect(on_services_changed, dispatch_uid="radius.services")
    tariff_access_changed.connect(on_tariff_access_changed, dispatch_uid="radius.tariff")
