"""Dunning, as Splynx: overdue -> blocked -> inactive, and back to active on payment.

- An invoice is overdue the day after its due date.
- ``blocking_days`` after the due date (None: never) the customer is blocked: services
  suspended, still billed. A payment that clears every overdue invoice unblocks at once.
- ``deactivation_days`` after the due date (None: never) the customer becomes inactive:
  no longer billed.
- A customer whose balance stays below its minimum balance past a due date is blocked.
- Reminders go out on the issuer's reminder days after the due date (default 3, 5, 7).
- An aggregated partner's account blocked takes its sub-customers with it when the partner
  is set so (``block_subcustomers``).

Fault isolation: a status change that raises is retried customer by customer, each in a
savepoint, and a reminder that raises is skipped; each failure is recorded
(``BillingFailure``, stage dunning or reminder) and the run goes on for everyone else. The
next dunning run retries them (it resolves the open ones first and records anew what fails
again)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Min, Q, QuerySet
from django.utils import timezone

from ispbill.billing.fees import late_payment_fees_charge
from ispbill.billing.models import BillingFailure, FailureStage
from ispbill.billing.run import NOT_ISOLATED, FailureInfo, failure_record
from ispbill.customers.models import Customer, CustomerStatus, Reminder
from ispbill.customers.services import customers_status_bulk_set, partner_subcustomers_cascade
from ispbill.invoicing.emails import reminder_email_context
from ispbill.invoicing.models import EmailDelivery, EmailKind, Invoice, InvoiceStatus
from ispbill.invoicing.sending import email_deliveries_queue, email_delivery_new
from ispbill.invoicing.templates import issuer_email_render
from ispbill.partners.models import Partner
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
    blocked: list[int] = field(default_factory=list)
    deactivated: list[int] = field(default_factory=list)
    unblocked: list[int] = field(default_factory=list)
    reminders: int = 0
    late_fees: int = 0
    failures: list[FailureInfo] = field(default_factory=list)


def _issuers() -> dict[int, Partner]:
    return {p.pk: p for p in Partner.objects.all()}


def _set_status_isolated(
    customers: list[Customer], status: str, reason: str, failures: list[FailureInfo]
) -> list[Customer]:
    """``_set_status`` for them all in a savepoint; if it raises, one by one, recording the
    customers that fail. Returns the customers changed."""
    before = {c.pk: (c.status, c.status_changed_at) for c in customers}
    try:
        with transaction.atomic():
            customers_status_bulk_set(customers, status, reason)
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
                customers_status_bulk_set([c], status, reason)
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


@transaction.atomic
def dunning_run(*, today: date) -> DunningResult:
    """Block, deactivate and remind, for every issuer, as of ``today``."""
    result = DunningResult()
    # This run retries what failed in the last one; what fails again is recorded anew.
    BillingFailure.objects.filter(
        stage__in=[FailureStage.DUNNING, FailureStage.REMINDER], resolved_at__isnull=True
    ).update(resolved_at=timezone.now())
    issuers = _issuers()
    home = next(p for p in issuers.values() if p.is_home)
    # Earliest due date of an overdue invoice, per customer: one aggregate query.
    overdue = dict(_past_due(today).values_list("customer_id").annotate(first_due=Min("due_date")))
    customers = Customer.objects.filter(pk__in=list(overdue)).exclude(
        status=CustomerStatus.INACTIVE
    )
    to_block: list[Customer] = []
    to_deactivate: list[Customer] = []
    for c in customers:
        partner = issuers[c.partner_id]
        issuer = partner if partner.issues_own_documents else home
        days_late = (today - overdue[c.pk]).days
        if issuer.deactivation_days is not None and days_late > issuer.deactivation_days:
            to_deactivate.append(c)
        elif (
            issuer.blocking_days is not None
            and days_late > issuer.blocking_days
            and c.status != CustomerStatus.BLOCKED
        ):
            to_block.append(c)
    # Minimum balance: below it and past a due date -> blocked.
    candidates = [
        c
        for c in Customer.objects.filter(
            min_balance_minor__isnull=False, status=CustomerStatus.ACTIVE
        )
        if c.pk in overdue and c not in to_block and c not in to_deactivate
    ]
    for pk in customers_below_min_balance(candidates):
        to_block.append(next(c for c in candidates if c.pk == pk))
    failures = result.failures
    to_block = _set_status_isolated(
        to_block, CustomerStatus.BLOCKED, "overdue past the blocking period", failures
    )
    to_deactivate = _set_status_isolated(
        to_deactivate, CustomerStatus.INACTIVE, "overdue past the deactivation period", failures
    )
    for account in to_block:
        try:
            with transaction.atomic():
                partner_subcustomers_cascade([account.pk], CustomerStatus.BLOCKED)
        except NOT_ISOLATED:
            raise
        except Exception as exc:
            failures.append(
                failure_record(
                    run_id=None,
                    stage=FailureStage.DUNNING,
                    partner_id=account.partner_id,
                    customer_id=account.pk,
                    exc=exc,
                )
            )
    result.blocked = [c.pk for c in to_block]
    result.deactivated = [c.pk for c in to_deactivate]
    result.late_fees = len(late_payment_fees_charge(today=today))
    result.reminders = reminders_send(
        today=today, issuers=issuers, home=home, failures=result.failures
    )
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
    """Queue the reminders due ``today``. One whose email cannot be made (its template or
    data raise) is recorded in ``failures`` and skipped; the others go out."""
    failures = failures if failures is not None else []
    reminder_days: dict[int, list[int]] = {}
    for p in issuers.values():
        reminder_days[p.pk] = sorted(
            {int(x) for x in p.reminder_days.replace(" ", "").split(",") if x.isdigit()}
        )
    max_days = max((d for days in reminder_days.values() for d in days), default=0)
    if not max_days:
        return 0
    candidates = (
        _past_due(today)
        .filter(due_date__gte=today - timedelta(days=max_days))
        .select_related("customer")
    )
    done = set(
        Reminder.objects.filter(invoice__in=candidates).values_list("invoice_id", "days_after_due")
    )
    due: list[tuple[Invoice, int]] = []
    deliveries: list[EmailDelivery] = []
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
        deliveries.append(
            email_delivery_new(
                key=_reminder_key(inv.pk, days_late),
                kind=EmailKind.REMINDER,
                partner_id=inv.partner_id,
                issuer_id=issuer.pk,
                customer_id=inv.customer_id,
                invoice_id=inv.pk,
                to=inv.customer.email,
                from_email=issuer.email,
                subject=text.subject,
                body=text.body,
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
    sent = len(new)
    Reminder.objects.bulk_create(new, ignore_conflicts=True)
    return sent
