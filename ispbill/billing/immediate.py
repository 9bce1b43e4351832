"""Invoicing at once instead of on the next billing date (DOMAIN.md "Services", "First
period"): a one-time charge when asked, and a new service's first partial period when its
issuer chooses to invoice it on activation."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from ispbill.billing.models import ChargeKind, ChargeRow
from ispbill.billing.modes import billing_context
from ispbill.billing.rating import ServiceTerms, service_rate
from ispbill.core.audit import audit_record
from ispbill.customers.models import Customer
from ispbill.invoicing.issue import InvoiceDraft, invoices_issue
from ispbill.invoicing.models import Invoice, InvoiceKind
from ispbill.partners.models import FirstPeriodBilling, Partner
from ispbill.subscriptions.models import OneTimeCharge, Service


def _context(customer: Customer) -> tuple[Any, Partner]:
    partner = Partner.objects.get(pk=customer.partner_id)
    home = Partner.objects.get(is_home=True)
    ctx = billing_context(customer, partner, home)
    if ctx.held:
        raise ValidationError(
            f"{customer.name}'s charges go on {partner.name}'s aggregated invoice; "
            "they cannot be invoiced to the customer at once."
        )
    return ctx, partner


def _issue_now(customer: Customer, ctx: Any, charges: list[ChargeRow], on: date) -> Invoice | None:
    draft = InvoiceDraft(
        issuer=ctx.issuer,
        account=customer,
        kind=InvoiceKind.ONE_OFF,
        billing_date=None,
        issue_date=on,
        due_days=ctx.payment_due_days,
        charges=charges,
    )
    issued = invoices_issue([draft])
    if not issued.invoices:
        # A zero total is not issued: the charges wait for the next invoice.
        from ispbill.billing.models import charges_insert

        charges_insert(charges)
        return None
    from ispbill.payments.services import credit_apply

    credit_apply(customer_ids=[customer.pk], on=on)
    return Invoice.objects.get(pk=issued.invoices[0].pk)


@transaction.atomic
def one_time_charge_invoice_now(
    *, charge: OneTimeCharge, on: date, actor: Any = None
) -> Invoice | None:
    """Invoice a one-time charge at once, on an invoice of its own."""
    customer = Customer.objects.select_for_update(no_key=True).get(pk=charge.customer_id)
    if charge.charges.exists():
        raise ValidationError("This one-time charge is already on an invoice.")
    ctx, _ = _context(customer)
    from ispbill.billing.run import one_time_charge_row

    row = one_time_charge_row(
        charge=charge, customer=customer, account_id=customer.pk, issuer=ctx.issuer, billing_date=on
    )
    invoice = _issue_now(customer, ctx, [row], on)
    audit_record(
        action="one_time_charge.invoiced",
        obj=charge,
        actor=actor,
        changes={"invoice": invoice.number if invoice else None},
    )
    return invoice


@transaction.atomic
def service_first_period_invoice(
    *, service: Service, on: date, actor: Any = None
) -> Invoice | None:
    """If the issuer invoices first periods on activation and the service starts between
    billing dates: rate and invoice its first partial period now. Otherwise do nothing (the
    next billing date charges it)."""
    customer = Customer.objects.select_for_update(no_key=True).get(pk=service.customer_id)
    s = (
        Service.objects.select_for_update(no_key=True)
        .select_related("tariff__tax_rate")
        .get(pk=service.pk)
    )
    partner = Partner.objects.get(pk=customer.partner_id)
    home = Partner.objects.get(is_home=True)
    ctx = billing_context(customer, partner, home)
    if ctx.held or ctx.issuer.first_period_billing != FirstPeriodBilling.ON_ACTIVATION:
        return None
    if s.charged_through is not None or ctx.cycle.is_billing_date(s.start_date):
        return None
    first_billing = ctx.cycle.on_or_after(s.start_date)
    price = s.price_override_minor if s.price_override_minor is not None else s.tariff.price_minor
    terms = ServiceTerms(
        service_id=s.pk,
        description=s.description or s.tariff.name,
        start_date=s.start_date,
        end_date=s.end_date,
        quantity=s.quantity,
        unit_price_minor=price,
        tariff_period_months=s.tariff.period_months,
        discount_bp=s.discount_bp,
        discount_until=s.discount_until,
    )
    # Postpaid, so only the partial period (it ends the day before the first billing date).
    drafts = [
        d
        for d in service_rate(
            terms=terms,
            cycle=ctx.cycle,
            prepaid=False,
            charged_through=None,
            billing_date=first_billing,
        )
        if d.period.period.end < first_billing
    ]
    if not drafts:
        return None
    rows = [
        ChargeRow(
            partner_id=customer.partner_id,
            issuer_id=ctx.issuer.pk,
            customer_id=customer.pk,
            account_id=customer.pk,
            kind=ChargeKind.RETAIL,
            billing_date=on,
            period_start=d.period.period.start,
            period_end=d.period.period.end,
            description=d.description,
            quantity=d.quantity,
            unit_price_minor=d.unit_price_minor,
            amount_minor=d.amount_minor,
            tax_rate_bp=s.tariff.tax_rate.rate_bp,
            tax_category=s.tariff.tax_rate.category,
            currency=ctx.issuer.currency,
            service_id=s.pk,
            tariff_id=s.tariff_id,
            adjustment=d.adjustment,
        )
        for d in drafts
    ]
    invoice = _issue_now(customer, ctx, rows, on)
    Service.objects.filter(pk=s.pk).update(
        charged_through=drafts[-1].period.period.end + timedelta(days=1)
    )
    audit_record(
        action="service.first_period_invoiced",
        obj=s,
        actor=actor,
        changes={"invoice": invoice.number if invoice else None},
    )
    return invoice
