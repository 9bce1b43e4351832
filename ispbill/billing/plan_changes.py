"""Changing a service's plan (docs/billing.md "Changing plan").

A change moves a service to another tariff from its effective date: today, a later date, or
the customer's next billing date. Asked for today, it is applied at once; for later, it is
scheduled (one per service), shown on the service, cancellable, and applied by the daily
work on its day (``plan_changes_apply_due``).

Applying it, in one transaction under the customer's and the service's locks:

- ``plan_rating.change_plan`` says what to give back and what to charge; each credit is a
  negative charge naming the charge it gives back (``credit_of``), which is marked credited
  from the effective day (``credited_from``). Where the issuer credits by credit note and
  that charge is invoiced, a credit note credits its invoice line; otherwise the credit is a
  negative line on the next invoice;
- the new tariff's charges, and the old tariff's days not charged yet, are charges like the
  run's: the same (service, period) guard holds them once;
- an own-invoicing partner's wholesale charges follow the same way; an aggregated partner's
  customer is rated at the partner's prices and its charges wait for the partner's invoice;
- the issuer's upgrade or downgrade fee is a one-time charge;
- where the issuer invoices changes at once, what the change charged (and its credits, when
  they are negative lines) goes on an invoice of its own now, else on the next invoice;
- the service takes the new tariff, and its RADIUS rows the new speeds, in this
  transaction; a CoA tells the live sessions after the commit.

``plan_change_preview`` runs exactly this in a transaction it rolls back, and returns what
it wrote: the preview and the change are one code path."""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ispbill.billing.fees import fee_charge
from ispbill.billing.models import (
    BillingFailure,
    Charge,
    ChargeKind,
    FailureStage,
    PlanChange,
    PlanChangeStatus,
    charge_rows,
)
from ispbill.billing.modes import (
    BillingContext,
    billing_context,
    wholesale_cycle,
    wholesale_price_minor,
)
from ispbill.billing.plan_rating import ChangePlan, ChargedSpan, change_plan
from ispbill.billing.rating import ChargeDraft, ServiceTerms
from ispbill.billing.run import NOT_ISOLATED, failure_record, one_time_charge_row
from ispbill.catalog.models import PartnerPrice, Tariff, TariffKind
from ispbill.core.audit import audit_record
from ispbill.core.errors import DomainValidationError
from ispbill.core.money import Money
from ispbill.core.periods import Cycle
from ispbill.customers.models import Customer, CustomerStatus
from ispbill.invoicing.issue import InvoiceDraft, invoices_issue
from ispbill.invoicing.models import CreditNoteLine, Invoice, InvoiceKind, InvoiceLine
from ispbill.partners.models import ChangeCredit, ChangeInvoicing, Partner, PartnerMode
from ispbill.payments.credit_notes import credit_note_issue
from ispbill.payments.services import credit_apply
from ispbill.subscriptions.models import FeeKind, OneTimeCharge, Service, ServiceStatus
from ispbill.subscriptions.signals import services_changed

log = logging.getLogger(__name__)

TODAY = "today"
NEXT_BILLING_DATE = "next_billing_date"


class PlanChangeError(DomainValidationError):
    """A plan change that cannot be made as asked; the message says why."""


# -- what may be asked ------------------------------------------------------------------------


def plan_change_tariffs(*, service: Service, portal: bool = False) -> QuerySet[Tariff]:
    """The tariffs a service may move to: those its customer's partner sells (its own, or
    the operator's made available to it), still sold, of the same kind (internet stays
    internet), other than its own. In the portal, only those marked for customers."""
    partner = Partner.objects.get(pk=service.partner_id)
    allowed = Q(partner_id=partner.pk)
    if not partner.is_home:
        allowed |= Q(partner__is_home=True, available_to=partner)
    current = Tariff._base_manager.get(pk=service.tariff_id)
    kinds = (
        [TariffKind.INTERNET]
        if current.kind == TariffKind.INTERNET
        else [TariffKind.RECURRING, TariffKind.INTERNET]
    )
    # The base manager with an explicit filter: an operator tariff lies outside a partner's
    # scope, yet the partner sells it (as ``catalog.selectors.tariff_sellable``).
    qs = (
        Tariff._base_manager.filter(allowed, is_active=True, kind__in=kinds)
        .exclude(pk=service.tariff_id)
        .distinct()
        .order_by("price_minor", "name", "pk")
    )
    if portal:
        qs = qs.filter(customer_selectable=True)
    return qs


