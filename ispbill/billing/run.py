"""The billing run (docs/billing.md, "The billing run").

``billing_run_start(run_date)`` finds every customer with a billing date up to ``run_date``
not processed yet, splits them into chunks and processes each chunk in one transaction:
lock the chunk's customers, rate their services set-wise for every missed billing date in
order (catch-up), issue one invoice per customer and billing date from its uninvoiced
charges, post the ledger, apply credit. Then the aggregation phase issues aggregated and
wholesale invoices to partners' accounts. Unique constraints on (service, kind, period start),
(customer, billing date, kind) and (issuer, number), plus the pointers re-read under lock,
make every chunk safe to retry: a run repeated, interrupted and resumed, or run twice at the
same time ends in the state of one clean run.

Fault isolation: a chunk that raises is rolled back and retried in parts, first per partner,
then halved again and again down to single customers (``_chunk_isolate``), each part its own
transaction; a customer that still fails alone is recorded (``BillingFailure``) and skipped,
and the run finishes for everyone else with the status "finished with N failures". A
partner's aggregation that raises is recorded the same way. The failed customers keep their
pointers, so the next run retries exactly them. Errors of the database connection itself
(``OperationalError``, ``InterfaceError``: the server gone, a lock timeout) are not isolated:
they stop the run, which the next run resumes."""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.utils import timezone

from ispbill.billing.models import (
    BillingFailure,
    BillingRun,
    BillingRunStatus,
    Charge,
    ChargeKind,
    ChargeRow,
    FailureStage,
    charge_rows,
    charges_insert,
    invoiced_charges_store,
)
from ispbill.billing.modes import (
    BillingContext,
    billing_context,
    wholesale_cycle,
    wholesale_price_minor,
)
from ispbill.billing.rating import ChargeDraft, ServiceTerms, service_rate, skipped_through
from ispbill.billing.signals import billing_run_finished
from ispbill.billing.tasks import (
    billing_run_dispatch,
    billing_run_stuck_before,
    billing_runs_supersede,
)
from ispbill.catalog.models import PartnerPrice
from ispbill.core.audit import audit_record
from ispbill.core.bulk import column_set, deferred_checks_run, plain_rows
from ispbill.core.errors import DomainError
from ispbill.core.periods import Cycle
from ispbill.core.tenancy import system_scope
from ispbill.customers.models import (
    CUSTOMER_ROW_FIELDS,
    Customer,
    CustomerRow,
    CustomerStatus,
)
from ispbill.invoicing.issue import InvoiceDraft, IssuedInvoice, invoices_issue, invoices_number
from ispbill.invoicing.models import Invoice, InvoiceKind
from ispbill.partners.models import Partner, PartnerMode
from ispbill.payments.services import credit_apply
from ispbill.subscriptions.models import (
    OneTimeCharge,
    Service,
    ServiceRow,
    ServiceStatus,
    service_rows,
)

log = logging.getLogger(__name__)
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class FailureInfo:
    """A customer (or partner's aggregation) that failed and was skipped."""

    stage: str
    partner_id: int
    customer_id: int | None
    error: str


# Errors of the connection or the server, not of one customer's data: isolating them would
# record every customer as failed. They stop the run; the next run resumes it.
NOT_ISOLATED: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)
_MAX_ERROR_CHARS = 2000
_MAX_TRACEBACK_CHARS = 4000


def failure_message(exc: BaseException) -> str:
    """What a person reads about one customer's failure: a refusal's own message; for a
    date beyond the calendar (bad data, e.g. payment terms of a million days), what to check;
    anything else as the error's kind and text, for the log and a bug report."""
    if isinstance(exc, DomainError):
        return str(exc)
    if isinstance(exc, OverflowError) and "date" in str(exc):
        return (
            "A date computed for this customer is out of the calendar's range: check its "
            "payment due days (and its issuer's), billing day and service dates."
        )
    return f"{type(exc).__name__}: {exc}"


def failure_record(
    *,
    run_id: int | None,
    stage: str,
    partner_id: int,
    exc: BaseException,
    customer_id: int | None = None,
    invoice_id: int | None = None,
) -> FailureInfo:
    """Record that one customer's (or partner's) processing raised ``exc``, in its own
    transaction (the failed work was rolled back), and log it. An older open failure of the
    same customer and stage is resolved by this one (retried, failed again). Nothing is
    written for a dry run (``run_id`` None in the billing stages)."""
    error = failure_message(exc)[:_MAX_ERROR_CHARS]
    info = FailureInfo(stage=stage, partner_id=partner_id, customer_id=customer_id, error=error)
    log.error(
        "billing.failure",
        extra={"run_id": run_id, "stage": stage, "customer_id": customer_id, "error": error},
    )
    if run_id is None and stage in (FailureStage.CUSTOMER, FailureStage.AGGREGATION):
        return info
    tb = "".join(traceback.format_exception(exc))[-_MAX_TRACEBACK_CHARS:]
    with transaction.atomic():
        if stage in (FailureStage.CUSTOMER, FailureStage.AGGREGATION):
            key = {"customer_id": customer_id} if customer_id else {"partner_id": partner_id}
            BillingFailure.objects.filter(stage=stage, resolved_at__isnull=True, **key).update(
                resolved_at=timezone.now(), resolved_by_run_id=run_id
            )
        BillingFailure.objects.create(
            run_id=run_id,
            stage=stage,
            partner_id=partner_id,
            customer_id=customer_id,
            invoice_id=invoice_id,
            error=error,
            traceback=tb,
        )
    return info


def recipient_label(*, kind: str, partner_name: str, owner_name: str | None, own: bool) -> str:
    """Who an invoice goes to, for a run's totals: a partner's account (its aggregated or
    wholesale invoice), the issuer's own customers, or a percentage partner's customers."""
    if kind == InvoiceKind.AGGREGATED:
        return f"{owner_name or partner_name} (aggregated invoice)"
    if kind == InvoiceKind.WHOLESALE:
        return f"{owner_name or partner_name} (wholesale invoice)"
    return "Own customers" if own else f"Customers of {partner_name}"


