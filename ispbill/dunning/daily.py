"""The daily work: the plan changes due, billing up to today, the services past their end
date stopped, then dunning and reminders, then the commission statements of every closed
month not built yet.

The operator's run bills (and duns) every customer but those of own-invoicing partners that
run their own billing (``Partner.runs_own_billing``); each of those gets a run of its own,
so its run history holds its runs (docs/reseller-modes.md, "Own runs")."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from django.utils import timezone

from ispbill.billing.plan_changes import DueResult, plan_changes_apply_due
from ispbill.billing.run import billing_run_start, own_run_partner_ids
from ispbill.commission.statements import commission_statements_build_closed
from ispbill.dunning.services import dunning_run
from ispbill.partners.models import Partner
from ispbill.subscriptions.services import services_stop_ended

log = logging.getLogger(__name__)


def daily_work(*, today: date | None = None) -> dict[str, Any]:
    day = today or timezone.localdate()
    # First the plan changes of the day, so that its run charges the new tariffs at once
    # (instead of charging the old ones to give them back).
    try:
        changes = plan_changes_apply_due(on=day)
    except Exception:
        log.exception("daily_work.plan_changes_failed")
        changes = DueResult()
    own = list(Partner.objects.filter(pk__in=own_run_partner_ids()).order_by("pk"))
    invoices = 0
    failed = 0
    errors: list[str] = []
    for issuer in [None, *own]:
        try:
            summary = billing_run_start(run_date=day, issuer=issuer, started_by="scheduler")
            invoices += summary.stats.invoices_issued
            failed += len(summary.stats.failures)
        except Exception as exc:
            # The run is marked failed with its error (or one for the day is going); the
            # other runs and dunning still run for everyone.
            log.exception(
                "daily_work.billing_failed", extra={"issuer": getattr(issuer, "pk", None)}
            )
            who = issuer.name if issuer is not None else "operator"
            errors.append(f"billing failed ({who}): {type(exc).__name__}: {exc}")
    # Services past their end date stop (their RADIUS access goes); billing charged them up
    # to their end date either way.
    stop_errors: list[str] = []
    try:
        ended = services_stop_ended(today=day)
    except Exception as exc:
        log.exception("daily_work.services_stop_failed")
        ended = []
        stop_errors.append(f"stopping ended services failed: {type(exc).__name__}: {exc}")
    blocked = deactivated = subs = reminders = dunning_failures = 0
    for issuer in [None, *own]:
        dunning = dunning_run(today=day, issuer=issuer, actor="scheduler")
        blocked += len(dunning.blocked)
        deactivated += len(dunning.deactivated)
        subs += len(dunning.subcustomers_blocked)
        reminders += dunning.reminders
        dunning_failures += len(dunning.failures)
    # Commission statements of closed months (from each partner's statement day), after
    # the day's payments and credit notes so their lines are in.
    statements_built = 0
    statement_errors: list[str] = []
    try:
        closed = commission_statements_build_closed(
            today=day, actor="scheduler", on_statement_day=True
        )
        statements_built = len(closed.built)
        statement_errors.extend(f"commission statement failed: {f}" for f in closed.failures)
    except Exception as exc:
        log.exception("daily_work.statements_failed")
        statement_errors.append(f"commission statements failed: {type(exc).__name__}: {exc}")
    result: dict[str, Any] = {
        "date": day.isoformat(),
        "plan_changes": len(changes.applied),
        "plan_changes_cancelled": len(changes.cancelled),
        "plan_change_failures": len(changes.failures),
        "invoices": "; ".join(errors) if errors and not invoices else invoices,
        "billing_failures": failed,
        "services_stopped": len(ended),
        "blocked": blocked,
        "deactivated": deactivated,
        "subcustomers_blocked": subs,
        "reminders": reminders,
        "dunning_failures": dunning_failures,
        "statements_built": statements_built,
    }
    if errors or stop_errors or statement_errors:
        result["errors"] = [*errors, *stop_errors, *statement_errors]
    log.info("daily_work.done", extra=result)
    return result