def service_context(customer: Customer) -> tuple[BillingContext, Partner, Partner]:
    partner = Partner.objects.get(pk=customer.partner_id)
    home = Partner.objects.get(is_home=True)
    return billing_context(customer, partner, home), partner, home


def plan_change_effective_date(*, service: Service, when: str | date, today: date) -> date:
    """``today``, ``next_billing_date`` (the customer's next billing date after today) or a
    date."""
    if isinstance(when, date):
        return when
    if when == TODAY:
        return today
    if when == NEXT_BILLING_DATE:
        customer = Customer.objects.get(pk=service.customer_id)
        ctx, _, _ = service_context(customer)
        return ctx.cycle.after(today)
    raise PlanChangeError(
        "Choose when the change takes effect: today, the next billing date or a date.",
        fields={"effective": "Choose today, the next billing date or a date."},
    )


def portal_plan_change_allowed(customer: Customer) -> bool:
    """Whether the customer's issuer lets its customers change plan in the portal. Never an
    aggregated partner's customer: it is billed through its partner, at the partner's
    prices, which are not the customer's to see."""
    ctx, _, _ = service_context(customer)
    return bool(ctx.issuer.portal_plan_change) and not ctx.held


def _check(
    *,
    service: Service,
    customer: Customer,
    tariff: Tariff,
    effective: date,
    today: date,
    portal: bool,
) -> None:
    if service.status != ServiceStatus.ACTIVE:
        raise PlanChangeError(
            f"The service is {service.get_status_display().lower()}: only an active service "
            "changes plan. Resume it first."
        )
    if customer.status == CustomerStatus.INACTIVE:
        raise PlanChangeError(
            f"{customer.name} is inactive and no longer billed: reactivate the customer first."
        )
    if portal and not portal_plan_change_allowed(customer):
        raise PlanChangeError("Plan changes are not offered here; please contact us.")
    if not plan_change_tariffs(service=service, portal=portal).filter(pk=tariff.pk).exists():
        raise PlanChangeError(
            f"{tariff.name} is not a tariff this service can move to.",
            fields={"tariff_id": "Choose one of the tariffs offered for this service."},
        )
    if effective < today:
        raise PlanChangeError(
            "A plan change takes effect today or later.",
            fields={"effective": "Choose today or a later date."},
        )
    if service.end_date is not None and effective > service.end_date:
        raise PlanChangeError(
            f"The service ends on {service.end_date.isoformat()}; choose a date up to then.",
            fields={"effective": f"Choose a date up to {service.end_date.isoformat()}."},
        )
    scheduled = PlanChange.objects.filter(service=service, status=PlanChangeStatus.SCHEDULED)
    if scheduled.exists():
        other = scheduled.first()
        assert other is not None
        raise PlanChangeError(
            f"A change to {other.new_tariff.name} is scheduled for "
            f"{other.effective_date.isoformat()}; cancel it first to ask for another."
        )
    last = (
        PlanChange.objects.filter(service=service, status=PlanChangeStatus.APPLIED)
        .order_by("-effective_date")
        .values_list("effective_date", flat=True)
        .first()
    )
    if last is not None and effective < last:
        raise PlanChangeError(
            f"The service changed plan from {last.isoformat()}; a new change takes effect "
            "that day or later.",
            fields={"effective": f"Choose {last.isoformat()} or a later date."},
        )


# -- what a change did ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeLine:
    """One credit or charge of a change, as shown before and after confirming."""

    kind: str  # "credit", "charge" or "fee"
    description: str
    period_start: date | None
    period_end: date | None
    amount_minor: int  # negative for a credit
    settled_by: str  # "credit note", "invoice now", "next invoice", "partner's invoice"
    wholesale: bool = False  # billed to an own-invoicing partner, not to the customer


@dataclass(frozen=True)
class DocumentFigures:
    kind: str  # "credit note" or "invoice"
    reference: str  # the invoice credited, or "" for the invoice issued now
    net_minor: int
    tax_minor: int
    total_minor: int
    wholesale: bool = False  # to an own-invoicing partner, not to the customer


