"""A run over real Celery workers leaves exactly the state of the in-process run.

Each test builds the same data set (every partner mode, services starting on different days),
bills it in-process inside a transaction that is rolled back and keeps the digest of that
state (``tests/billing/digest.py``), then bills it through Redis (database 13, used by no other
test) and two worker processes started as an operator would (`ispbill worker`, `ispbill
bill`): shared by the workers; with a worker killed (SIGKILL) inside a chunk's transaction and
the run resumed by starting it again; and as two runs of the same date started together.
PostgreSQL only: workers in other processes need a shared server database."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction

from ispbill.billing.models import BillingRun, BillingRunStatus, Charge
from ispbill.billing.run import billing_run_start, chunk_plan
from ispbill.core.invariants import invariants_check
from ispbill.customers.models import Customer
from ispbill.invoicing.models import Invoice, InvoiceKind
from ispbill.partners.models import CommissionAccrual, CommissionBase, Partner, PartnerMode
from ispbill.partners.services import partner_home
from tests.billing.builders import redis_db
from tests.billing.digest import billing_digest, billing_state_lines
from tests.factories import (
    CustomerFactory,
    OneTimeChargeFactory,
    PartnerFactory,
    PartnerPriceFactory,
    ServiceFactory,
    TariffFactory,
    TaxRateFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)

REDIS = f"redis://127.0.0.1:6379/{redis_db(13)}"
ISPBILL = str(Path(sys.executable).parent / "ispbill")
ROOT = Path(__file__).resolve().parents[2]
RUN_DATE = date(2026, 4, 5)
CHUNK = 4
WAIT = 45.0  # seconds, for anything the workers do


@pytest.fixture
def services() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("workers in other processes need a shared server database (PostgreSQL)")
    import redis

    try:
        client = redis.Redis.from_url(REDIS, socket_timeout=2)
        client.ping()
    except Exception:
        pytest.fail("Redis is not running on 127.0.0.1:6379 (scripts/ensure-services.sh starts it)")
    client.flushdb()  # a test-only Redis database: no task left from another test


# -- the data set ---------------------------------------------------------------------------


def _account(p: Partner) -> None:
    p.account = CustomerFactory(
        partner=partner_home(), reference=f"ACC-{p.name}", name=p.name, company=p.legal_name
    )
    p.save(update_fields=["account"])


def _world() -> None:
    """30 customers: 12 of the home partner, 6 each of a percentage partner (commission on
    invoiced amounts), an own-invoicing partner (own numbering, wholesale charges) and an
    aggregated partner; start dates spread over February and March (proration, catch-up)."""
    home = partner_home()
    stadt = PartnerFactory(
        name="Stadtnetz",
        mode=PartnerMode.PERCENTAGE,
        commission_bp=1000,
        commission_base=CommissionBase.INVOICED,
    )
    alp = PartnerFactory(
        name="Alpenfunk",
        mode=PartnerMode.OWN_INVOICING,
        billing_day=5,
        payment_due_days=10,
        invoice_number_pattern="AF-{year}-{next|5}",
        wholesale_charges=True,
        discount_bp=3000,
    )
    wisp = PartnerFactory(
        name="WISP", mode=PartnerMode.AGGREGATED, discount_bp=2500, aggregation_day=5
    )
    _account(alp)
    _account(wisp)
    fiber = TariffFactory(name="Fiber 100", price_minor=2990)
    fiber250 = TariffFactory(name="Fiber 250", price_minor=3990)
    phone = TariffFactory(
        name="Phone", price_minor=1290, tax_rate=TaxRateFactory(partner=home, rate_bp=700)
    )
    lte = TariffFactory(name="Backup LTE", price_minor=1500, period_months=3)
    fiber.available_to.add(alp)
    own = TariffFactory(
        partner=alp, name="Alpen Funk 50", price_minor=3450, tax_rate=TaxRateFactory(partner=alp)
    )
    PartnerPriceFactory(partner=alp, tariff=fiber, price_minor=2000)
    PartnerPriceFactory(partner=wisp, tariff=fiber, price_minor=2100)
    partners = [home, home, stadt, alp, wisp]
    for i in range(30):
        p = partners[i % 5]
        c = CustomerFactory(partner=p, reference=f"R{i:03d}", name=f"Customer {i}")
        start = date(2026, 2, 1) + timedelta(days=(i * 7) % 45)
        main = (own if i % 2 else fiber) if p == alp else [fiber, fiber250, phone][i % 3]
        extra: dict[str, Any] = {}
        if i % 6 == 1:
            extra["discount_bp"] = 1000
        if i == 12:
            extra["price_override_minor"] = 2500
        ServiceFactory(customer=c, tariff=main, start_date=start, **extra)
        if i % 4 == 0:
            second = lte if p != alp else fiber
            ServiceFactory(customer=c, tariff=second, start_date=start + timedelta(days=9))
        if i == 7:
            OneTimeChargeFactory(
                customer=c, description="Installation", charge_date=date(2026, 3, 10)
            )


def _in_process_state() -> list[str]:
    """Bill in this process (no broker here: the chunks run in-process), keep the state's
    rendering, roll everything back."""
    with transaction.atomic():
        billing_run_start(run_date=RUN_DATE, chunk_size=CHUNK)
        lines = billing_state_lines()
        kinds = set(Invoice.objects.values_list("kind", flat=True))
        issuers = set(Invoice.objects.values_list("issuer__name", flat=True))
        accruals = CommissionAccrual.objects.count()
        transaction.set_rollback(True)
    # The data set reaches every mode: recurring invoices of the operator and of the
    # own-invoicing partner, the aggregated and the wholesale invoice, commission.
    assert kinds == {InvoiceKind.RECURRING, InvoiceKind.AGGREGATED, InvoiceKind.WHOLESALE}
    assert {"Alpenfunk", partner_home().name} <= issuers
    assert accruals > 0
    assert Invoice.objects.count() == 0 and BillingRun.objects.count() == 0
    return lines


def _in_process_figures() -> tuple[int, int]:
    """Customers billed and charges created by the run in this process (rolled back)."""
    with transaction.atomic():
        summary = billing_run_start(run_date=RUN_DATE, chunk_size=CHUNK)
        transaction.set_rollback(True)
    return summary.stats.customers_billed, summary.stats.charges_created


# -- processes ------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return dict(
        os.environ,
        DATABASE_URL=url,
        CELERY_BROKER_URL=REDIS,
        CELERY_RESULT_BACKEND=REDIS,
        RENDER_PDFS_ON_ISSUE="false",
        EMAIL_INVOICES_ON_ISSUE="false",
        BILLING_CHUNK_SIZE=str(CHUNK),
    )


class Workers:
    """`ispbill worker --concurrency 2` processes, each in its own process group; whatever
    is still running at the end is killed."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = (self.tmp_path / f"worker-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [ISPBILL, "worker", "--concurrency", "2"],
            env=_env(),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL to the worker and its pool processes at once: no warm shutdown, no ack."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        """At the end of a test the work is done: nothing to finish, so no warm shutdown."""
        for proc in self.procs:
            if proc.poll() is None:
                self.kill(proc)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.tmp_path.glob("worker-*.log"))
        )


@pytest.fixture
def workers(services: None, tmp_path: Path) -> Iterator[Workers]:
    w = Workers(tmp_path)
    try:
        yield w
    finally:
        w.stop_all()


def _bill_start() -> subprocess.Popen[str]:
    return subprocess.Popen(
        [ISPBILL, "bill", "--date", RUN_DATE.isoformat(), "--confirm-catch-up"],
        env=_env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _bill_wait(proc: subprocess.Popen[str]) -> None:
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
        raise
    assert proc.returncode == 0, out
    assert "dispatched to the Celery workers" in out, out


def _bill() -> None:
    _bill_wait(_bill_start())


def _until(what: str, check: Callable[[], bool], workers: Workers, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}\n{workers.logs()}")
        time.sleep(0.1)


def _runs_finished(workers: Workers) -> list[BillingRun]:
    """Wait until no run is running; the newest one is done."""
    _until(
        "every billing run has finished",
        lambda: (
            BillingRun.objects.exists()
            and not BillingRun.objects.filter(status=BillingRunStatus.RUNNING).exists()
        ),
        workers,
    )
    runs = list(BillingRun.objects.order_by("pk"))
    assert runs[-1].status == BillingRunStatus.DONE, runs[-1].error
    return runs


def _assert_same_state(expected: list[str]) -> None:
    assert billing_state_lines() == expected
    assert billing_digest() == _digest_of(expected)
    assert invariants_check()[1] == []


def _digest_of(lines: list[str]) -> str:
    import hashlib

    return hashlib.sha256("".join(f"{line}\n" for line in lines).encode()).hexdigest()


def _waiting_on_locks() -> list[int]:
    """Backends of this database waiting for a lock (the blocked chunk)."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cur.fetchall()]


