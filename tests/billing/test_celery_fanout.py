"""The billing run fanned out to real Celery workers (Redis broker), on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from django.db import connection

from ispbill.billing.models import BillingRun
from ispbill.core.invariants import invariants_check
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import Partner
from tests.billing.builders import redis_db

from .builders import customer, service, tariff

REDIS = f"redis://127.0.0.1:6379/{redis_db(14)}"


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS).ping())
    except Exception:
        return False


@pytest.mark.django_db(transaction=True)
def test_run_fans_out_over_celery_workers():
    if connection.vendor != "postgresql":
        pytest.skip("workers in other processes need a shared server database (PostgreSQL)")
    if not _redis_up():
        pytest.fail("Redis is not running on 127.0.0.1:6379 (scripts/ensure-services.sh starts it)")
    for i in range(9):
        c = customer()
        service(c, tariff(price=1000 + i), date(2026, 4, 1))
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = dict(
        os.environ,
        DATABASE_URL=url,
        CELERY_BROKER_URL=REDIS,
        RENDER_PDFS_ON_ISSUE="false",
        EMAIL_INVOICES_ON_ISSUE="false",
    )
    import redis

    redis.Redis.from_url(REDIS).flushdb()  # a test-only Redis database: no stale tasks
    # Two worker processes, started as an operator would: `ispbill worker`.
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "ispbill"), "worker", "--concurrency", "2"],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        # The run is started as an operator would: `ispbill bill` with the broker configured.
        out = subprocess.run(
            [str(Path(sys.executable).parent / "ispbill"), "bill", "--date", "2026-04-01"],
            env=dict(env, BILLING_CHUNK_SIZE="3"),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert "dispatched to the Celery workers" in out.stdout
        run_id = BillingRun.objects.get().pk
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            run = BillingRun.objects.get(pk=run_id)
            if run.status != "running":
                break
            time.sleep(0.3)
        assert run.status == "done", run.error
        assert run.chunks_done == run.chunks_total == 4  # three chunks and the aggregation phase
        assert run.invoices_issued == 9
        assert Invoice.objects.count() == 9
        assert invariants_check()[1] == []
    finally:
        worker.terminate()
        worker.wait(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_a_failing_customer_is_isolated_on_the_workers():
    """Fault isolation over Celery (issue 27): one own-invoicing partner's customer whose
    charge overflows fails alone; the other chunks' and its chunk mates' invoices are issued
    and the run finishes with 1 failure."""
    if connection.vendor != "postgresql":
        pytest.skip("workers in other processes need a shared server database (PostgreSQL)")
    if not _redis_up():
        pytest.fail("Redis is not running on 127.0.0.1:6379 (scripts/ensure-services.sh starts it)")
    from ispbill.billing.models import BillingFailure
    from ispbill.partners.services import partner_home

    from .test_fault_isolation import APRIL, _hostile_setup

    if not Partner.objects.filter(is_home=True).exists():
        Partner.objects.create(name="Main", mode="direct", is_home=True)
    home = partner_home()
    mine, _own, bad, _otc = _hostile_setup(home)
    for i in range(5):
        service(customer(), tariff(price=1000 + i), APRIL)
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = dict(
        os.environ,
        DATABASE_URL=url,
        CELERY_BROKER_URL=REDIS,
        RENDER_PDFS_ON_ISSUE="false",
        EMAIL_INVOICES_ON_ISSUE="false",
    )
    import redis

    redis.Redis.from_url(REDIS).flushdb()
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "ispbill"), "worker", "--concurrency", "2"],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        subprocess.run(
            [str(Path(sys.executable).parent / "ispbill"), "bill", "--date", "2026-04-01"],
            env=dict(env, BILLING_CHUNK_SIZE="3"),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        run_id = BillingRun.objects.get().pk
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            run = BillingRun.objects.get(pk=run_id)
            if run.status != "running":
                break
            time.sleep(0.3)
        assert run.status == "partial", run.error
        assert run.failures_count == 1 and run.invoices_issued == 8
        assert BillingFailure.objects.get().customer_id == bad.pk
        assert set(Invoice.objects.values_list("customer_id", flat=True)) >= {c.pk for c in mine}
        assert not Invoice.objects.filter(customer=bad).exists()
    finally:
        worker.terminate()
        worker.wait(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_a_failing_customer_is_isolated_with_billing_threads(settings):
    """BILLING_THREADS=2 on PostgreSQL: chunks in two threads, each isolating its failures."""
    if connection.vendor != "postgresql":
        pytest.skip("threads run chunks on PostgreSQL only")
    from ispbill.billing.models import BillingFailure
    from ispbill.billing.run import billing_run_start
    from ispbill.partners.services import partner_home

    from .test_fault_isolation import APRIL, _hostile_setup

    if not Partner.objects.filter(is_home=True).exists():
        Partner.objects.create(name="Main", mode="direct", is_home=True)
    settings.BILLING_THREADS = 2
    settings.RENDER_PDFS_ON_ISSUE = False
    _mine, _own, bad, _otc = _hostile_setup(partner_home())
    for i in range(5):
        service(customer(), tariff(price=1000 + i), APRIL)
    summary = billing_run_start(run_date=APRIL, chunk_size=3)
    run = BillingRun.objects.get()
    assert (summary.status, run.status, run.failures_count) == ("partial", "partial", 1)
    assert run.invoices_issued == 8
    assert BillingFailure.objects.get().customer_id == bad.pk
    assert invariants_check()[1] != []  # the open failure, until a run retries it
