"""The in-process thread pool of the billing run (``BILLING_THREADS``), on both databases.

On PostgreSQL chunks run side by side in threads, each with its own connection and scope;
on SQLite, which lets one transaction write at a time, they run one after the other and a
setting above 1 is ignored, saying so (docs/operations.md, "Billing runs")."""

from __future__ import annotations

import logging
import threading
from datetime import date

import pytest
from django.core import checks
from django.db import connection

from ispbill.billing import run as run_module
from ispbill.billing.apps import billing_threads_check
from ispbill.billing.models import BillingRun
from ispbill.billing.run import billing_run_start, billing_threads
from ispbill.core.invariants import invariants_check
from ispbill.invoicing.models import Invoice
from ispbill.partners.services import partner_home

from .builders import customer, service, tariff

APRIL = date(2026, 4, 1)


def _six_customers() -> None:
    partner_home()  # flushed databases get it back from post_migrate; make sure
    for _ in range(6):
        service(customer(), tariff(price=1000), APRIL)


def _record_chunks(monkeypatch, *, meet: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Wrap the chunk: record the thread each chunk ran in; the first ``meet`` chunks wait
    for each other at a barrier, which only chunks running at the same time can pass."""
    real = run_module.billing_chunk_process
    seen: list[str] = []
    barrier = threading.Barrier(meet, timeout=20) if meet > 1 else None
    lock = threading.Lock()

    def chunk(**kw):  # type: ignore[no-untyped-def]
        with lock:
            seen.append(threading.current_thread().name)
            n = len(seen)
        if barrier is not None and n <= meet:
            barrier.wait()  # BrokenBarrierError (the run fails) if chunks run one by one
        return real(**kw)

    monkeypatch.setattr(run_module, "billing_chunk_process", chunk)
    return seen


def _six_invoices_of_11_90() -> None:
    # 10.00 + 19 % VAT = 11.90 each; numbers gapless whatever thread issued them.
    invoices = Invoice.objects.order_by("number")
    assert [i.total_minor for i in invoices] == [1190] * 6
    home = partner_home().pk  # pattern {year}{partner_id|2}{next|6}; a flush renumbers it
    assert [i.number for i in invoices] == [f"2026{home:02d}{n:06d}" for n in range(1, 7)]
    run = BillingRun.objects.get()
    assert (run.status, run.invoices_issued, run.chunks_done, run.chunks_total) == (
        "done",
        6,
        4,
        4,
    )  # three chunks of two customers, and the aggregation phase
    assert invariants_check()[1] == []


@pytest.mark.django_db(transaction=True)
def test_postgresql_runs_chunks_side_by_side_in_threads(settings, monkeypatch):
    """BILLING_THREADS=2: two chunks are in progress at the same time (they meet at a
    barrier), in pool threads, not the caller's; the result is a serial run's."""
    if connection.vendor != "postgresql":
        pytest.skip("threads run chunks on PostgreSQL; SQLite: the next test")
    settings.BILLING_THREADS = 2
    settings.RENDER_PDFS_ON_ISSUE = False
    _six_customers()
    seen = _record_chunks(monkeypatch, meet=2)
    summary = billing_run_start(run_date=APRIL, chunk_size=2)
    assert summary.status == "done"
    main = threading.current_thread().name
    assert len(seen) == 3 and main not in seen and len(set(seen)) == 2
    _six_invoices_of_11_90()


@pytest.mark.django_db(transaction=True)
def test_sqlite_runs_chunks_one_after_the_other_and_says_so(settings, monkeypatch, caplog):
    """BILLING_THREADS=2 on SQLite, outside any transaction (where PostgreSQL would use
    threads): the chunks run in the caller's thread, in order, and the run logs that the
    setting is ignored; the figures are the same."""
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL: the test above")
    settings.BILLING_THREADS = 2
    settings.RENDER_PDFS_ON_ISSUE = False
    _six_customers()
    seen = _record_chunks(monkeypatch, meet=1)
    with caplog.at_level(logging.WARNING, logger="ispbill.billing.run"):
        summary = billing_run_start(run_date=APRIL, chunk_size=2)
    assert summary.status == "done"
    assert seen == [threading.current_thread().name] * 3
    assert "BILLING_THREADS=2 is ignored on SQLite" in caplog.text
    _six_invoices_of_11_90()


def test_threads_per_database(settings):
    settings.BILLING_THREADS = 4
    assert (billing_threads("postgresql"), billing_threads("sqlite")) == (4, 1)
    settings.BILLING_THREADS = 0
    assert billing_threads("postgresql") == 1


def test_the_system_check_warns_of_threads_ignored_on_sqlite(settings):
    settings.BILLING_THREADS = 2
    found = billing_threads_check()
    if connection.vendor == "postgresql":
        assert found == []
    else:
        assert [(m.level, m.id) for m in found] == [(checks.WARNING, "ispbill.W001")]
        assert "BILLING_THREADS=2 is ignored on SQLite" in found[0].msg
    settings.BILLING_THREADS = 1
    assert billing_threads_check() == []