@dataclass
class PlanChangeOutcome:
    """What a change credited and charged, in plain values (a preview's rows are gone)."""

    service_id: int
    old_tariff: str
    new_tariff: str
    effective_date: date
    currency: str
    lines: list[ChangeLine] = field(default_factory=list)
    documents: list[DocumentFigures] = field(default_factory=list)
    new_price_minor: int = 0  # the new tariff's price per period for this customer
    new_period_months: int = 1
    change_id: int | None = None
    status: str = PlanChangeStatus.SCHEDULED

    @property
    def customer_lines(self) -> list[ChangeLine]:
        return [line for line in self.lines if not line.wholesale]

    def for_customer(self) -> PlanChangeOutcome:
        """What the customer sees: without what its partner is billed wholesale."""
        return dataclasses.replace(
            self,
            lines=self.customer_lines,
            documents=[d for d in self.documents if not d.wholesale],
        )

    @property
    def credited_minor(self) -> int:
        return -sum(x.amount_minor for x in self.customer_lines if x.amount_minor < 0)

    @property
    def charged_minor(self) -> int:
        return sum(x.amount_minor for x in self.customer_lines if x.amount_minor > 0)

    @property
    def net_minor(self) -> int:
        return sum(x.amount_minor for x in self.customer_lines)


# -- applying ---------------------------------------------------------------------------------


def _tariff_months(ids: set[int]) -> dict[int, int]:
    return dict(Tariff._base_manager.filter(pk__in=ids).values_list("pk", "period_months"))


def live_spans(service: Service, kind: str, effective: date) -> tuple[list[Charge], dict[int, int]]:
    """The service's charges of ``kind`` holding days from ``effective`` on, not credited."""
    charges = list(
        Charge.objects.filter(
            service=service,
            kind=kind,
            credit_of__isnull=True,
            credited_from__isnull=True,
            period_end__gte=effective,
        ).order_by("period_start", "pk")
    )
    return charges, _tariff_months({c.tariff_id for c in charges if c.tariff_id})


def charged_spans(charges: list[Charge], months: dict[int, int]) -> list[ChargedSpan]:
    return [
        ChargedSpan(
            c.pk,
            c.period_start,
            c.period_end,
            c.unit_price_minor,
            c.quantity,
            c.amount_minor,
            months.get(c.tariff_id or 0, 1),
        )
        for c in charges
    ]


def service_terms(service: Service, tariff: Tariff, price: int, description: str) -> ServiceTerms:
    return ServiceTerms(
        service_id=service.pk,
        description=description,
        start_date=service.start_date,
        end_date=service.end_date,
        quantity=service.quantity,
        unit_price_minor=price,
        tariff_period_months=tariff.period_months,
        discount_bp=service.discount_bp,
        discount_until=service.discount_until,
    )


def wholesale_price(tariff: Tariff, partner: Partner) -> int:
    price = PartnerPrice.objects.filter(partner=partner, tariff=tariff).first()
    return wholesale_price_minor(
        retail_minor=tariff.price_minor,
        partner_price_minor=price.price_minor if price else None,
        discount_bp=partner.discount_bp,
    )


@dataclass
class _Written:
    """The rows a change wrote, to settle and to report."""

    credits: list[tuple[Charge, Charge]] = field(default_factory=list)  # (credit, credited)
    charges: list[Charge] = field(default_factory=list)


def _write_plan(
    *,
    plan: ChangePlan,
    change: PlanChange,
    service: Service,
    credited: dict[int, Charge],
    kind: str,
    account_id: int,
    issuer: Partner,
    old_tariff: Tariff,
    new_tariff: Tariff | None,
    on: date,
) -> _Written:
    out = _Written()
    for credit in plan.credits:
        original = credited[credit.charge_id]
        marked = Charge.objects.filter(pk=original.pk, credited_from__isnull=True).update(
            credited_from=credit.period.start
        )
        if marked != 1:
            raise PlanChangeError("The service's charges changed meanwhile; try again.")
        if credit.amount_minor <= 0:
            continue
        row = Charge(
            partner_id=original.partner_id,
            issuer_id=original.issuer_id,
            customer_id=original.customer_id,
            account_id=original.account_id,
            kind=original.kind,
            service_id=original.service_id,
            tariff_id=original.tariff_id,
            billing_date=on,
            period_start=credit.period.start,
            period_end=credit.period.end,
            description=f"{original.description} (credit for days not used)"[:300],
            quantity=original.quantity,
            unit_price_minor=original.unit_price_minor,
            amount_minor=-credit.amount_minor,
            tax_rate_bp=original.tax_rate_bp,
            tax_category=original.tax_category,
            currency=original.currency,
            credit_of_id=original.pk,
            plan_change=change,
        )
        out.credits.append((row, original))

    def charge(d: ChargeDraft, tariff: Tariff) -> Charge:
        tax = tariff.tax_rate
        return Charge(
            partner_id=service.partner_id,
            issuer_id=issuer.pk,
            customer_id=service.customer_id,
            account_id=account_id,
            kind=kind,
            service_id=service.pk,
            tariff_id=tariff.pk,
            billing_date=on,
            period_start=d.period.period.start,
            period_end=d.period.period.end,
            description=d.description[:300],
            quantity=d.quantity,
            unit_price_minor=d.unit_price_minor,
            amount_minor=d.amount_minor,
            tax_rate_bp=tax.rate_bp,
            tax_category=tax.category,
            currency=issuer.currency,
            plan_change=change,
        )

    out.charges.extend(charge(d, old_tariff) for d in plan.closing)
    if new_tariff is not None:
        out.charges.extend(charge(d, new_tariff) for d in plan.charges)
    Charge.objects.bulk_create([row for row, _ in out.credits] + out.charges)
    return out


