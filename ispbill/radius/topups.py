"""Top-ups: extra volume for a service's current month (docs/usage.md, "Top-ups").

A tariff with a top-up pack (``topup_gb`` for ``topup_price_minor``, net) lets the customer
(portal), the operator and the partner buy packs of it. A purchase is a one-time charge on
the customer (quantity = packs, the tariff's tax rate): it goes on the next invoice, or on
an invoice of its own at once when it is paid online right away. It takes effect at once:
the month's allowance grows by the packs' volume, and a service capped by the month's
volume (throttled or blocked) whose traffic is now under the allowance gets its tariff's
access back — the RADIUS rows rewritten, the live sessions told by CoA after commit, as the
new month's restore does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from ispbill.billing.immediate import one_time_charge_invoice_now
from ispbill.billing.modes import billing_context
from ispbill.core.audit import audit_record
from ispbill.core.errors import DomainError
from ispbill.core.money import Money
from ispbill.customers.models import Customer
from ispbill.customers.selectors import account_issuer
from ispbill.gateways.services import gateway_settings_for
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import Partner
from ispbill.radius.models import RadiusCredential, UsageTopUp
from ispbill.radius.sync import radius_sync_services
from ispbill.radius.usage import (
    GB,
    month_end,
    month_start,
    usage_allowances,
    usage_price_minor,
    usage_totals,
)
from ispbill.subscriptions.models import Service, ServiceStatus
from ispbill.subscriptions.services import one_time_charge_record

MAX_PACKS = 100


class TopUpError(DomainError):
    """A top-up that cannot be bought (no pack on the tariff, a service not active, …)."""

    code = "topup"


class TopUpChannel:
    CUSTOMER = "customer"
    STAFF = "staff"
    API = "api"


@dataclass(frozen=True)
class TopUpQuote:
    """What buying ``packs`` packs now costs and does: shown before the customer or the
    staff confirm."""

    packs: int
    gigabytes: int
    unit_price: Money
    net: Money
    start: date
    end: date
    used_bytes: int
    allowance_before: int
    allowance_after: int
    capped: str  # the month's cap now: "throttle", "block" or ""
    # The partner's price (an aggregated partner's sub-customer: billed to the partner).
    wholesale: bool = False

    @property
    def lifts_cap(self) -> bool:
        return bool(self.capped) and self.used_bytes < self.allowance_after

    @property
    def stays_capped(self) -> bool:
        return bool(self.capped) and not self.lifts_cap


def topup_available(service: Service) -> bool:
    """Whether the service's tariff sells top-up packs (and the service can take one)."""
    t = service.tariff
    return (
        t.kind == "internet"
        and t.included_gb is not None
        and t.topup_gb is not None
        and t.topup_price_minor is not None
        and service.status == ServiceStatus.ACTIVE
    )


def topup_pays_online(customer: Customer) -> bool:
    """Whether a top-up bought in the portal is invoiced at once and paid by card right away:
    the issuer has card payments set up and the customer is invoiced itself (not held for an
    aggregated partner's invoice). Otherwise it goes on the next invoice."""
    partner = Partner.objects.get(pk=customer.partner_id)
    home = Partner.objects.get(is_home=True)
    if billing_context(customer, partner, home).held:
        return False
    return gateway_settings_for(account_issuer(customer).pk) is not None


def _checked(service: Service, packs: int) -> None:
    if not topup_available(service):
        raise TopUpError(
            "This service's tariff offers no top-up (or the service is not active).",
            fields={"packs": "No top-up is offered for this service."},
        )
    if not 1 <= packs <= MAX_PACKS:
        raise TopUpError(
            f"Choose from 1 to {MAX_PACKS} packs.",
            fields={"packs": f"Choose from 1 to {MAX_PACKS} packs."},
        )