def _backends_alive(pids: list[int]) -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [pids])
        row = cur.fetchone()
        return bool(row and row[0])


# -- the tests ------------------------------------------------------------------------------


def test_the_digest_names_no_id_and_sees_every_change() -> None:
    """Two in-process runs (rolled back) give new ids but the same digest; a changed amount,
    pointer or number changes it."""
    _world()
    first = _in_process_state()
    assert _in_process_state() == first
    with transaction.atomic():
        billing_run_start(run_date=RUN_DATE, chunk_size=CHUNK)
        assert billing_state_lines() == first
        assert billing_digest() == _digest_of(first)
        # Two invoices of one issuer trade numbers: the same numbers issued, so the same
        # digest, unless each invoice's own number is asked for.
        exact = billing_digest(exact_numbers=True)
        a, b = Invoice.objects.filter(kind=InvoiceKind.RECURRING).order_by("pk")[:2]
        assert a.issuer_id == b.issuer_id
        Invoice.objects.filter(pk=a.pk).update(number="swap")
        Invoice.objects.filter(pk=b.pk).update(number=a.number)
        Invoice.objects.filter(pk=a.pk).update(number=b.number)
        assert billing_digest() == _digest_of(first)
        assert billing_digest(exact_numbers=True) != exact
        charge = Charge.objects.order_by("pk").first()
        assert charge is not None
        Charge.objects.filter(pk=charge.pk).update(amount_minor=charge.amount_minor + 1)
        changed = billing_digest()
        assert changed != _digest_of(first)
        Charge.objects.filter(pk=charge.pk).update(amount_minor=charge.amount_minor)
        Customer.objects.filter(pk=charge.customer_id).update(billed_through=None)
        assert billing_digest() not in {changed, _digest_of(first)}
        transaction.set_rollback(True)