def _credit_by_credit_notes(
    written: list[tuple[Charge, Charge]], *, on: date, reason: str, actor: Any
) -> list[tuple[Charge, Any]]:
    """Credit-note the credits whose charge is invoiced, where its issuer credits by credit
    note: one credit note per invoice, a line per credited invoice line (at most what is
    left of it). Returns the credits settled and their credit notes."""
    issuers = {p.pk: p for p in Partner.objects.all()}
    by_invoice: dict[int, list[tuple[Charge, Charge]]] = defaultdict(list)
    for credit, original in written:
        issuer = issuers[original.issuer_id]
        if original.invoice_id and issuer.plan_change_credit == ChangeCredit.CREDIT_NOTE:
            by_invoice[original.invoice_id].append((credit, original))
    settled: list[tuple[Charge, Any]] = []
    for invoice_id, pairs in sorted(by_invoice.items()):
        invoice = Invoice.objects.get(pk=invoice_id)
        lines = list(InvoiceLine.objects.filter(invoice=invoice))
        left = {line.pk: line.amount_minor for line in lines}
        for line_id, amount in CreditNoteLine.objects.filter(
            credit_note__invoice=invoice, invoice_line__isnull=False
        ).values_list("invoice_line_id", "amount_minor"):
            left[line_id] -= amount
        wanted: dict[int, int] = defaultdict(int)
        chosen: list[tuple[Charge, int, int]] = []
        for credit, original in pairs:
            # The invoice line that copied the charge: lines carry no charge id, so the one
            # with the same tariff, period, amount and text (and sub-customer, on an
            # aggregated or wholesale invoice whose lines carry one) with the most left to
            # credit.
            same = [
                line
                for line in lines
                if line.tariff_id == original.tariff_id
                and line.period_start == original.period_start
                and line.period_end == original.period_end
                and line.amount_minor == original.amount_minor
                and line.quantity == original.quantity
                and line.description == original.description
                and line.section_customer_id in (None, original.customer_id)
            ]
            if not same:
                continue  # not found: stays a negative line on the next invoice
            line = max(same, key=lambda x: (left[x.pk] - wanted[x.pk], -x.position))
            amount = min(-credit.amount_minor, left[line.pk] - wanted[line.pk])
            if amount <= 0:
                # Credited in full by hand already: nothing more to give back.
                Charge.objects.filter(pk=credit.pk).delete()
                credit.amount_minor = 0
                continue
            wanted[line.pk] += amount
            chosen.append((credit, line.pk, amount))
        if not wanted:
            continue
        cn = credit_note_issue(
            invoice=invoice, on=on, reason=reason, lines=dict(wanted), actor=actor
        )
        for credit, _, amount in chosen:
            if amount != -credit.amount_minor:
                credit.amount_minor = -amount
            credit.credit_note_id = cn.pk
            Charge.objects.filter(pk=credit.pk).update(
                credit_note_id=cn.pk, amount_minor=credit.amount_minor
            )
            settled.append((credit, cn))
    return settled


def _fee_kind(old: Tariff, new: Tariff) -> str | None:
    """Upgrade or downgrade by price per month (retail), none for the same price."""
    before = old.price_minor * new.period_months
    after = new.price_minor * old.period_months
    if after > before:
        return FeeKind.UPGRADE
    if after < before:
        return FeeKind.DOWNGRADE
    return None


