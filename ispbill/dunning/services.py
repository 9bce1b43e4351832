"""Dunning, as Splynx: overdue -> blocked -> inactive, and back to active on payment.

- An invoice is overdue the day after its due date.
- ``blocking_days`` after the due date (None: never) the customer is blocked: services
  suspended, still billed. A payment that clears every overdue invoice unblocks at once.
- ``deactivation_days`` after the due date (None: never) the customer becomes inactive:
  no longer billed.
- A customer whose balance stays below its minimum balance past a due date is blocked.
- Reminders go out on the issuer's reminder days after the due date (default 3, 5, 7).
- An aggregated partner's account blocked or deactivated takes its sub-customers with it
  (blocked) when the partner is set so (``block_subcustomers``); its payment brings them
  back (``ispbill.payments.reinstate``).
- ``dunning_run(dry_run=True)`` is the run itself, rolled back: the preview of the web page,
  the API and ``ispbill dunning --dry-run`` lists exactly what the run then does.

Fault isolation: a status change that raises is retried customer by customer, each in a
savepoint, and a reminder that raises is skipped; each failure is recorded
(``BillingFailure``, stage dunning or reminder) and the run goes on for everyone else. The
next dunning run retries them (it resolves the open ones first and records anew what fails
again)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Min, Q, QuerySet
from django.utils import timezone

from ispbill.billing.fees import late_payment_fees_charge
from ispbill.billing.models import BillingFailure, FailureStage
from ispbill.billing.run import NOT_ISOLATED, FailureInfo, failure_record, own_run_partner_ids
from ispbill.customers.models import Customer, CustomerStatus, Reminder
from ispbill.customers.services import (
    customers_status_bulk_set,
    partner_accounts,
    subcustomers_block,
)
from ispbill.invoicing.emails import reminder_email_context
from ispbill.invoicing.models import EmailDelivery, EmailKind, Invoice, InvoiceStatus
from ispbill.invoicing.sending import (
    email_deliveries_queue,
    email_delivery_new,
    issuer_email_envelope,
)
from ispbill.invoicing.templates import issuer_email_render
from ispbill.partners.models import Partner, PartnerMode
from ispbill.payments.selectors import customers_below_min_balance

log = logging.getLogger(__name__)
OPEN = [InvoiceStatus.UNPAID, InvoiceStatus.PARTIALLY_PAID]

# Conditions on invoices that dunning leaves alone although they are past due: apps above
# this one register them in their AppConfig.ready (ispbill/sepa: an invoice in a direct
# debit submitted to the bank and not yet booked is being collected).
DUNNING_EXCLUSIONS: list[Callable[[], Q]] = []


def _past_due(today: date) -> QuerySet[Invoice]:
    qs = Invoice.objects.filter(status__in=OPEN, due_date__lt=today)
    for condition in DUNNING_EXCLUSIONS:
        qs = qs.exclude(condition())
    return qs


@dataclass
class DunningResult:
    """What a dunning run did, or (``dry_run``) would do: the same lists either way, since a
    dry run is the run itself, rolled back."""

    today: date | None = None
    dry_run: bool = False
    issuer_id: int | None = None  # None: the operator's run
    blocked: list[int] = field(default_factory=list)
    deactivated: list[int] = field(default_factory=list)
    # Sub-customers blocked because their aggregated partner's account was blocked or
    # deactivated (``block_subcustomers``).
    subcustomers_blocked: list[int] = field(default_factory=list)
    unblocked: list[int] = field(default_factory=list)
    reminders: int = 0
    reminded: list[tuple[int, int]] = field(default_factory=list)  # (invoice id, days late)
    late_fees: int = 0  # late-payment fees charged (one-time charges for the next invoice)
    reasons: dict[int, str] = field(default_factory=dict)  # customer id -> why
    days_late: dict[int, int] = field(default_factory=dict)  # customer id -> days overdue
    failures: list[FailureInfo] = field(default_factory=list)
    # A confirmed preview that no longer holds: nothing was done (``dunning_run(expect=)``).
    changed: bool = False

    @property
    def nothing_to_do(self) -> bool:
        return not (
            self.blocked
            or self.deactivated
            or self.subcustomers_blocked
            or self.reminded
            or self.late_fees
            or self.failures
        )

    def fingerprint(self) -> str:
        """A digest of what the run does: a preview confirmed is run only if the run would
        still do exactly this (nothing was paid or issued in between)."""
        plan = [
            sorted(self.blocked),
            sorted(self.deactivated),
            sorted(self.subcustomers_blocked),
            sorted(self.reminded),
            self.late_fees,
        ]
        return hashlib.sha256(json.dumps(plan).encode()).hexdigest()[:32]


class DunningError(ValueError):
    """A dunning run that cannot be started as asked (the message says why)."""


class _DunningRollback(Exception):
    def __init__(self, result: DunningResult) -> None:
        self.result = result


def _issuers() -> dict[int, Partner]:
    return {p.pk: p for p in Partner.objects.all()}


def dunning_scope(issuer: Partner | None) -> Q:
    """The customers (and their invoices, failures: by ``partner_id``) a dunning run covers:
    an own-invoicing partner's run its own customers; the operator's run everyone else."""
    if issuer is not None:
        return Q(partner_id=issuer.pk)
    own = own_run_partner_ids()
    return ~Q(partner_id__in=own) if own else Q()


def _set_status_isolated(
    customers: list[Customer],
    status: str,
    reason: str,
    failures: list[FailureInfo],
    *,
    actor: Any = "dunning",
) -> list[Customer]:
    """``customers_status_bulk_set`` for them all in a savepoint; if it raises, one by one,
    recording the customers that fail. Returns the customers changed."""
    before = {c.pk: (c.status, c.status_changed_at) for c in customers}
    try:
        with transaction.atomic():
            customers_status_bulk_set(customers, status, reason, actor=actor)
        return customers
    except NOT_ISOLATED:
        raise
    except Exception:
        log.warning("dunning.isolating", extra={"status": status}, exc_info=True)
    done = []
    for c in customers:
        c.status, c.status_changed_at = before[c.pk]
        try:
            with transaction.atomic():
                customers_status_bulk_set([c], status, reason, actor=actor)
            done.append(c)
        except NOT_ISOLATED:
            raise
        except Exception as exc:
            c.status, c.status_changed_at = before[c.pk]
            failures.append(
                failure_record(
                    run_id=None,
                    stage=FailureStage.DUNNING,
                    partner_id=c.partner_id,
                    customer_id=c.pk,
                    exc=exc,
                )
            )
    return done


def dunning_run(
    *,
    today: date,
    dry_run: bool = False,
    issuer: Partner | None = None,
    actor: Any = "dunning",
    expect: str | None = None,
) -> DunningResult:
    """Block, deactivate and remind as of ``today``: the operator's run (``issuer`` None)
    for every customer but those of own-invoicing partners that run their own, or one
    own-invoicing partner's run for its customers.

    ``dry_run`` is the same run in a transaction that is rolled back: what it returns is
    exactly what the run would do (the preview), and nothing is written or sent.
    ``expect``: the fingerprint of the preview a person confirmed; if the run would do
    anything else (a payment came in meanwhile), it is rolled back too and returned as a
    new preview with ``changed`` set."""
    if issuer is not None and issuer.mode != PartnerMode.OWN_INVOICING:
        raise DunningError("Only an own-invoicing partner runs its own dunning.")
    try:
        with transaction.atomic():
            result = _dunning(today=today, issuer=issuer, dry_run=dry_run, actor=actor)
            if expect is not None and result.fingerprint() != expect:
                result.dry_run, result.changed = True, True
            if result.dry_run:
                raise _DunningRollback(result)
    except _DunningRollback as rollback:
        return rollback.result
    return result


def _dunning(*, today: date, issuer: Partner | None, dry_run: bool, actor: Any) -> DunningResult:
    result = DunningResult(today=today, dry_run=dry_run, issuer_id=issuer.pk if issuer else None)
    issuers = _issuers()
    home = next(p for p in issuers.values() if p.is_home)
    # One dunning run of a scope at a time (a double click, the scheduler beside a person):
    # the second waits here, then finds the work done.
    Partner.objects.select_for_update(no_key=True).filter(pk=(issuer or home).pk).first()
    scope = dunning_scope(issuer)
    # This run retries what failed in the last one; what fails again is recorded anew.
    BillingFailure.objects.filter(
        scope, stage__in=[FailureStage.DUNNING, FailureStage.REMINDER], resolved_at__isnull=True
    ).update(resolved_at=timezone.now())
    # Earliest due date of an overdue invoice, per customer: one aggregate query.
    overdue = dict(
        _past_due(today)
        .filter(scope)
        .values_list("customer_id")
        .annotate(first_due=Min("due_date"))
    )
    customers = (
        Customer.objects.filter(pk__in=list(overdue))
        .exclude(status=CustomerStatus.INACTIVE)
        .order_by("pk")
    )
    to_block: list[Customer] = []
    to_deactivate: list[Customer] = []
    for c in customers:
        partner = issuers[c.partner_id]
        dunner = partner if partner.issues_own_documents else home
        days_late = (today - overdue[c.pk]).days
        result.days_late[c.pk] = days_late
        if dunner.deactivation_days is not None and days_late > dunner.deactivation_days:
            to_deactivate.append(c)
            result.reasons[c.pk] = (
                f"{days_late} days overdue, past the deactivation period of "
                f"{dunner.deactivation_days} days"
            )
        elif (
            dunner.blocking_days is not None
            and days_late > dunner.blocking_days
            and c.status != CustomerStatus.BLOCKED
        ):
            to_block.append(c)
            result.reasons[c.pk] = (
                f"{days_late} days overdue, past the blocking period of {dunner.blocking_days} days"
            )
    # Minimum balance: below it and past a due date -> blocked.
    chosen = {c.pk for c in to_block} | {c.pk for c in to_deactivate}
    candidates = [
        c
        for c in Customer.objects.filter(
            scope, min_balance_minor__isnull=False, status=CustomerStatus.ACTIVE
        ).order_by("pk")
        if c.pk in overdue and c.pk not in chosen
    ]
    below = customers_below_min_balance(candidates)
    for c in candidates:
        if c.pk in below:
            to_block.append(c)
            result.reasons[c.pk] = "balance below its minimum balance past a due date"
    failures = result.failures
    to_block = _set_status_isolated(
        to_block, CustomerStatus.BLOCKED, "overdue past the blocking period", failures, actor=actor
    )
    to_deactivate = _set_status_isolated(
        to_deactivate,
        CustomerStatus.INACTIVE,
        "overdue past the deactivation period",
        failures,
        actor=actor,
    )
    result.blocked = [c.pk for c in to_block]
    result.deactivated = [c.pk for c in to_deactivate]
    # Partners' accounts blocked or deactivated, by this run or before while still overdue:
    # the sub-customers of those set so are blocked with them.
    cut_off = dict(
        Customer.objects.filter(
            pk__in=list(partner_accounts(list(overdue))),
            status__in=[CustomerStatus.BLOCKED, CustomerStatus.INACTIVE],
        ).values_list("pk", "status")
    )
    for account_id, partner in sorted(partner_accounts(list(cut_off)).items()):
        try:
            with transaction.atomic():
                subs = subcustomers_block(
                    partner=partner, account_status=cut_off[account_id], actor=actor
                )
        except NOT_ISOLATED:
            raise
        except Exception as exc:
            failures.append(
                failure_record(
                    run_id=None,
                    stage=FailureStage.DUNNING,
                    partner_id=partner.pk,
                    customer_id=account_id,
                    exc=exc,
                )
            )
            continue
        result.subcustomers_blocked.extend(subs)
        word = "deactivated" if cut_off[account_id] == CustomerStatus.INACTIVE else "blocked"
        for pk in subs:
            result.reasons[pk] = f"{partner.name}'s account is {word} (block sub-customers)"
    result.late_fees = len(late_payment_fees_charge(today=today, scope=scope))
    result.reminded = _reminders_queue(
        today=today, issuers=issuers, scope=scope, failures=result.failures
    )
    result.reminders = len(result.reminded)
    return result


def _reminder_key(invoice_id: int, days_late: int) -> str:
    return f"reminder:{invoice_id}:{days_late}"


def reminders_send(
    *,
    today: date,
    issuers: dict[int, Partner],
    home: Partner,
    failures: list[FailureInfo] | None = None,
) -> int:
    """Queue the reminders due ``today`` for every issuer; how many."""
    return len(_reminders_queue(today=today, issuers=issuers, scope=Q(), failures=failures))


def _reminders_queue(
    *,
    today: date,
    issuers: dict[int, Partner],
    scope: Q,
    failures: list[FailureInfo] | None = None,
) -> list[tuple[int, int]]:
    """Queue the reminders due ``today`` of the invoices in ``scope``: (invoice id, days
    after due) of each. One whose email cannot be made (its template or data raise) is
    recorded in ``failures`` and skipped; the others go out."""
    failures = failures if failures is not None else []
    reminder_days: dict[int, list[int]] = {}
    for p in issuers.values():
        reminder_days[p.pk] = sorted(
            {int(x) for x in p.reminder_days.replace(" ", "").split(",") if x.isdigit()}
        )
    max_days = max((d for days in reminder_days.values() for d in days), default=0)
    if not max_days:
        return []
    candidates = (
        _past_due(today)
        .filter(scope, due_date__gte=today - timedelta(days=max_days))
        .select_related("customer")
        .order_by("pk")
    )
    done = set(
        Reminder.objects.filter(invoice__in=candidates).values_list("invoice_id", "days_after_due")
    )
    due: list[tuple[Invoice, int]] = []
    deliveries: list[EmailDelivery] = []
    templates: dict[tuple[int, str], str] = {}  # each issuer's reminder template, read once
    for inv in candidates:
        days_late = (today - inv.due_date).days
        if days_late not in reminder_days.get(inv.issuer_id, []) or (inv.pk, days_late) in done:
            continue
        if not inv.customer.email:
            due.append((inv, days_late))  # recorded as reminded: there is no address
            continue
        issuer = issuers[inv.issuer_id]
        try:
            with transaction.atomic():
                text = issuer_email_render(
                    issuer,
                    "email_reminder",
                    reminder_email_context(
                        inv, customer=inv.customer, issuer=issuer, days_late=days_late
                    ),
                    templates=templates,
                )
        except NOT_ISOLATED:
            raise
        except Exception as exc:
            failures.append(
                failure_record(
                    run_id=None,
                    stage=FailureStage.REMINDER,
                    partner_id=inv.partner_id,
                    customer_id=inv.customer_id,
                    invoice_id=inv.pk,
                    exc=exc,
                )
            )
            continue
        due.append((inv, days_late))
        envelope = issuer_email_envelope(issuer)
        deliveries.append(
            email_delivery_new(
                key=_reminder_key(inv.pk, days_late),
                kind=EmailKind.REMINDER,
                partner_id=inv.partner_id,
                issuer_id=issuer.pk,
                customer_id=inv.customer_id,
                invoice_id=inv.pk,
                to=inv.customer.email,
                from_email=envelope.from_email,
                reply_to=envelope.reply_to,
                subject=text.subject,
                body=envelope.body(text.body),
            )
        )
    # Sent after commit (no mail for a rolled-back run); the key makes each reminder step go
    # out once even when two dunning runs overlap: a step whose email exists already is skipped.
    queued = {d.idempotency_key for d in email_deliveries_queue(deliveries)}
    new = [
        Reminder(
            partner_id=inv.partner_id,
            invoice=inv,
            days_after_due=days_late,
            email=inv.customer.email,
        )
        for inv, days_late in due
        if not inv.customer.email or _reminder_key(inv.pk, days_late) in queued
    ]
    Reminder.objects.bulk_create(new, ignore_conflicts=True)
    return sorted((r.invoice_id, r.days_after_due) for r in new)
