"""Checks of ``ispbill check`` that notice billing work left undone: a billing run stuck in
``running``, customers whose billing failed and was not retried (docs/operations.md,
"Checks"); and that invoiced charges belong to their invoice's account."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, F, Q

from ispbill.billing.models import BillingFailure, BillingRun, BillingRunStatus, Charge
from ispbill.core.invariants import Breach, invariant
from ispbill.customers.models import Customer

_MAX_IDS = 20


def _charge_ids(prefix: str, values: object) -> tuple[str, ...]:
    return tuple(f"{prefix}:{v}" for v in list(values)[:_MAX_IDS])  # type: ignore[call-overload]


@invariant("billing.stuck_runs")
def check_stuck_runs() -> list[Breach]:
    from ispbill.billing.tasks import billing_run_stuck_before

    stuck = list(
        BillingRun.objects.filter(
            status=BillingRunStatus.RUNNING, started_at__lt=billing_run_stuck_before()
        ).values_list("pk", flat=True)
    )
    if not stuck:
        return []
    return [
        Breach(
            "billing.stuck_runs",
            f"{len(stuck)} billing run(s) still running {settings.BILLING_RUN_TIMEOUT // 60} "
            "minutes after their start (the process was most likely killed); resume each "
            f"with 'ispbill billing-run {stuck[0]} --resume' or on its page",
            tuple(f"billing_run:{pk}" for pk in stuck[:_MAX_IDS]),
        )
    ]


@invariant("billing.open_failures")
def check_open_failures() -> list[Breach]:
    out = []
    for stage, n in (
        BillingFailure.objects.filter(resolved_at__isnull=True)
        .values_list("stage")
        .annotate(n=Count("pk"))
        .order_by("stage")
    ):
        ids = BillingFailure.objects.filter(resolved_at__isnull=True, stage=stage).values_list(
            "run_id", "customer_id", "partner_id"
        )[:_MAX_IDS]
        out.append(
            Breach(
                "billing.open_failures",
                f"{n} {stage} failure(s) not retried yet: fix the cause (the run's page or "
                "'ispbill billing-run N' shows each error), then run again ('ispbill bill' "
                "or 'ispbill dunning')",
                tuple(
                    (f"billing_run:{run}/" if run else "")
                    + (f"customer:{customer}" if customer else f"partner:{partner}")
                    for run, customer, partner in ids
                ),
            )
        )
    return out


@invariant("billing.charges")
def check_charges() -> list[Breach]:
    """Invoiced charges belong to their invoice's account; no charge on a foreign invoice."""
    bad = (
        Charge.objects.filter(invoice__isnull=False)
        .exclude(account_id=F("invoice__customer_id"))
        .values_list("pk", flat=True)
    )
    out = []
    if bad:
        out.append(
            Breach(
                "billing.charges", "charges invoiced to another account", _charge_ids("charge", bad)
            )
        )
    statuses = Customer.objects.filter(
        ~Q(status__in=["new", "active", "blocked", "inactive"])
    ).values_list("pk", flat=True)
    if statuses:
        out.append(
            Breach(
                "billing.charges",
                "customers with an unknown status",
                _charge_ids("customer", statuses),
            )
        )
    return out