def _invoice_at_once(
    *,
    customer: Customer,
    ctx: BillingContext,
    charges: list[Charge],
    fee: OneTimeCharge | None,
    on: date,
) -> Invoice | None:
    """An invoice of its own for what the change charged (and credited by negative line),
    issued now. A total not above zero is not issued: the rows wait for the next invoice."""
    rows: list[Any] = charge_rows(
        Charge.objects.filter(pk__in=[c.pk for c in charges]).order_by("pk")
    )
    if fee is not None:
        rows.append(
            one_time_charge_row(
                charge=OneTimeCharge.objects.select_related("tax_rate").get(pk=fee.pk),
                customer=customer,
                account_id=customer.pk,
                issuer=ctx.issuer,
                billing_date=on,
            )
        )
    if not rows:
        return None
    draft = InvoiceDraft(
        issuer=ctx.issuer,
        account=customer,
        kind=InvoiceKind.ONE_OFF,
        billing_date=None,
        issue_date=on,
        due_days=ctx.payment_due_days,
        charges=rows,
    )
    issued = invoices_issue([draft])
    if not issued.invoices:
        return None
    return Invoice.objects.get(pk=issued.invoices[0].pk)


def _description(service: Service, old: Tariff, new: Tariff) -> str:
    """The service's text after the change: the new tariff's name where it showed the old
    one's, else as it was."""
    if service.description == old.name:
        return new.name
    return service.description


def _apply(change: PlanChange, *, on: date, actor: Any) -> PlanChangeOutcome:
    customer = Customer.objects.select_for_update(no_key=True).get(pk=change.customer_id)
    ctx, partner, home = service_context(customer)
    wholesale = (
        partner.mode == PartnerMode.OWN_INVOICING
        and partner.wholesale_charges
        and partner.account_id is not None
    )
    if wholesale:
        # Before the service, as the aggregation phase (partner, then its services' pointers).
        Partner.objects.select_for_update(no_key=True).get(pk=partner.pk)
    service = Service.objects.select_for_update(no_key=True).get(pk=change.service_id)
    old_tariff = Tariff._base_manager.select_related("tax_rate").get(pk=service.tariff_id)
    new_tariff = Tariff._base_manager.select_related("tax_rate").get(pk=change.new_tariff_id)
    effective = change.effective_date
    reason = (
        f"Plan change of {service.description or old_tariff.name}: {old_tariff.name} to "
        f"{new_tariff.name} from {effective.isoformat()}"
    )
    new_description = _description(service, old_tariff, new_tariff)
    old_text = service.description or old_tariff.name
    new_text = new_description or new_tariff.name
    if ctx.wholesale_pricing:
        old_price = wholesale_price(old_tariff, partner)
        new_price = wholesale_price(new_tariff, partner)
    else:
        old_price = (
            service.price_override_minor
            if service.price_override_minor is not None
            else old_tariff.price_minor
        )
        new_price = new_tariff.price_minor  # a price override was for the old tariff
    charges, months = live_spans(service, ChargeKind.RETAIL, effective)
    plan = change_plan(
        old=service_terms(service, old_tariff, old_price, old_text),
        new=service_terms(service, new_tariff, new_price, new_text),
        cycle=ctx.cycle,
        prepaid=ctx.prepaid,
        charged_through=service.charged_through,
        charged=charged_spans(charges, months),
        effective=effective,
    )
    retail = _write_plan(
        plan=plan,
        change=change,
        service=service,
        credited={c.pk: c for c in charges},
        kind=ChargeKind.RETAIL,
        account_id=ctx.account_id,
        issuer=ctx.issuer,
        old_tariff=old_tariff,
        new_tariff=new_tariff,
        on=on,
    )
    service.tariff = new_tariff
    service.price_override_minor = None
    service.description = new_description
    service.charged_through = plan.charged_through
    update = ["tariff", "price_override_minor", "description", "charged_through"]

    wholesale_written = _Written()
    if wholesale:
        wholesale_written, pointer = _wholesale_change(
            change=change,
            service=service,
            partner=partner,
            home=home,
            old_tariff=old_tariff,
            new_tariff=new_tariff,
            texts=(old_text, new_text),
            on=on,
        )
        service.wholesale_charged_through = pointer
        update.append("wholesale_charged_through")
    service.save(update_fields=update)

    fee = None
    kind = _fee_kind(old_tariff, new_tariff)
    if kind is not None:
        fee = fee_charge(
            customer=customer,
            kind=kind,
            on=on,
            description=f"{old_tariff.name} to {new_tariff.name}",
            issuer=ctx.issuer,
            service=service,
            actor=actor,
        )

    credit_notes = _credit_by_credit_notes(
        retail.credits + wholesale_written.credits, on=on, reason=reason, actor=actor
    )
    settled = {credit.pk for credit, _ in credit_notes}
    invoice = None
    if (
        not ctx.held
        and ctx.issuer.plan_change_invoicing == ChangeInvoicing.AT_ONCE
        and (retail.charges or retail.credits or fee is not None)
    ):
        now_rows = [c for c, _ in retail.credits if c.pk not in settled and c.amount_minor]
        invoice = _invoice_at_once(
            customer=customer, ctx=ctx, charges=now_rows + retail.charges, fee=fee, on=on
        )
    if credit_notes or invoice is not None:
        credit_apply(customer_ids=[customer.pk], on=on)

    services_changed.send(sender=Service, service_ids=[service.pk])
    change.status = PlanChangeStatus.APPLIED
    change.applied_at = timezone.now()
    change.fee = fee
    change.invoice = invoice
    change.old_tariff = old_tariff
    change.save(update_fields=["status", "applied_at", "fee", "invoice", "old_tariff"])

    outcome = _outcome(
        change=change,
        customer=customer,
        ctx=ctx,
        retail=retail,
        wholesale=wholesale_written,
        credit_notes=credit_notes,
        invoice=invoice,
        fee=fee,
        new_price=new_price,
        new_tariff=new_tariff,
    )
    audit_record(
        action="plan_change.applied",
        obj=change,
        actor=actor,
        changes={
            "service": service.pk,
            "tariff": {"before": old_tariff.name, "after": new_tariff.name},
            "effective_date": effective.isoformat(),
            "credited": str(Money.from_minor(outcome.credited_minor, outcome.currency)),
            "charged": str(Money.from_minor(outcome.charged_minor, outcome.currency)),
            "credit_notes": [cn.number for cn in {cn.pk: cn for _, cn in credit_notes}.values()],
            "invoice": invoice.number if invoice else None,
        },
    )
    return outcome


