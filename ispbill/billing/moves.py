"""Moving a customer to another partner, with what the move bills (docs/reseller-modes.md,
"Changing mode or moving a customer").

``customer_partner_move`` is the one entry point of the web page and the API: it moves the
customer (``customer_partner_change``: its services and one-time charges follow it, from
each service's first day not charged yet) and then bills the customer, as the next billing
run will, up to its next billing date on the new partner's cycle, inside a savepoint that is
always rolled back: nothing of that billing stays, but its charges and invoices are read
first. A preview (``commit=False``) rolls the move back too; a move keeps it. So the preview
shows exactly what the move does, by the same code.

What the next billing bills after a move: from each service's first day not charged yet,
on the new partner's cycle (the customer's billing day under a percentage or own-invoicing
partner, the partner's aggregation day and cycle under an aggregated one): the rest of the
period cut by the change, prorated, then the new cycle's next period (prepaid). With an
aggregated partner the charges go on the partner's aggregated invoice, at its prices; with
an own-invoicing partner with wholesale charges, the operator bills the partner wholesale
for the operator tariffs from their first day not charged yet."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ispbill.billing.models import Charge, ChargeKind, ChargeRow
from ispbill.billing.modes import billing_context, wholesale_cycle
from ispbill.billing.run import NOT_ISOLATED, _chunk_bill, _wholesale_charges
from ispbill.customers.models import Customer
from ispbill.invoicing.models import Invoice
from ispbill.partners.changes import PartnerChangeError, customer_partner_change
from ispbill.partners.models import Partner, PartnerMode
from ispbill.subscriptions.models import OneTimeCharge, Service

__all__ = [
    "MoveCharge",
    "MoveInvoice",
    "PartnerChangeError",
    "PartnerMove",
    "customer_partner_move",
    "move_targets",
]

ONE_DAY = timedelta(days=1)
CYCLE_NAMES = {1: "monthly", 3: "quarterly", 6: "half-yearly", 12: "yearly"}


@dataclass(frozen=True)
class MoveCharge:
    """One charge the next billing creates after the move."""

    billing_date: date
    description: str
    period_start: date
    period_end: date
    quantity: int
    unit_price_minor: int
    amount_minor: int
    tax_rate_bp: int
    currency: str
    kind: str  # retail, wholesale
    billed_to: str  # the customer's name, or the partner's account's


@dataclass(frozen=True)
class MoveInvoice:
    """An invoice the next billing issues to the customer after the move (its number is
    given when it is really issued)."""

    issuer: str
    billing_date: date
    issue_date: date
    due_date: date
    currency: str
    net_minor: int
    tax_minor: int
    total_minor: int
    charges: list[MoveCharge]


@dataclass
class PartnerMove:
    customer_id: int
    customer: str
    from_partner_id: int
    from_partner: str
    from_mode: str
    to_partner_id: int
    to_partner: str
    to_mode: str
    committed: bool
    issuer: str  # who invoices the customer's services from now on
    billed_to: str  # the customer itself, or the aggregated partner's account
    cycle: str  # "day 5, monthly"
    next_billing_date: date | None
    invoices: list[MoveInvoice] = field(default_factory=list)
    held: list[MoveCharge] = field(default_factory=list)  # for the aggregated invoice
    wholesale: list[MoveCharge] = field(default_factory=list)  # billed to the partner
    wholesale_billing_date: date | None = None

    @property
    def nothing_billed(self) -> bool:
        return not (self.invoices or self.held or self.wholesale)


class _Preview(Exception):
    def __init__(self, move: PartnerMove) -> None:
        self.move = move


def move_targets(customer: Customer) -> Any:
    """The partners a customer may move to: the active ones but its own."""
    return Partner.objects.filter(is_active=True).exclude(pk=customer.partner_id).order_by("name")


def _check(customer: Customer, partner: Partner) -> None:
    if partner.pk == customer.partner_id:
        raise PartnerChangeError(f"{customer.name} already belongs to {partner.name}.")


def customer_partner_move(
    *, customer: Customer, partner: Partner, commit: bool, actor: Any = None
) -> PartnerMove:
    """Move ``customer`` to ``partner`` (``commit``) or only show what it would do, with
    what the next billing bills after it. Refusals raise ``PartnerChangeError`` (the same
    partner, a disabled partner, an aggregated partner without account, a partner's
    account), nothing written."""
    _check(customer, partner)
    source = Partner.objects.get(pk=customer.partner_id)
    # A copy: a preview must leave the caller's customer as it is.
    copy = Customer.objects.get(pk=customer.pk)
    try:
        with transaction.atomic():
            moved = customer_partner_change(customer=copy, partner=partner, actor=actor)
            result = _what_it_bills(moved, source, commit=commit)
            if not commit:
                raise _Preview(result)
    except _Preview as preview:
        return preview.move
    customer.partner = moved.partner
    return result


def _what_it_bills(c: Customer, source: Partner, *, commit: bool) -> PartnerMove:
    target = Partner.objects.get(pk=c.partner_id)
    home = Partner.objects.get(is_home=True)
    ctx = billing_context(c, target, home)
    account = Customer.objects.get(pk=ctx.account_id)
    cycle = ctx.cycle
    move = PartnerMove(
        customer_id=c.pk,
        customer=c.name,
        from_partner_id=source.pk,
        from_partner=source.name,
        from_mode=source.mode,
        to_partner_id=target.pk,
        to_partner=target.name,
        to_mode=target.mode,
        committed=commit,
        issuer=ctx.issuer.name,
        billed_to=account.name,
        cycle=f"day {cycle.day}, {CYCLE_NAMES[cycle.months]}",
        next_billing_date=None,
    )
    today = timezone.localdate()
    services = list(Service.objects.filter(customer=c))
    starts = [s.start_date for s in services] + list(
        OneTimeCharge.objects.filter(customer=c).values_list("charge_date", flat=True)
    )
    if c.billed_through is not None:
        start_from: date | None = c.billed_through + ONE_DAY
    else:
        start_from = min(starts) if starts else None
    if start_from is None:
        return move  # nothing to bill: no service, no one-time charge
    run_date = cycle.on_or_after(max(today, start_from))
    move.next_billing_date = run_date
    names = dict(Customer.objects.filter(pk__in={c.pk, account.pk}).values_list("pk", "name"))
    savepoint = transaction.savepoint()
    try:
        last_charge = Charge.objects.aggregate(m=Max("pk"))["m"] or 0
        last_invoice = Invoice.objects.aggregate(m=Max("pk"))["m"] or 0
        try:
            _chunk_bill(customer_ids=[c.pk], run_date=run_date, run_id=None)
        except NOT_ISOLATED:
            raise
        except Exception as exc:  # the customer's data or the new partner's settings
            raise PartnerChangeError(
                f"{c.name} cannot be billed under {target.name}: {type(exc).__name__}: {exc}"
            ) from exc
        charges = list(
            Charge.objects.filter(pk__gt=last_charge, customer_id=c.pk).order_by(
                "billing_date", "period_start", "pk"
            )
        )
        by_invoice: dict[int, list[MoveCharge]] = {}
        for ch in charges:
            line = _charge(ch, names.get(ch.account_id, ""))
            if ch.invoice_id is not None:
                by_invoice.setdefault(ch.invoice_id, []).append(line)
            else:
                move.held.append(line)
        for inv in Invoice.objects.filter(pk__gt=last_invoice, customer_id=c.pk).order_by("pk"):
            move.invoices.append(
                MoveInvoice(
                    issuer=ctx.issuer.name,
                    billing_date=inv.billing_date or run_date,
                    issue_date=inv.issue_date,
                    due_date=inv.due_date,
                    currency=inv.currency,
                    net_minor=inv.net_minor,
                    tax_minor=inv.tax_minor,
                    total_minor=inv.total_minor,
                    charges=by_invoice.get(inv.pk, []),
                )
            )
        if (
            target.mode == PartnerMode.OWN_INVOICING
            and target.wholesale_charges
            and target.account_id is not None
        ):
            wcycle = wholesale_cycle(target)
            wdate = wcycle.on_or_after(today)
            wholesale_account = Customer.objects.get(pk=target.account_id)
            rows = _wholesale_charges(
                partner=target, home=home, account=wholesale_account, cycle=wcycle, run_date=wdate
            )
            move.wholesale = [
                _charge(row, wholesale_account.name) for row in rows if row.customer_id == c.pk
            ]
            move.wholesale_billing_date = wdate if move.wholesale else None
    finally:
        transaction.savepoint_rollback(savepoint)
    return move


def _charge(ch: Charge | ChargeRow, billed_to: str) -> MoveCharge:
    return MoveCharge(
        billing_date=ch.billing_date,
        description=ch.description,
        period_start=ch.period_start,
        period_end=ch.period_end,
        quantity=ch.quantity,
        unit_price_minor=ch.unit_price_minor,
        amount_minor=ch.amount_minor,
        tax_rate_bp=ch.tax_rate_bp,
        currency=ch.currency,
        kind=ChargeKind(ch.kind).value,
        billed_to=billed_to,
    )