@dataclass
class ChunkStats:
    customers_billed: int = 0
    invoices_issued: int = 0
    charges_created: int = 0
    # Customers (and partners' aggregations) with more than one billing date in this run:
    # a catch-up, which a person confirms with the per-date breakdown (``per_date``).
    caught_up: int = 0
    totals: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # Per recipient: a partner's customers, or a partner's account (aggregated, wholesale).
    per_partner: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Per (issuer, recipient): who issues to whom.
    groups: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # Per billing date: invoices and totals per currency.
    per_date: dict[date, dict[str, Any]] = field(default_factory=dict)
    failures: list[FailureInfo] = field(default_factory=list)

    def merge(self, other: ChunkStats) -> None:
        self.failures.extend(other.failures)
        self.customers_billed += other.customers_billed
        self.invoices_issued += other.invoices_issued
        self.charges_created += other.charges_created
        self.caught_up += other.caught_up
        for cur, v in other.totals.items():
            self.totals[cur] = self.totals.get(cur, 0) + v
        for name, figures in other.per_partner.items():
            _figures_add(self.per_partner, name, figures)
        for key, figures in other.groups.items():
            _figures_add(self.groups, key, figures)
        for day, figures in other.per_date.items():
            mine = self.per_date.setdefault(day, {"invoices": 0, "totals": {}})
            mine["invoices"] += figures["invoices"]
            for cur, v in figures["totals"].items():
                mine["totals"][cur] = mine["totals"].get(cur, 0) + v

    def count_invoices(
        self,
        drafts: list[InvoiceDraft],
        invoices: list[IssuedInvoice],
        names: dict[int, str],
        *,
        owners: dict[int, str] | None = None,
    ) -> None:
        """Count issued invoices: totals, per recipient, per issuer and recipient, per
        billing date. ``owners``: partner names by account id (aggregated, wholesale)."""
        for inv in invoices:
            self.count(
                partner_id=inv.partner_id,
                issuer_id=inv.issuer_id,
                customer_id=inv.customer_id,
                kind=inv.kind,
                billing_date=inv.billing_date,
                currency=inv.currency,
                total_minor=inv.total_minor,
                names=names,
                owners=owners or {},
            )

    def count(
        self,
        *,
        partner_id: int,
        issuer_id: int,
        customer_id: int,
        kind: str,
        billing_date: date | None,
        currency: str,
        total_minor: int,
        names: dict[int, str],
        owners: dict[int, str],
        n: int = 1,
    ) -> None:
        """Count ``n`` invoices of one kind, issuer, recipient and billing date whose totals
        add up to ``total_minor``."""
        self.invoices_issued += n
        self.totals[currency] = self.totals.get(currency, 0) + total_minor
        partner = names.get(partner_id, str(partner_id))
        owner = owners.get(customer_id)
        figures = {"invoices": n, "total_minor": total_minor, "currency": currency}
        recipient = recipient_label(
            kind=kind, partner_name=partner, owner_name=owner, own=partner_id == issuer_id
        )
        _figures_add(self.per_partner, owner or partner, figures)
        _figures_add(self.groups, (names.get(issuer_id, str(issuer_id)), recipient), figures)
        if billing_date is not None:
            day = self.per_date.setdefault(billing_date, {"invoices": 0, "totals": {}})
            day["invoices"] += n
            day["totals"][currency] = day["totals"].get(currency, 0) + total_minor


def _figures_add(into: dict[Any, dict[str, Any]], key: Any, figures: dict[str, Any]) -> None:
    mine = into.setdefault(key, {"invoices": 0, "total_minor": 0, "currency": ""})
    mine["invoices"] += figures["invoices"]
    mine["total_minor"] += figures["total_minor"]
    mine["currency"] = figures["currency"] or mine["currency"]


@dataclass
class RunSummary:
    run_id: int | None
    run_date: date
    dry_run: bool
    stats: ChunkStats
    seconds: float
    status: str = BillingRunStatus.DONE
    error: str = ""

    @property
    def nothing_to_do(self) -> bool:
        return (
            self.stats.charges_created == 0
            and self.stats.invoices_issued == 0
            and self.stats.customers_billed == 0
        )


class _DryRunRollback(Exception):
    def __init__(self, summary: RunSummary) -> None:
        self.summary = summary


class BillingRunError(RuntimeError):
    pass


class BillingRunDateError(DomainError):
    """A billing run date that cannot be billed (in the future); the message says why."""

    code = "billing_run_date"


class BillingRunBusy(BillingRunError):
    """A run of the same scope and date is running already (the database refused a second:
    ``billingrun_one_running_per_scope_date``)."""

    def __init__(self, run: BillingRun | None, run_date: date) -> None:
        self.run = run
        which = f"Billing run {run.pk}" if run is not None else "A billing run"
        super().__init__(
            f"{which} for {run_date} is running already; wait for it to finish (its page "
            "shows its progress). If its process is gone, mark it failed and start again."
        )


def billing_run_create(*, run_date: date, issuer: Partner | None, started_by: str) -> BillingRun:
    """Record a new run as ``running``. The database allows one running run per scope and
    date: a second start (a double click, the API retried, two people) raises
    ``BillingRunBusy`` naming the run that is going. A run of that scope and date stuck
    past ``BILLING_RUN_TIMEOUT`` (its process gone) is marked superseded and the new one
    takes its place."""
    from ispbill.billing.tasks import billing_run_stuck_before

    for attempt in (1, 2):
        try:
            with transaction.atomic():
                return BillingRun.objects.create(
                    run_date=run_date, scope_partner=issuer, started_by=started_by
                )
        except IntegrityError as exc:
            running = (
                BillingRun.objects.filter(
                    run_date=run_date,
                    scope_partner=issuer,
                    status=BillingRunStatus.RUNNING,
                    dry_run=False,
                )
                .order_by("-pk")
                .first()
            )
            stuck = running is not None and running.started_at < billing_run_stuck_before()
            if attempt == 2 or not stuck:
                raise BillingRunBusy(running, run_date) from exc
            BillingRun.objects.filter(pk=running.pk, status=BillingRunStatus.RUNNING).update(  # type: ignore[union-attr]
                status=BillingRunStatus.FAILED,
                error="Stuck; superseded by a new run of its date, which does what it left.",
                finished_at=timezone.now(),
            )
    raise AssertionError("unreachable")  # pragma: no cover


def billing_run_date_check(run_date: date) -> date:
    """The date a run may bill up to, from the web, the API or the command line: not after
    today (a run dated ahead would bill periods that have not started, and advance every
    pointer). The scheduler bills up to today."""
    if run_date > timezone.localdate():
        raise BillingRunDateError(
            f"A billing run cannot be dated in the future ({run_date} is after today, "
            f"{timezone.localdate()})."
        )
    return run_date


# -- selectors ------------------------------------------------------------------------------