def _wholesale_change(
    *,
    change: PlanChange,
    service: Service,
    partner: Partner,
    home: Partner,
    old_tariff: Tariff,
    new_tariff: Tariff,
    texts: tuple[str, str],
    on: date,
) -> tuple[_Written, date | None]:
    """An own-invoicing partner billed wholesale for its customers' operator tariffs: the
    old tariff's wholesale charges from the effective day are given back and the new one's
    charged, at partner prices on the partner's cycle (always in advance, as the
    aggregation phase rates them). A tariff of the partner's own is not billed wholesale."""
    old_billed = old_tariff.partner_id == home.pk
    new_billed = new_tariff.partner_id == home.pk
    effective = max(change.effective_date, service.start_date)
    if not old_billed:
        # Nothing of this service was billed wholesale: from the change on, it is.
        return _Written(), effective if new_billed else service.wholesale_charged_through
    cycle: Cycle = wholesale_cycle(partner)
    charges, months = live_spans(service, ChargeKind.WHOLESALE, effective)
    plan = change_plan(
        old=service_terms(service, old_tariff, wholesale_price(old_tariff, partner), texts[0]),
        new=(
            service_terms(service, new_tariff, wholesale_price(new_tariff, partner), texts[1])
            if new_billed
            else None
        ),
        cycle=cycle,
        prepaid=True,
        charged_through=service.wholesale_charged_through,
        charged=charged_spans(charges, months),
        effective=effective,
    )
    written = _write_plan(
        plan=plan,
        change=change,
        service=service,
        credited={c.pk: c for c in charges},
        kind=ChargeKind.WHOLESALE,
        account_id=partner.account_id or 0,
        issuer=home,
        old_tariff=old_tariff,
        new_tariff=new_tariff if new_billed else None,
        on=on,
    )
    return written, plan.charged_through


