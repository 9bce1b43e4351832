"""factory_boy factories for the core models, generic enough for any test.

Tests pass every number that matters (prices, dates, rates) explicitly; the factories only
fill in names and references. The home partner is created by the migrations: use
``home_partner()`` rather than a factory for it."""

from __future__ import annotations

from datetime import date
from typing import Any

import factory
from factory.django import DjangoModelFactory

from ispbill.catalog.models import PartnerPrice, Tariff, TaxRate
from ispbill.customers.models import Customer
from ispbill.partners.models import CommissionOverride, Partner, PartnerMode
from ispbill.partners.services import partner_home
from ispbill.subscriptions.models import OneTimeCharge, Service


def home_partner() -> Partner:
    return partner_home()


class PartnerFactory(DjangoModelFactory[Partner]):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"Partner {n}")
    legal_name = factory.LazyAttribute(lambda p: f"{p.name} GmbH")
    mode = PartnerMode.PERCENTAGE
    # Own-invoicing partners go with the operator's runs in tests (one run bills every
    # mode), unless a test is about partners' own runs (tests/billing/test_own_runs.py).
    runs_own_billing = False


class TaxRateFactory(DjangoModelFactory[TaxRate]):
    class Meta:
        model = TaxRate
        django_get_or_create = ("partner", "rate_bp")

    partner = factory.LazyFunction(partner_home)
    name = factory.LazyAttribute(lambda t: f"VAT {t.rate_bp / 100:g}%")
    rate_bp = 1900


class TariffFactory(DjangoModelFactory[Tariff]):
    class Meta:
        model = Tariff

    partner = factory.LazyFunction(partner_home)
    name = factory.Sequence(lambda n: f"Plan {n}")
    price_minor = 3000
    period_months = 1
    tax_rate = factory.LazyAttribute(lambda t: TaxRateFactory(partner=t.partner))


class PartnerPriceFactory(DjangoModelFactory[PartnerPrice]):
    class Meta:
        model = PartnerPrice

    partner = factory.SubFactory(PartnerFactory, mode=PartnerMode.AGGREGATED)
    tariff = factory.SubFactory(TariffFactory)
    price_minor = 2000


class CommissionOverrideFactory(DjangoModelFactory[CommissionOverride]):
    class Meta:
        model = CommissionOverride

    partner = factory.SubFactory(PartnerFactory)
    tariff = factory.SubFactory(TariffFactory)
    rate_bp = 2000


class CustomerFactory(DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    partner = factory.LazyFunction(partner_home)
    reference = factory.Sequence(lambda n: f"C{n:05d}")
    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.LazyAttribute(lambda c: f"{c.reference.lower()}@example.net")


class ServiceFactory(DjangoModelFactory[Service]):
    class Meta:
        model = Service

    customer = factory.SubFactory(CustomerFactory)
    partner = factory.LazyAttribute(lambda s: s.customer.partner)
    tariff = factory.SubFactory(TariffFactory)
    description = factory.LazyAttribute(lambda s: s.tariff.name)
    start_date = date(2026, 1, 1)


class OneTimeChargeFactory(DjangoModelFactory[OneTimeCharge]):
    class Meta:
        model = OneTimeCharge

    customer = factory.SubFactory(CustomerFactory)
    partner = factory.LazyAttribute(lambda o: o.customer.partner)
    description = "Installation"
    unit_price_minor = 4900
    tax_rate = factory.LazyAttribute(lambda o: TaxRateFactory(partner=o.partner))
    charge_date = date(2026, 1, 1)


def partner_with_account(**kw: Any) -> Partner:
    """A reseller and its account: the home partner's customer record the operator bills."""
    partner = PartnerFactory(**kw)
    partner.account = CustomerFactory(
        partner=partner_home(),
        reference=f"P{partner.pk:04d}",
        name=partner.legal_name,
        company=partner.legal_name,
    )
    partner.save(update_fields=["account"])
    return partner


def email_delivery(
    *,
    customer: Customer,
    status: str = "sent",
    kind: str = "reminder",
    invoice: Any = None,
    to: str = "",
    subject: str = "",
    last_error: str = "",
) -> Any:
    """One e-mail of the log, as the sender leaves it (docs/documents.md, "Email delivery"):
    a failed one after its 5 attempts, a sent one with its time. The default kind, a
    reminder, needs no PDF, so sending it again is quick."""
    from django.utils import timezone

    from ispbill.invoicing.models import EmailDelivery

    now = timezone.now()
    n = EmailDelivery._base_manager.count() + 1
    partner = customer.partner
    issuer = invoice.issuer if invoice is not None else partner
    return EmailDelivery.objects.create(
        partner=invoice.partner if invoice is not None else partner,
        issuer=issuer,
        customer=customer,
        kind=kind,
        invoice=invoice,
        idempotency_key=f"test:{n}:{customer.pk}:{status}",
        to=to or customer.email or f"c{customer.pk}@example.org",
        from_email=f'"{issuer.name}" <billing@example.org>',
        subject=subject or f"Message {n} to {customer.name}",
        body="Hello.",
        message_id=f"<test{n}@example.org>",
        status=status,
        attempts={"sent": 1, "failed": 5}.get(status, 0),
        last_error=last_error or ("SMTPServerDisconnected: closed" if status == "failed" else ""),
        last_attempt_at=now if status != "queued" else None,
        sent_at=now if status == "sent" else None,
    )
