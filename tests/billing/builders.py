"""Small builders for billing tests: every number in a test is visible in the test."""

from __future__ import annotations

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
    return Customer.objects.create(
        partner=partner,
        reference=f"C{n:05d}",
        name=f"Customer {n}",
        email=f"c{n}@example.net",
        **kw,
    )


def service(c: Customer, t: Tariff, start: date, **kw: Any) -> Service:
    return Service.objects.create(
        partner_id=c.partner_id, customer=c, tariff=t, start_date=start, description=t.name, **kw
    )