def _outcome(
    *,
    change: PlanChange,
    customer: Customer,
    ctx: BillingContext,
    retail: _Written,
    wholesale: _Written,
    credit_notes: list[tuple[Charge, Any]],
    invoice: Invoice | None,
    fee: OneTimeCharge | None,
    new_price: int,
    new_tariff: Tariff,
) -> PlanChangeOutcome:
    settled = {credit.pk: cn for credit, cn in credit_notes}
    invoiced = set()
    if invoice is not None:
        invoiced = set(Charge.objects.filter(invoice=invoice).values_list("pk", flat=True))
    waiting = "partner's invoice" if ctx.held else "next invoice"
    outcome = PlanChangeOutcome(
        service_id=change.service_id,
        old_tariff=change.old_tariff.name,
        new_tariff=new_tariff.name,
        effective_date=change.effective_date,
        currency=ctx.issuer.currency,
        new_price_minor=new_price,
        new_period_months=new_tariff.period_months,
        change_id=change.pk,
        status=change.status,
    )

    def settled_by(row: Charge, is_wholesale: bool) -> str:
        if row.pk in settled:
            return "credit note"
        if row.pk in invoiced:
            return "invoice now"
        return "partner's invoice" if is_wholesale else waiting

    for written, is_wholesale in ((retail, False), (wholesale, True)):
        for credit, _ in written.credits:
            if credit.amount_minor:
                outcome.lines.append(
                    ChangeLine(
                        "credit",
                        credit.description,
                        credit.period_start,
                        credit.period_end,
                        credit.amount_minor,
                        settled_by(credit, is_wholesale),
                        is_wholesale,
                    )
                )
        for row in written.charges:
            outcome.lines.append(
                ChangeLine(
                    "charge",
                    row.description,
                    row.period_start,
                    row.period_end,
                    row.amount_minor,
                    settled_by(row, is_wholesale),
                    is_wholesale,
                )
            )
    if fee is not None:
        on_invoice = invoice is not None and fee.charges.filter(invoice=invoice).exists()
        outcome.lines.append(
            ChangeLine(
                "fee",
                fee.description,
                fee.charge_date,
                fee.charge_date,
                fee.unit_price_minor * fee.quantity,
                "invoice now" if on_invoice else waiting,
            )
        )
    for cn in {cn.pk: cn for cn in settled.values()}.values():
        outcome.documents.append(
            DocumentFigures(
                "credit note",
                cn.invoice.number,
                cn.net_minor,
                cn.tax_minor,
                cn.total_minor,
                wholesale=cn.customer_id != customer.pk,
            )
        )
    if invoice is not None:
        outcome.documents.append(
            DocumentFigures(
                "invoice", "", invoice.net_minor, invoice.tax_minor, invoice.total_minor
            )
        )
    return outcome


# -- the operations -------------------------------------------------------------------------


def _actor_label(actor: Any) -> str:
    return str(getattr(actor, "username", None) or actor or "system")[:150]


@transaction.atomic
def plan_change_request(
    *,
    service: Service,
    tariff: Tariff,
    effective: date,
    actor: Any = None,
    portal: bool = False,
    today: date | None = None,
) -> tuple[PlanChange, PlanChangeOutcome | None]:
    """Ask for a plan change: applied at once when it takes effect today, else scheduled.
    Returns the change and, when applied, what it credited and charged."""
    day = today or timezone.localdate()
    customer = Customer.objects.select_for_update(no_key=True).get(pk=service.customer_id)
    locked = Service.objects.select_for_update(no_key=True).get(pk=service.pk)
    _check(
        service=locked,
        customer=customer,
        tariff=tariff,
        effective=effective,
        today=day,
        portal=portal,
    )
    change = PlanChange.objects.create(
        partner_id=locked.partner_id,
        customer=customer,
        service=locked,
        old_tariff_id=locked.tariff_id,
        new_tariff=tariff,
        effective_date=effective,
        requested_by=_actor_label(actor),
        via_portal=portal,
    )
    audit_record(
        action="plan_change.requested",
        obj=change,
        actor=actor,
        changes={
            "service": locked.pk,
            "tariff": {"before": change.old_tariff.name, "after": tariff.name},
            "effective_date": effective.isoformat(),
            "portal": portal,
        },
    )
    if effective <= day:
        return change, _apply(change, on=day, actor=actor)
    return change, None


class _PreviewRollback(Exception):
    def __init__(self, outcome: PlanChangeOutcome) -> None:
        self.outcome = outcome


def plan_change_preview(
    *,
    service: Service,
    tariff: Tariff,
    effective: date,
    actor: Any = None,
    portal: bool = False,
    today: date | None = None,
) -> PlanChangeOutcome:
    """What the change would credit and charge, with every check of the real one: the same
    request and application, in a transaction rolled back (nothing is kept, not a number).
    A change for a later day is shown as if it took effect on that day with what is charged
    now; billing until then is accounted when it takes effect."""
    day = today or timezone.localdate()
    try:
        with transaction.atomic():
            change, outcome = plan_change_request(
                service=service,
                tariff=tariff,
                effective=effective,
                actor=actor,
                portal=portal,
                today=day,
            )
            if outcome is None:
                outcome = _apply(change, on=day, actor=actor)
            outcome.change_id = None
            outcome.status = "preview"
            raise _PreviewRollback(outcome)
    except _PreviewRollback as rollback:
        return rollback.outcome


@transaction.atomic
def plan_change_apply(*, change: PlanChange, on: date, actor: Any = None) -> PlanChangeOutcome:
    """Apply a scheduled change whose day has come (the daily work, or by hand)."""
    locked = PlanChange.objects.select_for_update().get(pk=change.pk)
    if locked.status != PlanChangeStatus.SCHEDULED:
        raise PlanChangeError(f"This plan change is {locked.get_status_display().lower()}.")
    if locked.effective_date > on:
        raise PlanChangeError(
            f"This plan change takes effect on {locked.effective_date.isoformat()}."
        )
    return _apply(locked, on=on, actor=actor)


