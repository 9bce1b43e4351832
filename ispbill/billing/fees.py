"""One-time fees an issuer charges (docs/billing.md "Fees"): upgrade and downgrade (a plan
change), disconnection (a service stopped), reconnection (a blocked or deactivated customer
active again) and late payment (dunning, once per invoice).

Each fee is a one-time charge, so it takes the normal path: the customer's next invoice (or
the partner's aggregated invoice), or the plan change's own invoice where the issuer invoices
changes at once. The amounts and their tax rate are the issuer's settings; 0 means none."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from ispbill.core.audit import audit_record
from ispbill.core.money import Money
from ispbill.customers.models import Customer, CustomerStatus
from ispbill.invoicing.models import Invoice, InvoiceStatus
from ispbill.partners.models import Partner, PartnerMode
from ispbill.subscriptions.models import FeeKind, OneTimeCharge, Service

log = logging.getLogger(__name__)

FEE_SETTING = {
    FeeKind.UPGRADE: "fee_upgrade_minor",
    FeeKind.DOWNGRADE: "fee_downgrade_minor",
    FeeKind.DISCONNECTION: "fee_disconnection_minor",
    FeeKind.RECONNECTION: "fee_reconnection_minor",
    FeeKind.LATE_PAYMENT: "fee_late_payment_minor",
}


def fee_issuer(customer: Customer) -> Partner:
    """Whose fee settings apply to a customer: the issuer of its charges (its partner where
    that partner issues its own documents, else the operator, which also invoices an
    aggregated partner for its customers' charges)."""
    partner = Partner.objects.get(pk=customer.partner_id)
    if partner.mode in (PartnerMode.DIRECT, PartnerMode.OWN_INVOICING):
        return partner
    return Partner.objects.get(is_home=True)


def fee_amount_minor(issuer: Partner, kind: str) -> int:
    """The fee the issuer charges for ``kind``: 0 when it charges none (or has no tax rate
    for its fees, which its settings refuse)."""
    if issuer.fee_tax_rate_id is None:
        return 0
    return int(getattr(issuer, FEE_SETTING[FeeKind(kind)]))


def fee_charge(
    *,
    customer: Customer,
    kind: str,
    on: date,
    description: str = "",
    issuer: Partner | None = None,
    service: Service | None = None,
    invoice: Invoice | None = None,
    actor: Any = None,
) -> OneTimeCharge | None:
    """Charge the issuer's fee of ``kind`` to ``customer`` on ``on`` (a one-time charge for
    the next invoice). None when the issuer charges no such fee, or when it was charged
    already (a service's disconnection, an invoice's late payment: once each)."""
    issuer = issuer or fee_issuer(customer)
    amount = fee_amount_minor(issuer, kind)
    if amount <= 0 or issuer.fee_tax_rate_id is None:
        return None
    label = FeeKind(kind).label
    try:
        with transaction.atomic():
            fee = OneTimeCharge.objects.create(
                partner_id=customer.partner_id,
                customer=customer,
                description=(f"{label}: {description}" if description else label)[:200],
                quantity=1,
                unit_price_minor=amount,
                tax_rate_id=issuer.fee_tax_rate_id,
                charge_date=on,
                fee=kind,
                service=service,
                fee_invoice=invoice,
            )
    except IntegrityError:
        return None  # charged already: the database keeps it once
    audit_record(
        action="fee.charged",
        obj=fee,
        actor=actor,
        changes={
            "fee": kind,
            "amount": str(Money.from_minor(amount, issuer.currency)),
            "customer": customer.reference,
        },
    )
    return fee


def reconnection_fee_charge(
    *, customers: list[Customer], actor: Any = None, on: date | None = None
) -> list[OneTimeCharge]:
    """Customers active again after blocking or deactivation: each its issuer's
    reconnection fee. (Sub-customers unblocked along with their aggregated partner's account
    are not charged: the account is.)"""
    day = on or timezone.localdate()
    fees = [
        fee_charge(
            customer=c, kind=FeeKind.RECONNECTION, on=day, description=c.reference, actor=actor
        )
        for c in customers
    ]
    return [f for f in fees if f is not None]


def late_payment_fees_charge(*, today: date) -> list[OneTimeCharge]:
    """Dunning: each open invoice overdue by its issuer's ``late_fee_days`` or more gets the
    issuer's late-payment fee, once (``otc_late_payment_once``), charged to its account for
    the next invoice. Inactive accounts are not billed, so not charged."""
    fees: list[OneTimeCharge] = []
    for issuer in Partner.objects.filter(fee_late_payment_minor__gt=0, fee_tax_rate__isnull=False):
        invoices = (
            Invoice.objects.filter(
                issuer=issuer,
                status__in=[InvoiceStatus.UNPAID, InvoiceStatus.PARTIALLY_PAID],
                due_date__lte=today - timedelta(days=issuer.late_fee_days),
            )
            .exclude(customer__status=CustomerStatus.INACTIVE)
            .filter(
                ~Exists(
                    OneTimeCharge.objects.filter(
                        fee=FeeKind.LATE_PAYMENT, fee_invoice=OuterRef("pk")
                    )
                )
            )
            .select_related("customer")
            .order_by("due_date", "pk")
        )
        for inv in invoices:
            fee = fee_charge(
                customer=inv.customer,
                kind=FeeKind.LATE_PAYMENT,
                on=today,
                description=f"invoice {inv.number} due {inv.due_date.isoformat()}",
                issuer=issuer,
                invoice=inv,
                actor="dunning",
            )
            if fee is not None:
                fees.append(fee)
    if fees:
        log.info("fees.late_payment_charged", extra={"count": len(fees)})
    return fees
