"""`ispbill check` notices work left undone (issue 27): a run stuck in "running", issued
invoices without their stored PDF, emails failed after their retries; and `ispbill bill`
and `ispbill billing-run` show a run's failures and resume a stuck run."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from ispbill.billing.models import BillingRun
from ispbill.billing.run import billing_run_start
from ispbill.cli import main
from ispbill.core.invariants import invariants_check
from ispbill.invoicing.models import EmailDelivery, EmailKind, EmailStatus, Invoice

from .builders import customer, service, tariff
from .test_fault_isolation import APRIL, _hostile_setup

pytestmark = pytest.mark.django_db


def breaches(name: str) -> list:
    return [b for b in invariants_check()[1] if b.check == name]


def _stuck_run(hours: float, run_date: date = APRIL) -> BillingRun:
    run = BillingRun.objects.create(run_date=run_date, chunks_total=3, chunks_done=1)
    BillingRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(hours=hours))
    return BillingRun.objects.get(pk=run.pk)


def test_check_reports_a_run_stuck_in_running_past_the_timeout(home, settings, capsys):
    settings.BILLING_RUN_TIMEOUT = 2 * 3600
    _stuck_run(hours=1, run_date=APRIL - timedelta(days=1))  # may still be going
    assert breaches("billing.stuck_runs") == []
    old = _stuck_run(hours=3)
    [breach] = breaches("billing.stuck_runs")
    assert breach.ids == (f"billing_run:{old.pk}",)
    assert main(["check"]) == 1
    assert f"billing_run:{old.pk}" in capsys.readouterr().out


def test_a_stuck_run_is_resumed_from_the_cli(home, capsys):
    c = customer()
    service(c, tariff(price=3000), APRIL)
    stuck = _stuck_run(hours=3)
    assert main(["billing-run", str(stuck.pk)]) == 0
    assert "stuck" in capsys.readouterr().out
    assert main(["billing-run", str(stuck.pk), "--resume"]) == 0
    stuck.refresh_from_db()
    assert stuck.status == "failed" and "Marked failed by cli" in stuck.error
    new = BillingRun.objects.exclude(pk=stuck.pk).get()
    assert (new.status, new.invoices_issued, new.run_date) == ("done", 1, APRIL)
    assert breaches("billing.stuck_runs") == []
    # Not running any more: nothing to do, said so.
    assert main(["billing-run", str(stuck.pk), "--fail"]) == 2
    assert "not running" in capsys.readouterr().err


def test_a_run_not_stuck_yet_is_failed_only_with_force(home, capsys):
    recent = _stuck_run(hours=0.1)
    assert main(["billing-run", str(recent.pk), "--fail"]) == 2
    assert "may still be going" in capsys.readouterr().err
    assert main(["billing-run", str(recent.pk), "--fail", "--force"]) == 0
    assert BillingRun.objects.get(pk=recent.pk).status == "failed"


def test_an_in_process_run_supersedes_a_stuck_one(home):
    stuck = _stuck_run(hours=3)  # same date: superseded, so that the new run may start
    recent = _stuck_run(hours=0.1, run_date=APRIL - timedelta(days=1))
    billing_run_start(run_date=APRIL)
    assert BillingRun.objects.get(pk=stuck.pk).status == "failed"
    assert BillingRun.objects.get(pk=recent.pk).status == "running"  # may be another process


def test_a_run_of_the_same_date_still_going_refuses_a_second(home):
    """One run per scope and date at a time, in the database: a run started 6 minutes ago
    may still be going, so a second one for its date is refused and names it."""
    from ispbill.billing.run import BillingRunBusy

    recent = _stuck_run(hours=0.1)
    with pytest.raises(BillingRunBusy, match=f"Billing run {recent.pk} for 2026-04-01"):
        billing_run_start(run_date=APRIL)
    assert BillingRun.objects.count() == 1
    # Another date, or a dry run, is not refused.
    assert billing_run_start(run_date=APRIL, dry_run=True).run_id is None
    assert billing_run_start(run_date=APRIL + timedelta(days=1)).status == "done"


def test_check_reports_issued_invoices_without_their_pdf(home, settings):
    settings.RENDER_PDFS_ON_ISSUE = False  # issued without rendering, as a killed worker leaves
    c = customer()
    service(c, tariff(price=3000), APRIL)
    billing_run_start(run_date=APRIL)
    inv = Invoice.objects.get()
    settings.RENDER_PDFS_ON_ISSUE = True
    settings.PDF_MISSING_GRACE = 3600
    assert breaches("documents.pdf_missing") == []  # within the grace period: still coming
    Invoice.objects.filter(pk=inv.pk).update(created_at=timezone.now() - timedelta(hours=2))
    [breach] = breaches("documents.pdf_missing")
    assert breach.ids == (f"invoice:{inv.pk}",)
    settings.RENDER_PDFS_ON_ISSUE = False  # rendering switched off: render-pdfs is the way
    assert breaches("documents.pdf_missing") == []


def test_check_reports_emails_failed_after_their_retries(home):
    c = customer()
    fields = {
        "kind": EmailKind.REMINDER,
        "partner": home,
        "issuer": home,
        "customer": c,
        "to": c.email,
        "from_email": "billing@example.net",
        "subject": "Reminder",
        "body": "Please pay.",
        "message_id": "<1@example.net>",
    }
    EmailDelivery.objects.create(idempotency_key="a", status=EmailStatus.QUEUED, **fields)
    assert breaches("emails.failed") == []
    failed = EmailDelivery.objects.create(
        idempotency_key="b", status=EmailStatus.FAILED, attempts=5, **fields
    )
    [breach] = breaches("emails.failed")
    assert breach.ids == (f"email:{failed.pk}",)


def test_check_reports_emails_left_queued_and_the_cli_sends_them(
    home, settings, capsys, django_capture_on_commit_callbacks
):
    from django.core import mail

    settings.EMAIL_QUEUED_GRACE = 3600
    c = customer()
    fields = {
        "kind": EmailKind.REMINDER,
        "partner": home,
        "issuer": home,
        "customer": c,
        "to": "anna@example.org",
        "from_email": "billing@example.net",
        "subject": "Reminder",
        "body": "Please pay.",
    }
    fresh = EmailDelivery.objects.create(idempotency_key="a", message_id="<1@x>", **fields)
    lost = EmailDelivery.objects.create(idempotency_key="b", message_id="<2@x>", **fields)
    retried = EmailDelivery.objects.create(
        idempotency_key="c", message_id="<3@x>", attempts=1, **fields
    )
    two_hours_ago = timezone.now() - timedelta(hours=2)
    EmailDelivery.objects.filter(pk__in=[lost.pk, retried.pk]).update(created_at=two_hours_ago)
    # Retried 10 minutes ago: its next attempt is still to come.
    EmailDelivery.objects.filter(pk=retried.pk).update(
        last_attempt_at=timezone.now() - timedelta(minutes=10)
    )
    [breach] = breaches("emails.queued_stale")
    assert breach.ids == (f"email:{lost.pk}",)
    with django_capture_on_commit_callbacks(execute=True):
        assert main(["emails", "--send-queued"]) == 0
    assert "Handed 1 queued email(s) to sending." in capsys.readouterr().out
    assert [m.extra_headers["Message-ID"] for m in mail.outbox] == ["<2@x>"]
    assert EmailDelivery.objects.get(pk=lost.pk).status == EmailStatus.SENT
    assert EmailDelivery.objects.get(pk=fresh.pk).status == EmailStatus.QUEUED
    assert breaches("emails.queued_stale") == []


def test_bill_prints_the_failures_and_exits_1(home, capsys):
    _mine, own, bad, _otc = _hostile_setup(home)
    assert main(["bill", "--date", "2026-04-01"]) == 1
    out = capsys.readouterr().out
    run = BillingRun.objects.get()
    assert f"Billing run {run.pk} for 2026-04-01: finished with 1 failure:" in out
    assert "invoices issued:   3" in out
    assert f"{own.name}: customer {bad.reference}: " in out
    assert main(["billing-run", str(run.pk), "-v"]) == 0
    out = capsys.readouterr().out
    assert "Finished with 1 failure" in out and f"customer {bad.reference} [open]" in out
    assert "Traceback" in out
    assert date(2026, 4, 1) == run.run_date


def test_a_big_run_refreshes_the_planner_statistics_of_its_tables(home, monkeypatch):
    """PostgreSQL: after a run of ANALYZE_AFTER_INVOICES invoices or more, as after any bulk
    load (a join of the run's new rows was once planned for one row and took minutes)."""
    from django.db import connection

    from ispbill.billing import run as run_module

    statements: list[str] = []

    def spy(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        statements.append(sql)
        return execute(sql, params, many, context)

    fiber = tariff()
    service(customer(), fiber, APRIL)
    monkeypatch.setattr(run_module, "ANALYZE_AFTER_INVOICES", 2)
    with connection.execute_wrapper(spy):
        billing_run_start(run_date=APRIL)  # one invoice: under the threshold
    assert not [s for s in statements if s.startswith("ANALYZE")]
    service(customer(), fiber, APRIL)
    service(customer(), fiber, APRIL)
    statements.clear()
    with connection.execute_wrapper(spy):
        billing_run_start(run_date=APRIL + timedelta(days=31))
    analyzed = [s for s in statements if s.startswith("ANALYZE")]
    if connection.vendor == "postgresql":
        assert analyzed == [
            "ANALYZE billing_charge, invoicing_invoice, invoicing_invoiceline, "
            "invoicing_invoicetax, ledger_journalentry, ledger_posting"
        ]
    else:
        assert analyzed == []