def usage_topup_quote(*, service: Service, packs: int, today: date | None = None) -> TopUpQuote:
    """The price and the effect of ``packs`` packs for the current month."""
    _checked(service, packs)
    today = today or timezone.localdate()
    start = month_start(today)
    tariff = service.tariff
    currency = Partner.objects.values_list("currency", flat=True).get(pk=tariff.partner_id)
    price, wholesale = usage_price_minor(
        retail_minor=tariff.topup_price_minor or 0,
        partner=Partner.objects.get(pk=service.partner_id),
    )
    gigabytes = packs * (tariff.topup_gb or 0)
    used = usage_totals(service_ids=[service.pk], start=start, end=today).get(service.pk, 0)
    before = usage_allowances(services=[service.pk], start=start).get(service.pk, 0)
    # The service was found in the caller's scope; its credential has no customer field
    # (the portal's customer scope reads none), so it is read by the service.
    cred = RadiusCredential._base_manager.filter(service_id=service.pk).first()
    capped = cred.capped if cred is not None and cred.capped_month == start else ""
    return TopUpQuote(
        packs=packs,
        gigabytes=gigabytes,
        unit_price=Money.from_minor(price, currency),
        net=Money.from_minor(price * packs, currency),
        start=start,
        end=month_end(today),
        used_bytes=used,
        allowance_before=before,
        allowance_after=before + gigabytes * GB,
        capped=capped,
        wholesale=wholesale,
    )


@dataclass(frozen=True)
class TopUpResult:
    topup: UsageTopUp
    invoice: Invoice | None
    cap_lifted: bool


@transaction.atomic
def usage_topup_buy(
    *,
    service: Service,
    packs: int,
    channel: str,
    actor: Any = None,
    invoice_now: bool = False,
    today: date | None = None,
) -> TopUpResult:
    """Buy ``packs`` top-up packs for the service's current month: the one-time charge (on
    an invoice of its own at once with ``invoice_now``), the top-up, and the cap lifted when
    the traffic is now under the allowance (CoA after commit). Audited."""
    today = today or timezone.localdate()
    service = Service.objects.select_for_update().select_related("tariff").get(pk=service.pk)
    quote = usage_topup_quote(service=service, packs=packs, today=today)
    tariff = service.tariff
    pack = f"{packs} × {tariff.topup_gb} GB" if packs > 1 else f"{tariff.topup_gb} GB"
    at = f" at partner price {quote.unit_price.amount:.2f}" if quote.wholesale else ""
    charge = one_time_charge_record(
        customer=service.customer,
        actor=actor,
        description=(
            f"Top-up {pack}{at}, {quote.start.day}–{quote.end.day} "
            f"{quote.start.strftime('%B %Y')} ({tariff.name})"
        )[:200],
        quantity=packs,
        unit_price_minor=quote.unit_price.minor,
        tax_rate=tariff.tax_rate,
        charge_date=today,
        service=service,
    )
    topup = UsageTopUp.objects.create(
        partner_id=service.partner_id,
        customer_id=service.customer_id,
        service=service,
        month=quote.start,
        packs=packs,
        gigabytes=quote.gigabytes,
        charge=charge,
        channel=channel,
    )
    lifted = False
    if quote.lifts_cap:
        cred = RadiusCredential._base_manager.select_for_update().get(service_id=service.pk)
        # Lifted for now; the next collection caps again only if the traffic reaches the
        # raised allowance.
        cred.capped, cred.capped_month = "", None
        cred.save(update_fields=["capped", "capped_month"])
        radius_sync_services(service_ids=[service.pk])
        lifted = True
    audit_record(
        action="usage.topup_bought",
        obj=topup,
        actor=actor,
        changes={
            "service": service.pk,
            "packs": packs,
            "gigabytes": quote.gigabytes,
            "net": str(quote.net),
            "month": quote.start.isoformat(),
            "channel": channel,
            "cap_lifted": lifted,
        },
    )
    invoice = (
        one_time_charge_invoice_now(charge=charge, on=today, actor=actor) if invoice_now else None
    )
    return TopUpResult(topup=topup, invoice=invoice, cap_lifted=lifted)