def test_a_run_shared_by_two_workers_equals_the_in_process_run(workers: Workers) -> None:
    workers.start()  # it boots while the data is built and billed in-process
    _world()
    expected = _in_process_state()
    figures = _in_process_figures()
    plan = chunk_plan(run_date=RUN_DATE, issuer=None, chunk_size=CHUNK)
    _bill()
    runs = _runs_finished(workers)
    assert len(runs) == 1
    run = runs[0]
    assert run.chunks_done == run.chunks_total == len(plan.chunks) + 1
    # The run's figures gather every chunk's and partner's, those passed on by the
    # partners' aggregations included.
    assert (run.customers_billed, run.charges_created) == figures
    _assert_same_state(expected)
    # The pool processes kept their database connections from task to task (one backend
    # each, opened before the run ended), not one new backend per chunk.
    with connection.cursor() as cur:
        cur.execute(
            "SELECT backend_start FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        kept = [row[0] for row in cur.fetchall()]
    assert 1 <= len(kept) <= 2
    assert run.finished_at is not None and all(start < run.finished_at for start in kept)


def test_a_worker_killed_in_a_chunk_then_the_run_resumed_equals_it(workers: Workers) -> None:
    import psycopg

    worker = workers.start()
    _world()
    expected = _in_process_state()
    plan = chunk_plan(run_date=RUN_DATE, issuer=None, chunk_size=CHUNK)
    chunks = plan.chunks
    # The last chunk of the aggregated partner's customers (its account is in the first):
    # its aggregation waits for it. Another session holds a row of that chunk: the worker
    # that takes it opens its transaction, locks the rows before it and waits there.
    held = plan.first[Partner.objects.get(name="WISP").pk][-1]
    assert held in chunks and len(held) > 1
    db = connection.settings_dict
    holder = psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=int(db["PORT"] or 5432),
        user=db["USER"],
        password=db.get("PASSWORD") or None,
        dbname=db["NAME"],
        connect_timeout=10,
    )
    try:
        holder.execute(
            f"SELECT id FROM {Customer._meta.db_table} WHERE id = %s FOR UPDATE",
            [held[-1]],
        )
        _bill()
        run = BillingRun.objects.get()
        # Wait until that chunk waits inside its transaction and the other pool process has
        # done every other chunk (the partner's aggregation and the summary wait for it).
        _until(
            "the held chunk waits on the row lock and the other chunks are done",
            lambda: (
                bool(_waiting_on_locks())
                and BillingRun.objects.get(pk=run.pk).chunks_done == len(chunks) - 1
            ),
            workers,
        )
        blocked = _waiting_on_locks()
        workers.kill(worker)
    finally:
        holder.close()  # releases the row: the dead worker's session ends, rolled back
    # Resume as an operator would: start a worker again, then resume the run.
    workers.start()
    _until("the killed worker's session has ended", lambda: not _backends_alive(blocked), workers)
    # Nothing of the killed chunk was kept, and its run was left behind, running.
    assert not Customer.objects.filter(pk__in=held, billed_through__isnull=False).exists()
    assert not Invoice.objects.filter(customer_id__in=held).exists()
    assert BillingRun.objects.get(pk=run.pk).status == BillingRunStatus.RUNNING
    # A second run of its date is refused while it is `running`; resuming it marks it
    # failed and starts the run again (`ispbill billing-run N --resume --force`).
    again = _bill_start()
    out, _ = again.communicate(timeout=60)
    assert again.returncode == 2 and "is running already" in out, out
    resume = subprocess.run(
        [ISPBILL, "billing-run", str(run.pk), "--resume", "--force"],
        env=_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert resume.returncode == 0, resume.stdout + resume.stderr
    old, new = _runs_finished(workers)
    assert old.pk == run.pk
    assert old.status == BillingRunStatus.FAILED and "Marked failed by cli" in old.error
    assert new.customers_billed == len(held)  # the new run did only what was left
    _assert_same_state(expected)


def test_two_runs_of_the_same_date_started_together_equal_one_run(workers: Workers) -> None:
    """Two `ispbill bill` for the same date at once: the database lets one run of a scope
    and date go at a time, so the second is refused while the first runs (or, if the first
    was done already, finds nothing left); never two running side by side."""
    workers.start()
    _world()
    expected = _in_process_state()
    first, second = _bill_start(), _bill_start()
    outputs = []
    for proc in (first, second):
        out, _ = proc.communicate(timeout=60)
        outputs.append((proc.returncode, out))
    runs = _runs_finished(workers)
    refused = [out for code, out in outputs if code == 2]
    if len(runs) == 1:
        assert len(refused) == 1 and "is running already" in refused[0], outputs
    else:  # the second started after the first had finished
        older, newer = runs
        assert not refused, outputs
        assert older.finished_at is not None and newer.started_at >= older.finished_at
        assert newer.invoices_issued == 0
    _assert_same_state(expected)
