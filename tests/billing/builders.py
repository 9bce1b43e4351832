"""Small builders for billing tests: every number in a test is visible in the test."""

from __future__ import annotations

import os
from datetime import date
from typing import Any

from ispbill.catalog.models import Tariff, TaxRate
from ispbill.customers.models import Customer
from ispbill.partners.models import Partner
from ispbill.partners.services import partner_home
from ispbill.subscriptions.models import Service

_seq = {"n": 0}


def _next() -> int:
    _seq["n"] += 1
    return _seq["n"]


def tax(owner: Partner, rate_bp: int = 1900) -> TaxRate:
    rate, _ = TaxRate.objects.get_or_create(
        partner=owner, name=f"VAT {rate_bp}", defaults={"rate_bp": rate_bp}
    )
    return rate


def tariff(
    owner: Partner | None = None,
    *,
    price: int = 3000,
    months: int = 1,
    rate_bp: int = 1900,
    name: str | None = None,
    **kw: Any,
) -> Tariff:
    owner = owner or partner_home()
    return Tariff.objects.create(
        partner=owner,
        name=name or f"Plan {_next()}",
        price_minor=price,
        period_months=months,
        tax_rate=tax(owner, rate_bp),
        **kw,
    )


def customer(partner: Partner | None = None, **kw: Any) -> Customer:
    partner = partner or partner_home()
    n = _next()
    fields: dict[str, Any] = {
        "reference": f"C{n:05d}",
        "name": f"Customer {n}",
        "email": f"c{n}@example.net",
        **kw,
    }
    return Customer.objects.create(partner=partner, **fields)


def service(c: Customer, t: Tariff, start: date, **kw: Any) -> Service:
    return Service.objects.create(
        partner_id=c.partner_id, customer=c, tariff=t, start_date=start, description=t.name, **kw
    )


def redis_db(base: int) -> int:
    """A Redis database of its own for each pytest-xdist worker's Celery tests (``base`` for
    the first, then two further on: 16 databases serve eight workers), so the workers started
    by tests in two pytest processes never take each other's tasks."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return (base + 2 * int(worker.removeprefix("gw") or 0)) % 16