@transaction.atomic
def plan_change_cancel(*, change: PlanChange, actor: Any = None, reason: str = "") -> PlanChange:
    """Cancel a scheduled change (until it takes effect)."""
    locked = PlanChange.objects.select_for_update().get(pk=change.pk)
    if locked.status != PlanChangeStatus.SCHEDULED:
        raise PlanChangeError(
            f"This plan change is {locked.get_status_display().lower()}; only a scheduled "
            "change can be cancelled."
        )
    locked.status = PlanChangeStatus.CANCELLED
    locked.cancelled_at = timezone.now()
    locked.cancelled_by = _actor_label(actor)
    locked.save(update_fields=["status", "cancelled_at", "cancelled_by"])
    audit_record(
        action="plan_change.cancelled",
        obj=locked,
        actor=actor,
        changes={
            "service": locked.service_id,
            "effective_date": locked.effective_date.isoformat(),
            "reason": reason or "by hand",
        },
    )
    return locked


def _not_applicable(change: PlanChange) -> str:
    """Why a scheduled change can no longer be applied (its service stopped, ...), or ""."""
    service = change.service
    if service.status != ServiceStatus.ACTIVE:
        return f"the service is {service.get_status_display().lower()}"
    if service.customer.status == CustomerStatus.INACTIVE:
        return "the customer is inactive"
    if service.end_date is not None and change.effective_date > service.end_date:
        return f"the service ended on {service.end_date.isoformat()}"
    return ""


@dataclass
class DueResult:
    applied: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    failures: list[Any] = field(default_factory=list)


def plan_changes_apply_due(*, on: date) -> DueResult:
    """The daily work: apply every scheduled change whose day has come, each in its own
    transaction. One that can no longer apply (its service stopped or paused, its customer
    inactive) is cancelled with the reason; one that fails is recorded and retried the next
    day, and the others go on."""
    result = DueResult()
    # This run retries what failed in the last one; what fails again is recorded anew.
    BillingFailure.objects.filter(stage=FailureStage.PLAN_CHANGE, resolved_at__isnull=True).update(
        resolved_at=timezone.now()
    )
    due = list(
        PlanChange.objects.filter(status=PlanChangeStatus.SCHEDULED, effective_date__lte=on)
        .order_by("effective_date", "pk")
        .values_list("pk", flat=True)
    )
    for pk in due:
        change = PlanChange.objects.select_related("service__customer").get(pk=pk)
        why = _not_applicable(change)
        try:
            if why:
                plan_change_cancel(change=change, actor="daily work", reason=why)
                result.cancelled.append(pk)
            else:
                plan_change_apply(change=change, on=on, actor="daily work")
                result.applied.append(pk)
        except NOT_ISOLATED:
            raise
        except Exception as exc:
            result.failures.append(
                failure_record(
                    run_id=None,
                    stage=FailureStage.PLAN_CHANGE,
                    partner_id=change.partner_id,
                    customer_id=change.customer_id,
                    exc=exc,
                )
            )
    if due:
        log.info(
            "plan_changes.applied",
            extra={
                "applied": len(result.applied),
                "cancelled": len(result.cancelled),
                "failed": len(result.failures),
            },
        )
    return result


def plan_change_outcome(change: PlanChange) -> PlanChangeOutcome | None:
    """What an applied change credited and charged, read back from its rows."""
    if change.status != PlanChangeStatus.APPLIED:
        return None
    customer = Customer.objects.get(pk=change.customer_id)
    ctx, _, _ = service_context(customer)
    retail, wholesale = _Written(), _Written()
    credit_notes: list[tuple[Charge, Any]] = []
    for row in Charge.objects.filter(plan_change=change).order_by("pk"):
        target = wholesale if row.kind == ChargeKind.WHOLESALE else retail
        if row.credit_of_id is not None:
            target.credits.append((row, row))
            if row.credit_note_id is not None:
                credit_notes.append((row, row.credit_note))
        else:
            target.charges.append(row)
    return _outcome(
        change=change,
        customer=customer,
        ctx=ctx,
        retail=retail,
        wholesale=wholesale,
        credit_notes=credit_notes,
        invoice=change.invoice,
        fee=change.fee,
        new_price=0,
        new_tariff=change.new_tariff,
    )