def own_run_partner_ids() -> list[int]:
    """Own-invoicing partners that run their own billing (``Partner.runs_own_billing``):
    the operator's runs leave their customers out (docs/reseller-modes.md)."""
    return list(
        Partner.objects.filter(mode=PartnerMode.OWN_INVOICING, runs_own_billing=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def customers_due(*, run_date: date, issuer: Partner | None = None) -> list[tuple[int, int]]:
    """(id, partner id) of the customers that may have a billing date up to ``run_date`` not
    processed yet: one own-invoicing partner's (``issuer``), or the operator run's (every
    customer but those of own-invoicing partners that run their own billing)."""
    qs = Customer.objects.filter(Q(billed_through__isnull=True) | Q(billed_through__lt=run_date))
    if issuer is not None:
        qs = qs.filter(partner=issuer)
    else:
        own = own_run_partner_ids()
        if own:
            qs = qs.exclude(partner_id__in=own)
    return list(qs.order_by("pk").values_list("pk", "partner_id"))


def chunked(ids: list[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


@dataclass
class ChunkPlan:
    """A run's chunks in the order they are taken. First, for each partner billed in the
    aggregation phase, the chunks of its customers and of its account: once they are done,
    that partner's aggregation can start while the other chunks (``rest``) are still
    running, since it reads and writes nothing of theirs."""

    first: dict[int, list[list[int]]] = field(default_factory=dict)  # partner id -> chunks
    rest: list[list[int]] = field(default_factory=list)

    @property
    def chunks(self) -> list[list[int]]:
        return [c for chunks in self.first.values() for c in chunks] + self.rest


def chunk_plan(*, run_date: date, issuer: Partner | None, chunk_size: int) -> ChunkPlan:
    """The chunks of a run (of one issuer's customers: no aggregation phase, no first part)."""
    partners = aggregation_partner_accounts(run_date=run_date) if issuer is None else {}
    accounts = {account_id: pk for pk, account_id in partners.items()}
    first: dict[int, list[int]] = {pk: [] for pk in partners}
    rest: list[int] = []
    for pk, partner_id in customers_due(run_date=run_date, issuer=issuer):
        owner = accounts.get(pk, partner_id)
        first.get(owner, rest).append(pk)
    return ChunkPlan(
        first={pk: list(chunked(ids, chunk_size)) for pk, ids in first.items()},
        rest=list(chunked(rest, chunk_size)),
    )


# -- chunk ----------------------------------------------------------------------------------


def service_terms(s: ServiceRow, price_minor: int) -> ServiceTerms:
    """What rating needs of a service, at ``price_minor`` (its price for this bill)."""
    return ServiceTerms(
        service_id=s.pk,
        description=s.description or s.tariff_name,
        start_date=s.start_date,
        end_date=s.end_date,
        quantity=s.quantity,
        unit_price_minor=price_minor,
        tariff_period_months=s.tariff_period_months,
        discount_bp=s.discount_bp,
        discount_until=s.discount_until,
    )


def service_charge_row(
    s: ServiceRow,
    cd: ChargeDraft,
    *,
    partner_id: int,
    customer_id: int,
    account_id: int,
    issuer: Partner,
    kind: str,
    billing_date: date,
) -> ChargeRow:
    """A rated period of a service as a charge row, for whom and on which date. Built by
    position: a run builds one per service and period."""
    period = cd.period.period
    return ChargeRow(
        partner_id,
        issuer.id,
        customer_id,
        account_id,
        kind,
        billing_date,
        period.start,
        period.end,
        cd.description,
        cd.quantity,
        cd.unit_price_minor,
        cd.amount_minor,
        s.tax_rate_bp,
        s.tax_category,
        issuer.currency,
        s.pk,
        s.tariff_id,
        None,
        None,
        cd.adjustment,
    )


def one_time_charge_row(
    *,
    charge: OneTimeCharge,
    customer: Customer | CustomerRow,
    account_id: int,
    issuer: Partner,
    billing_date: date,
) -> ChargeRow:
    """A one-time charge as a charge row: quantity x unit price, on its own date."""
    return ChargeRow(
        partner_id=customer.partner_id,
        issuer_id=issuer.id,
        customer_id=customer.pk,
        account_id=account_id,
        kind=ChargeKind.RETAIL,
        billing_date=billing_date,
        currency=issuer.currency,
        one_time_charge_id=charge.pk,
        period_start=charge.charge_date,
        period_end=charge.charge_date,
        description=charge.description,
        quantity=charge.quantity,
        unit_price_minor=charge.unit_price_minor,
        amount_minor=charge.unit_price_minor * charge.quantity,
        tax_rate_bp=charge.tax_rate.rate_bp,
        tax_category=charge.tax_rate.category,
    )


def partner_prices_minor(partner_ids: set[int]) -> dict[tuple[int, int], int]:
    """(tariff id, partner id) -> the partner's wholesale price, for these partners."""
    if not partner_ids:
        return {}
    return {
        (pp.tariff_id, pp.partner_id): pp.price_minor
        for pp in PartnerPrice.objects.filter(partner_id__in=partner_ids)
    }


def billing_chunk_process(
    *, customer_ids: list[int], run_date: date, run_id: int | None
) -> ChunkStats:
    """Bill one chunk of customers for every billing date up to ``run_date``: one transaction.
    The run's progress is counted after the commit, so chunks running side by side do not
    queue on the run's row. A chunk that raises is retried in parts (``_chunk_isolate``)."""
    try:
        stats = _chunk_bill(customer_ids=customer_ids, run_date=run_date, run_id=run_id)
    except NOT_ISOLATED:
        raise
    except Exception:
        log.warning("billing.chunk_failed_isolating", extra={"run_id": run_id}, exc_info=True)
        stats = _chunk_isolate(customer_ids=customer_ids, run_date=run_date, run_id=run_id)
    billing_progress(run_id)
    return stats


def _chunk_isolate(*, customer_ids: list[int], run_date: date, run_id: int | None) -> ChunkStats:
    """Bill a chunk that failed in parts, each its own transaction: per partner (one issuer's
    broken data or settings fail its customers only), then halves of halves down to single
    customers. The customers that fail alone are recorded and skipped. With k failing
    customers among n this bills about k * 2 * log2(n) parts more than the one chunk."""
    stats = ChunkStats()
    partners = dict(
        Customer.objects.filter(pk__any_in=customer_ids)
        .order_by("pk")
        .values_list("pk", "partner_id")
    )
    by_partner: dict[int, list[int]] = defaultdict(list)
    for pk, partner_id in partners.items():
        by_partner[partner_id].append(pk)
    parts = list(by_partner.values())
    if len(parts) == 1 and len(parts[0]) > 1:  # that part is the chunk, which failed already
        parts = _halves(parts[0])
    while parts:
        part = parts.pop(0)
        try:
            stats.merge(_chunk_bill(customer_ids=part, run_date=run_date, run_id=run_id))
        except NOT_ISOLATED:
            raise
        except Exception as exc:
            if len(part) > 1:
                parts[:0] = _halves(part)
                continue
            stats.failures.append(
                failure_record(
                    run_id=run_id,
                    stage=FailureStage.CUSTOMER,
                    partner_id=partners[part[0]],
                    customer_id=part[0],
                    exc=exc,
                )
            )
    return stats


def _halves(ids: list[int]) -> list[list[int]]:
    mid = len(ids) // 2
    return [ids[:mid], ids[mid:]]


@dataclass
class _ChunkInputs:
    """What a chunk reads, in bulk (a handful of queries for the whole chunk)."""

    partners: dict[int, Partner]
    home: Partner
    customers: list[CustomerRow]
    services: dict[int, list[ServiceRow]]  # customer id -> services, by start date
    one_time: dict[int, list[OneTimeCharge]]  # customer id -> one-time charges not charged yet
    pending: dict[int, list[ChargeRow]]  # account id -> its own uninvoiced charges
    prices: dict[tuple[int, int], int]  # (tariff, partner) -> wholesale price


@dataclass
class _ChunkWork:
    """What a chunk bills, written at its end in bulk."""

    drafts: list[InvoiceDraft] = field(default_factory=list)
    loose: list[Any] = field(default_factory=list)  # new charges that go on no invoice now
    touched_services: list[ServiceRow] = field(default_factory=list)
    caught_up: int = 0  # customers with more than one billing date (a catch-up)


def _chunk_customers_lock(*, customer_ids: list[int], run_date: date) -> list[CustomerRow]:
    """Lock the chunk's customers, then read their pointers: a concurrent run waits here and
    then finds the work done. Only those not billed up to ``run_date`` yet."""
    customers = [
        CustomerRow(*values)
        for values in plain_rows(
            Customer.objects.select_for_update(no_key=True)
            .filter(pk__any_in=customer_ids)
            .order_by("pk"),
            CUSTOMER_ROW_FIELDS,
        )
    ]
    return [c for c in customers if c.billed_through is None or c.billed_through < run_date]


def _chunk_inputs_read(
    *, customers: list[CustomerRow], partners: dict[int, Partner], run_date: date
) -> _ChunkInputs:
    """The chunk's services, one-time charges, pending charges and partner prices."""
    ids = [c.pk for c in customers]
    services: dict[int, list[ServiceRow]] = defaultdict(list)
    for s in service_rows(
        Service.objects.filter(customer_id__any_in=ids).order_by("customer_id", "start_date", "pk")
    ):
        services[s.customer_id].append(s)
    one_time: dict[int, list[OneTimeCharge]] = defaultdict(list)
    for o in (
        OneTimeCharge.objects.filter(customer_id__any_in=ids, charge_date__lte=run_date)
        .filter(
            ~Exists(Charge.objects.filter(one_time_charge=OuterRef("pk"), kind=ChargeKind.RETAIL))
        )
        .select_related("tax_rate")
        .order_by("charge_date", "pk")
    ):
        one_time[o.customer_id].append(o)
    pending: dict[int, list[ChargeRow]] = defaultdict(list)
    for ch in charge_rows(
        Charge.objects.filter(
            account_id__any_in=ids,
            customer_id=F("account_id"),
            invoice__isnull=True,
            credit_note__isnull=True,  # a plan change's credit settled by credit note
            kind=ChargeKind.RETAIL,
        ).order_by("pk")
    ):
        pending[ch.account_id].append(ch)
    held_partners = {
        c.partner_id for c in customers if partners[c.partner_id].mode == PartnerMode.AGGREGATED
    }
    home = next(p for p in partners.values() if p.is_home)
    return _ChunkInputs(
        partners=partners,
        home=home,
        customers=customers,
        services=services,
        one_time=one_time,
        pending=pending,
        prices=partner_prices_minor(held_partners),
    )


def _billing_dates(
    c: CustomerRow,
    ctx: BillingContext,
    services: list[ServiceRow],
    otcs: list[OneTimeCharge],
    run_date: date,
) -> list[date]:
    """The customer's billing dates not processed yet, up to ``run_date`` (catch-up)."""
    if c.billed_through is not None:
        start_from = c.billed_through + ONE_DAY
    else:
        starts = [s.start_date for s in services] + [o.charge_date for o in otcs]
        if not starts:
            return []
        start_from = min(starts)
    return list(ctx.cycle.dates_between(start_from, run_date))


def _services_rate(
    services: list[ServiceRow],
    *,
    c: CustomerRow,
    partner: Partner,
    ctx: BillingContext,
    prices: dict[tuple[int, int], int],
    billable: bool,
    d: date,
    carry: list[Any],
    touched: list[ServiceRow],
) -> int:
    """Rate the customer's services on billing date ``d`` into ``carry``; a service not
    charged (inactive customer, paused) has its pointer moved past the periods skipped.
    Returns how many charges were made."""
    made = 0
    for s in services:
        terms = service_terms(s, service_price_minor(s, partner, ctx, prices))
        if not billable or not _chargeable(s):
            moved = skipped_through(
                terms=terms,
                cycle=ctx.cycle,
                prepaid=ctx.prepaid,
                charged_through=s.charged_through,
                billing_date=d,
            )
            if moved != s.charged_through:
                s.charged_through = moved
                touched.append(s)
            continue
        for cd in service_rate(
            terms=terms,
            cycle=ctx.cycle,
            prepaid=ctx.prepaid,
            charged_through=s.charged_through,
            billing_date=d,
        ):
            carry.append(
                service_charge_row(
                    s,
                    cd,
                    partner_id=c.partner_id,
                    customer_id=c.pk,
                    account_id=ctx.account_id,
                    issuer=ctx.issuer,
                    kind=ChargeKind.RETAIL,
                    billing_date=d,
                )
            )
            made += 1
            s.charged_through = cd.next_uncharged
            touched.append(s)
    return made


def _one_time_charges_due(
    otcs: list[OneTimeCharge], *, c: CustomerRow, ctx: BillingContext, d: date, carry: list[Any]
) -> int:
    """The one-time charges dated up to ``d`` into ``carry`` (each taken once)."""
    due = [o for o in otcs if o.charge_date <= d]
    for o in due:
        otcs.remove(o)
        carry.append(
            one_time_charge_row(
                charge=o, customer=c, account_id=ctx.account_id, issuer=ctx.issuer, billing_date=d
            )
        )
    return len(due)


def _customer_bill(
    c: CustomerRow, inputs: _ChunkInputs, work: _ChunkWork, *, run_date: date, run_id: int | None
) -> int | None:
    """Bill one customer for every billing date it has due: its charges per date go on an
    invoice draft, or are held (aggregated partners), or wait when the total is zero.
    Returns the charges made, None when it had no date to bill."""
    partner = inputs.partners[c.partner_id]
    ctx = billing_context(c, partner, inputs.home)
    services = inputs.services.get(c.pk, [])
    otcs = inputs.one_time.get(c.pk, [])
    dates = _billing_dates(c, ctx, services, otcs, run_date)
    if not dates:
        return None
    work.caught_up += len(dates) > 1
    billable = c.status != CustomerStatus.INACTIVE
    carry: list[Any] = list(inputs.pending.get(c.pk, []))
    made = 0
    for d in dates:
        made += _services_rate(
            services,
            c=c,
            partner=partner,
            ctx=ctx,
            prices=inputs.prices,
            billable=billable,
            d=d,
            carry=carry,
            touched=work.touched_services,
        )
        if billable:
            made += _one_time_charges_due(otcs, c=c, ctx=ctx, d=d, carry=carry)
        if ctx.held:
            work.loose.extend(carry)
            carry = []
            continue
        draft = InvoiceDraft(
            issuer=ctx.issuer,
            account=c,
            kind=InvoiceKind.RECURRING,
            billing_date=d,
            issue_date=run_date,
            due_days=ctx.payment_due_days,
            billing_run_id=run_id,
            charges=carry,
        )
        if carry and draft.total_preview > 0:
            work.drafts.append(draft)
            carry = []
    # A zero total waits for the next invoice: its new charges are stored uninvoiced.
    work.loose.extend(ch for ch in carry if ch.pk is None)
    c.billed_through = dates[-1]
    return made


def _chunk_write(
    work: _ChunkWork,
    customers: list[CustomerRow],
    *,
    stats: ChunkStats,
    names: dict[int, str],
    owners: dict[int, str],
    run_date: date,
) -> None:
    """Issue the drafts, store the charges and the moved pointers (bulk), then number the
    invoices and apply the customers' credit, last."""
    issued = invoices_issue(work.drafts, number_now=False)
    invoiced_charges_store(issued.charges)
    stats.count_invoices(work.drafts, issued.invoices, names, owners=owners)
    charges_insert(work.loose)
    column_set(Service, "charged_through", {s.pk: s.charged_through for s in work.touched_services})
    column_set(Customer, "billed_through", {c.pk: c.billed_through for c in customers})
    _number_and_apply_credit(issued.invoices, run_date)


def _chunk_bill(*, customer_ids: list[int], run_date: date, run_id: int | None) -> ChunkStats:
    """Bill a chunk of customers in one transaction: lock them, read their data in bulk,
    bill each, write everything in bulk."""
    stats = ChunkStats()
    with transaction.atomic():
        partners = {p.pk: p for p in Partner.objects.all()}
        customers = _chunk_customers_lock(customer_ids=customer_ids, run_date=run_date)
        if not customers:
            return stats
        inputs = _chunk_inputs_read(customers=customers, partners=partners, run_date=run_date)
        work = _ChunkWork()
        for c in customers:
            made = _customer_bill(c, inputs, work, run_date=run_date, run_id=run_id)
            if made is None:
                continue
            stats.customers_billed += 1 if made else 0
            stats.charges_created += made
        stats.caught_up += work.caught_up
        names = {pk: p.name for pk, p in partners.items()}
        owners = {p.account_id: p.name for p in partners.values() if p.account_id}
        _chunk_write(work, customers, stats=stats, names=names, owners=owners, run_date=run_date)
    return stats


def _number_and_apply_credit(invoices: list[IssuedInvoice], run_date: date) -> None:
    """Number the invoices (which writes their rows on PostgreSQL), then use the customers'
    credit on them: last in the chunk, so the numbering lock is held only briefly. The
    foreign keys of the rows written so far are checked first, outside the lock (those
    pointing at the invoices, not written yet, at the commit)."""
    deferred_checks_run(except_referencing=Invoice)
    invoices_number(invoices, in_run=True)
    if invoices:
        credit_apply(customer_ids=[inv.customer_id for inv in invoices], on=run_date)


def _chargeable(s: ServiceRow) -> bool:
    """Active services are charged; a stopped one still up to its end date (its last,
    prorated period); a paused one is not charged for the periods it is paused."""
    if s.status == ServiceStatus.ACTIVE:
        return True
    return s.status == ServiceStatus.STOPPED and s.end_date is not None


def billing_progress(run_id: int | None) -> None:
    """One more step of the run done (a chunk, or the aggregation phase)."""
    if run_id is not None:
        BillingRun.objects.filter(pk=run_id).update(chunks_done=F("chunks_done") + 1)


def service_price_minor(
    s: ServiceRow, partner: Partner, ctx: BillingContext, prices: dict[tuple[int, int], int]
) -> int:
    """A service's unit price on this bill: the partner's wholesale price where the partner
    is billed, else its override, else its tariff's price."""
    if ctx.wholesale_pricing:
        return wholesale_price_minor(
            retail_minor=s.tariff_price_minor,
            partner_price_minor=prices.get((s.tariff_id, partner.pk)),
            discount_bp=partner.discount_bp,
        )
    if s.price_override_minor is not None:
        return s.price_override_minor
    return s.tariff_price_minor


# -- aggregation phase ------------------------------------------------------------------------


def billing_aggregate_process(*, run_date: date, run_id: int | None) -> ChunkStats:
    """Aggregated invoices (and own-invoicing partners' wholesale invoices) on each partner's
    aggregation dates up to ``run_date``: one invoice to the partner's account per date.
    If it raises, each partner is aggregated on its own and those that fail are recorded."""
    try:
        stats = _aggregate_bill(run_date=run_date, run_id=run_id)
    except NOT_ISOLATED:
        raise
    except Exception:
        log.warning("billing.aggregation_failed_isolating", extra={"run_id": run_id}, exc_info=True)
        stats = ChunkStats()
        for partner_id in aggregation_partner_accounts(run_date=run_date):
            stats.merge(
                billing_aggregate_partner_isolated(
                    run_date=run_date, run_id=run_id, partner_id=partner_id
                )
            )
    billing_progress(run_id)
    return stats


def _aggregating_partners() -> Any:
    """Partners billed in the aggregation phase: aggregated ones, and own-invoicing ones with
    wholesale charges, that have an account to bill."""
    return Partner.objects.filter(
        Q(mode=PartnerMode.AGGREGATED) | Q(mode=PartnerMode.OWN_INVOICING, wholesale_charges=True),
        account__isnull=False,
    )


def aggregation_partner_accounts(*, run_date: date) -> dict[int, int]:
    """The partners whose aggregation phase is not done for ``run_date`` yet, by id, with
    their accounts' ids (each can be billed in its own transaction, side by side:
    ``billing_aggregate_partner``)."""
    return dict(
        _aggregating_partners()
        .filter(Q(aggregated_through__isnull=True) | Q(aggregated_through__lt=run_date))
        .order_by("pk")
        .values_list("pk", "account_id")
    )


def billing_aggregate_partner(*, run_date: date, run_id: int | None, partner_id: int) -> ChunkStats:
    """The aggregation phase of one partner (its own transaction; the run's progress is
    counted once for the whole phase by whoever runs the partners)."""
    return _aggregate_bill(run_date=run_date, run_id=run_id, partner_ids=[partner_id])


def billing_aggregate_partner_isolated(
    *, run_date: date, run_id: int | None, partner_id: int
) -> ChunkStats:
    """``billing_aggregate_partner``; if it raises, the failure is recorded and skipped."""
    try:
        return billing_aggregate_partner(run_date=run_date, run_id=run_id, partner_id=partner_id)
    except NOT_ISOLATED:
        raise
    except Exception as exc:
        account_id = Partner.objects.filter(pk=partner_id).values_list("account_id", flat=True)
        stats = ChunkStats()
        stats.failures.append(
            failure_record(
                run_id=run_id,
                stage=FailureStage.AGGREGATION,
                partner_id=partner_id,
                customer_id=account_id.first(),
                exc=exc,
            )
        )
        return stats


def _aggregate_bill(
    *, run_date: date, run_id: int | None, partner_ids: list[int] | None = None
) -> ChunkStats:
    stats = ChunkStats()
    with transaction.atomic():
        chosen = _aggregating_partners()
        if partner_ids is not None:
            chosen = chosen.filter(pk__in=partner_ids)
        partners = list(chosen.select_for_update(no_key=True).order_by("pk"))
        if not partners:
            return stats
        home = Partner.objects.get(is_home=True)
        names = {p.pk: p.name for p in Partner.objects.all()}
        drafts: list[InvoiceDraft] = []
        loose: list[Any] = []
        for p in partners:
            if p.aggregated_through is not None and p.aggregated_through >= run_date:
                continue
            cycle = wholesale_cycle(p)
            account = Customer.objects.get(pk=p.account_id or 0)
            if p.mode == PartnerMode.OWN_INVOICING:
                new = _wholesale_charges(
                    partner=p, home=home, account=account, cycle=cycle, run_date=run_date
                )
                stats.charges_created += len(new)
            else:
                new = []
            held = charge_rows(
                Charge.objects.filter(
                    account=account, invoice__isnull=True, credit_note__isnull=True
                )
                .exclude(customer_id=account.pk)
                .order_by("billing_date", "customer_id", "pk")
            )
            pending = held + new
            if p.aggregated_through is not None:
                start_from = p.aggregated_through + ONE_DAY
            else:
                firsts = [ch.billing_date for ch in pending]
                if not firsts:
                    continue
                start_from = min(firsts)
            dates = list(cycle.dates_between(start_from, run_date))
            if not dates:
                loose.extend(ch for ch in new)
                continue
            stats.caught_up += len(dates) > 1
            kind = (
                InvoiceKind.AGGREGATED
                if p.mode == PartnerMode.AGGREGATED
                else InvoiceKind.WHOLESALE
            )
            carry: list[Any] = []
            titles = {
                pk: f"{reference} {company or name}".strip()
                for pk, reference, company, name in Customer.objects.filter(
                    pk__any_in=list({ch.customer_id for ch in pending})
                ).values_list("pk", "reference", "company", "name")
            }
            for d in dates:
                carry.extend(ch for ch in pending if ch.billing_date <= d)
                pending = [ch for ch in pending if ch.billing_date > d]
                draft = InvoiceDraft(
                    issuer=home,
                    account=account,
                    kind=kind,
                    billing_date=d,
                    issue_date=run_date,
                    due_days=account.payment_due_days
                    if account.payment_due_days is not None
                    else home.payment_due_days,
                    billing_run_id=run_id,
                    charges=carry,
                    sections={ch.customer_id: titles[ch.customer_id] for ch in carry},
                )
                if carry and draft.total_preview > 0:
                    drafts.append(draft)
                    carry = []
            loose.extend(ch for ch in carry + pending if ch.pk is None)
            p.aggregated_through = dates[-1]
            Partner.objects.filter(pk=p.pk).update(aggregated_through=dates[-1])
        issued = invoices_issue(drafts, number_now=False)
        invoiced_charges_store(issued.charges)
        owners = {p.account_id: p.name for p in partners if p.account_id}
        stats.count_invoices(drafts, issued.invoices, names, owners=owners)
        charges_insert(loose)
        _number_and_apply_credit(issued.invoices, run_date)
    return stats


def _wholesale_charges(
    *, partner: Partner, home: Partner, account: Customer, cycle: Cycle, run_date: date
) -> list[ChargeRow]:
    """An own-invoicing partner's customers' active services on operator tariffs, rated at
    partner prices on the partner's aggregation cycle (kind ``wholesale``)."""
    prices = partner_prices_minor({partner.pk})
    out: list[ChargeRow] = []
    touched: list[ServiceRow] = []
    services = service_rows(
        Service.objects.filter(partner=partner, tariff__partner=home, status=ServiceStatus.ACTIVE)
        .exclude(customer__status=CustomerStatus.INACTIVE)
        .order_by("customer_id", "pk")
    )
    for s in services:
        price = wholesale_price_minor(
            retail_minor=s.tariff_price_minor,
            partner_price_minor=prices.get((s.tariff_id, partner.pk)),
            discount_bp=partner.discount_bp,
        )
        terms = service_terms(s, price)
        for d in cycle.dates_between(s.wholesale_charged_through or s.start_date, run_date):
            for cd in service_rate(
                terms=terms,
                cycle=cycle,
                prepaid=True,
                charged_through=s.wholesale_charged_through,
                billing_date=d,
            ):
                out.append(
                    service_charge_row(
                        s,
                        cd,
                        partner_id=s.partner_id,
                        customer_id=s.customer_id,
                        account_id=account.pk,
                        issuer=home,
                        kind=ChargeKind.WHOLESALE,
                        billing_date=d,
                    )
                )
                s.wholesale_charged_through = cd.next_uncharged
                touched.append(s)
    column_set(
        Service, "wholesale_charged_through", {s.pk: s.wholesale_charged_through for s in touched}
    )
    return out


# -- the run --------------------------------------------------------------------------------


def _chunk_in_thread(chunk: list[int], run_date: date, run_id: int | None) -> ChunkStats:
    from django.db import connection

    try:
        with system_scope():
            return billing_chunk_process(customer_ids=chunk, run_date=run_date, run_id=run_id)
    finally:
        connection.close()


SQLITE_THREADS_IGNORED = (
    "BILLING_THREADS=%d is ignored on SQLite: it has one writer at a time, so chunks run one "
    "after the other (threads would only queue for the write lock); use PostgreSQL for "
    "parallel chunks (docs/operations.md)"
)


def billing_threads(vendor: str) -> int:
    """How many threads a run's chunks use on a database of ``vendor``: ``BILLING_THREADS``
    on PostgreSQL, 1 on SQLite. SQLite lets one transaction write at a time (ispbill opens
    them ``IMMEDIATE``, taking the write lock at the start), and a chunk is one writing
    transaction from its first read to its commit: a second thread would only wait for the
    lock (and give up after the 30 s timeout on a long chunk), never run beside the first."""
    return max(1, settings.BILLING_THREADS) if vendor == "postgresql" else 1


def _execute(
    run: BillingRun | None, *, run_date: date, issuer: Partner | None, chunk_size: int
) -> ChunkStats:
    from django.db import connection

    chunks = chunk_plan(run_date=run_date, issuer=issuer, chunk_size=chunk_size).chunks
    run_id = run.pk if run else None
    if run is not None:
        BillingRun.objects.filter(pk=run.pk).update(chunks_total=len(chunks) + (0 if issuer else 1))
    stats = ChunkStats()
    threads = billing_threads(connection.vendor)
    if threads < settings.BILLING_THREADS:
        log.warning(SQLITE_THREADS_IGNORED, settings.BILLING_THREADS)
    if threads > 1 and run is not None and not connection.in_atomic_block and len(chunks) > 1:
        # Chunks are independent transactions: while one thread waits on PostgreSQL, another
        # rates in Python. Each thread has its own connection and opens its own scope.
        with ThreadPoolExecutor(max_workers=threads) as pool:
            futures = [pool.submit(_chunk_in_thread, c, run_date, run_id) for c in chunks]
            for future in futures:
                stats.merge(future.result())
    else:
        for chunk in chunks:
            stats.merge(billing_chunk_process(customer_ids=chunk, run_date=run_date, run_id=run_id))
    if issuer is None:
        stats.merge(billing_aggregate_process(run_date=run_date, run_id=run_id))
    return stats


def billing_run_start(
    *,
    run_date: date,
    dry_run: bool = False,
    issuer: Partner | None = None,
    started_by: str = "",
    chunk_size: int | None = None,
) -> RunSummary:
    """Run billing for every billing date up to ``run_date`` not processed yet.

    ``dry_run`` computes everything in a transaction that is rolled back: it shows what
    would be issued (per partner) and writes nothing, not even a number."""
    size = chunk_size or settings.BILLING_CHUNK_SIZE
    if dry_run:
        began = time.monotonic()
        try:
            with transaction.atomic():
                stats = _execute(None, run_date=run_date, issuer=issuer, chunk_size=size)
                raise _DryRunRollback(
                    RunSummary(None, run_date, True, stats, time.monotonic() - began)
                )
        except _DryRunRollback as rollback:
            return rollback.summary
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return billing_run_dispatch(
            run_date=run_date, issuer=issuer, started_by=started_by, chunk_size=size
        )
    run = billing_run_create(run_date=run_date, issuer=issuer, started_by=started_by)
    return _run_execute(run, chunk_size=size)


def _run_execute(run: BillingRun, *, chunk_size: int) -> RunSummary:
    """Do a recorded run in this process, then write its summary."""

    began = time.monotonic()
    issuer = run.scope_partner
    billing_runs_supersede(run=run, stuck_only=True)
    try:
        stats = _execute(run, run_date=run.run_date, issuer=issuer, chunk_size=chunk_size)
    except Exception as exc:
        BillingRun.objects.filter(pk=run.pk).update(
            status=BillingRunStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}",
            finished_at=timezone.now(),
        )
        log.exception("billing_run.failed", extra={"run_id": run.pk})
        raise
    billing_run_finish(run_id=run.pk, stats=stats)
    status = BillingRunStatus.PARTIAL if stats.failures else BillingRunStatus.DONE
    return RunSummary(run.pk, run.run_date, False, stats, time.monotonic() - began, status=status)


def billing_run_launch(
    *, run_date: date, issuer: Partner | None = None, started_by: str = ""
) -> BillingRun:
    """Start a run in the background and return it at once, ``running``: the web's way (a
    request never waits for a run; its page polls the progress). With a broker the chunks
    go to the Celery workers; without one (the in-process default) the run goes on in a
    thread of this process. A second start of the same scope and date while it runs raises
    ``BillingRunBusy`` (the database refuses it)."""
    billing_run_date_check(run_date)
    size = settings.BILLING_CHUNK_SIZE
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        from ispbill.billing.tasks import billing_run_dispatch

        summary = billing_run_dispatch(
            run_date=run_date, issuer=issuer, started_by=started_by, chunk_size=size
        )
        return BillingRun.objects.get(pk=summary.run_id)
    run = billing_run_create(run_date=run_date, issuer=issuer, started_by=started_by)
    if settings.BILLING_RUN_IN_THREAD:
        transaction.on_commit(lambda: _run_in_background(run.pk, size))
    else:  # in the request (tests): the run is done when the page answers
        _run_execute(run, chunk_size=size)
        run.refresh_from_db()
    return run


# Test hook: how the in-process background run is started (a test joins the thread).
background_threads: list[threading.Thread] = []


def _run_in_background(run_id: int, chunk_size: int) -> None:
    thread = threading.Thread(
        target=_run_in_thread, args=(run_id, chunk_size), name=f"billing-run-{run_id}", daemon=True
    )
    background_threads.append(thread)
    thread.start()


def _run_in_thread(run_id: int, chunk_size: int) -> None:
    from django.db import connection

    try:
        with system_scope():
            run = BillingRun.objects.select_related("scope_partner").get(pk=run_id)
            _run_execute(run, chunk_size=chunk_size)
    except Exception:  # marked failed with its error by _run_execute; logged there
        log.warning("billing_run.background_failed", extra={"run_id": run_id})
    finally:
        connection.close()


def billing_run_finish(*, run_id: int, stats: ChunkStats | None = None) -> None:
    totals = {
        cur: total
        for cur, total in Invoice.objects.filter(billing_run_id=run_id)
        .values_list("currency")
        .annotate(t=Sum("total_minor"))
    }
    invoices = Invoice.objects.filter(billing_run_id=run_id).count()
    failures = BillingFailure.objects.filter(run_id=run_id).count()
    update: dict[str, Any] = {
        "status": BillingRunStatus.PARTIAL if failures else BillingRunStatus.DONE,
        "finished_at": timezone.now(),
        "totals": totals,
        "invoices_issued": invoices,
        "failures_count": failures,
    }
    if stats is not None:
        update["customers_billed"] = stats.customers_billed
        update["charges_created"] = stats.charges_created
    BillingRun.objects.filter(pk=run_id).update(**update)
    billing_failures_resolve(run_id=run_id)
    billing_run_finished.send(sender=BillingRun, run_id=run_id)
    if invoices >= ANALYZE_AFTER_INVOICES:
        _run_tables_analyze()


# A run that issued this many invoices refreshes the planner's statistics of the tables it
# wrote (PostgreSQL), as after any bulk load: until autovacuum gets to them, a query joining
# the run's new rows (its page's e-mails, say) may be planned for one row and take minutes.
ANALYZE_AFTER_INVOICES = 1000
_RUN_TABLES = (
    "billing_charge",
    "invoicing_invoice",
    "invoicing_invoiceline",
    "invoicing_invoicetax",
    "ledger_journalentry",
    "ledger_posting",
)


def _run_tables_analyze() -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(_RUN_TABLES)}")


def billing_run_figures(run_id: int) -> ChunkStats:
    """A run's issued invoices counted as the preview counts them (per issuer and
    recipient, per billing date), from the invoices themselves: the same figures whether
    the run went in one process or on many workers."""
    stats = ChunkStats()
    partners = {p.pk: p for p in Partner.objects.all()}
    names = {pk: p.name for pk, p in partners.items()}
    owners = {p.account_id: p.name for p in partners.values() if p.account_id}
    invoices = Invoice.objects.filter(billing_run_id=run_id).order_by()
    fields = ["partner_id", "issuer_id", "kind", "billing_date", "currency"]
    # Recurring invoices by partner (one row per group); partners' invoices by account.
    rows = [
        (p, i, 0, k, d, c, n, t)
        for p, i, k, d, c, n, t in invoices.filter(kind=InvoiceKind.RECURRING)
        .values_list(*fields)
        .annotate(n=Count("pk"), t=Sum("total_minor"))
    ] + list(
        invoices.exclude(kind=InvoiceKind.RECURRING)
        .values_list(*fields[:2], "customer_id", *fields[2:])
        .annotate(n=Count("pk"), t=Sum("total_minor"))
    )
    for partner_id, issuer_id, customer_id, kind, billing_date, currency, n, total in rows:
        stats.count(
            partner_id=partner_id,
            issuer_id=issuer_id,
            customer_id=customer_id,
            kind=kind,
            billing_date=billing_date,
            currency=currency,
            total_minor=total,
            names=names,
            owners=owners,
            n=n,
        )
    return stats


def billing_failures_resolve(*, run_id: int) -> int:
    """Resolve the open failures of earlier runs that this finished run retried: those of
    its scope (every customer, or its issuer's) for a date up to its date. A customer that
    failed again has a new failure of this run (which resolved the old one when recorded);
    every other one was billed. Returns how many were resolved."""
    run = BillingRun.objects.get(pk=run_id)
    retried = BillingFailure.objects.filter(
        stage__in=[FailureStage.CUSTOMER, FailureStage.AGGREGATION],
        resolved_at__isnull=True,
        run__run_date__lte=run.run_date,
        run_id__lt=run_id,
    )
    if run.scope_partner_id is not None:
        retried = retried.filter(
            stage=FailureStage.CUSTOMER, customer__partner_id=run.scope_partner_id
        )
    else:
        own = own_run_partner_ids()
        if own:  # the operator's run did not retry the customers of partners' own runs
            retried = retried.exclude(stage=FailureStage.CUSTOMER, partner_id__in=own)
    return retried.update(resolved_at=timezone.now(), resolved_by_run_id=run_id)


def billing_run_is_stuck(run: BillingRun) -> bool:
    """Still ``running`` past ``BILLING_RUN_TIMEOUT`` after its start: its process (or the
    worker holding a chunk) was most likely killed."""
    return run.status == BillingRunStatus.RUNNING and run.started_at < billing_run_stuck_before()


def billing_run_abandon(*, run_id: int, actor: Any, force: bool = False) -> BillingRun:
    """Mark a run left ``running`` as failed, so it no longer shows as going: one stuck past
    ``BILLING_RUN_TIMEOUT`` (or any running one with ``force``, when the operator knows its
    process is gone). What it committed stays; the next run does what it left."""
    with transaction.atomic():
        run = BillingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            raise BillingRunError(f"There is no billing run {run_id}.")
        if run.status != BillingRunStatus.RUNNING:
            raise BillingRunError(
                f"Billing run {run_id} is {run.status_label.lower()}, not running: nothing to do."
            )
        if not force and not billing_run_is_stuck(run):
            raise BillingRunError(
                f"Billing run {run_id} started {run.started_at:%Y-%m-%d %H:%M} and may still be "
                f"going; it counts as stuck after {settings.BILLING_RUN_TIMEOUT // 60} minutes. "
                "If you know its process is gone, force it."
            )
        label = getattr(actor, "username", None) or str(actor or "system")
        run.status = BillingRunStatus.FAILED
        run.finished_at = timezone.now()
        run.error = (
            f"Marked failed by {label}: left running since {run.started_at:%Y-%m-%d %H:%M} "
            f"({run.chunks_done} of {run.chunks_total} steps done). Start the run again to do "
            "what it left."
        )
        run.save(update_fields=["status", "finished_at", "error"])

        audit_record(
            action="billing_run.abandoned",
            obj=run,
            actor=actor,
            partner_id=run.scope_partner_id,
            changes={"status": {"before": BillingRunStatus.RUNNING, "after": run.status}},
        )
    return run


def billing_run_resume(
    *, run_id: int, actor: Any, force: bool = False, background: bool = False
) -> RunSummary:
    """Mark a stuck run failed (``billing_run_abandon``) and start the run again for its
    date and scope: the new run does exactly what the stuck one left. ``background``: as
    the web starts runs (``billing_run_launch``), answering the new run ``running``."""
    run = billing_run_abandon(run_id=run_id, actor=actor, force=force)
    if background:
        new = billing_run_launch(
            run_date=run.run_date,
            issuer=run.scope_partner,
            started_by=getattr(actor, "username", None) or str(actor or ""),
        )
        return RunSummary(new.pk, new.run_date, False, ChunkStats(), 0.0, status="running")
    return billing_run_start(
        run_date=run.run_date,
        issuer=run.scope_partner,
        started_by=getattr(actor, "username", None) or str(actor or ""),
    )
