"""Idempotency-Key on every POST that creates money or documents: a retry returns the first
response and creates nothing; the same key with another body is a 422; two identical requests
at the same moment create one thing (threads on PostgreSQL; the interleaving drawn
deterministically on both databases)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections

from ispbill.api.models import IdempotencyRecord
from ispbill.billing.models import BillingRun
from ispbill.core.tenancy import system_scope
from ispbill.invoicing.models import CreditNote
from ispbill.payments.models import Payment, Refund
from tests.api.conftest import Api, Billed, assert_error


def _payment(billed: Billed, amount: str = "5.00") -> tuple[str, dict[str, Any]]:
    body = {"customer_id": billed.seed.alice.pk, "amount": amount, "currency": "EUR"}
    return "/payments", body


def _refund(billed: Billed, amount: str = "1.00") -> tuple[str, dict[str, Any]]:
    return f"/payments/{billed.payment_id}/refunds", {"amount": amount}


def _credit_note(billed: Billed, amount: str = "1.00") -> tuple[str, dict[str, Any]]:
    from ispbill.invoicing.models import InvoiceLine

    line = InvoiceLine.objects.filter(invoice_id=billed.alice_invoices[1]).first()
    assert line is not None
    body = {"reason": "Outage", "lines": [{"invoice_line_id": line.pk, "amount": amount}]}
    return f"/invoices/{billed.alice_invoices[1]}/credit-notes", body


def _import(billed: Billed, amount: str = "2.00") -> tuple[str, dict[str, Any]]:
    row = {"customer_id": billed.seed.alice.pk, "amount": amount, "currency": "EUR"}
    return "/payments/import", {"payments": [row]}


def _counts() -> tuple[int, int, int]:
    return Payment.objects.count(), Refund.objects.count(), CreditNote.objects.count()


ACTIONS: dict[str, Callable[..., tuple[str, dict[str, Any]]]] = {
    "payment": _payment,
    "refund": _refund,
    "credit_note": _credit_note,
    "import": _import,
}


@pytest.fixture
def with_credit(billed: Billed) -> Billed:
    """Bob's payment gets 5.00 of unallocated credit so refunds have something to refund."""
    from datetime import date

    from ispbill.core.money import Money
    from ispbill.payments.services import payment_record

    p = payment_record(
        customer=billed.seed.bob, amount=Money.parse("40.00", "EUR"), on=date(2026, 2, 6)
    )
    # 35.70 goes to Bob's open February invoice, 4.30 stays as credit on this payment.
    billed.payment_id = p.pk
    return billed


@pytest.mark.django_db
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_retry_returns_the_first_response_and_creates_nothing(with_credit: Billed, action: str):
    api = with_credit.seed.admin
    path, body = ACTIONS[action](with_credit)
    first = api.post(path, body, key=f"key-{action}")
    assert first.status == 201, first.body
    after_first = _counts()
    again = api.post(path, body, key=f"key-{action}")
    assert (again.status, again.body) == (first.status, first.body)
    assert _counts() == after_first
    other_path, other_body = ACTIONS[action](with_credit, "3.00")
    reused = api.post(other_path, other_body, key=f"key-{action}")
    assert_error(reused, 422, "idempotency_key_reused")
    assert _counts() == after_first
    # Without a key, the same body is a new request.
    fresh = api.post(path, body)
    assert fresh.status == 201 and fresh.body != first.body


@pytest.mark.django_db
def test_keys_are_per_user_and_errors_are_not_stored(with_credit: Billed):
    seed = with_credit.seed
    path, body = _payment(with_credit)
    assert seed.admin.post(path, body, key="shared").status == 201
    # Another user's key space is its own.
    assert seed.accountant.post(path, body, key="shared").status == 201
    bad = dict(body, amount="1.001")
    assert_error(seed.admin.post(path, bad, key="will-fail"), 422)
    assert not IdempotencyRecord.objects.filter(key="will-fail").exists()
    assert seed.admin.post(path, body, key="will-fail").status == 201
    assert_error(seed.admin.post(path, body, key="k" * 256), 422, "invalid_idempotency_key")


@pytest.mark.django_db
def test_billing_run_retry_answers_the_same_run(seed: Any):
    api = seed.admin
    seed.admin.post(
        "/services",
        {"customer_id": seed.alice.pk, "tariff_id": seed.fiber.pk, "start_date": "2026-01-01"},
    )
    first = api.post("/billing-runs", {"run_date": "2026-01-01"}, key="run-jan")
    assert first.status == 201 and first.body["invoices_issued"] == 1
    again = api.post("/billing-runs", {"run_date": "2026-01-01"}, key="run-jan")
    assert again.body == first.body
    assert BillingRun.objects.count() == 1
    assert_error(api.post("/billing-runs", {"run_date": "2026-01-02"}, key="run-jan"), 422)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_two_identical_requests_at_the_same_moment_create_one(request: Any, action: str):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; simultaneous requests are tested on PostgreSQL")
    with system_scope():
        billed = request.getfixturevalue("with_credit")
        path, body = ACTIONS[action](billed)
        token_api: Api = billed.seed.admin
        before = _counts()
    barrier = threading.Barrier(2)
    answers: list[Any] = []
    errors: list[BaseException] = []

    def send() -> None:
        try:
            barrier.wait()
            answers.append(token_api.post(path, body, key=f"same-moment-{action}"))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert [a.status for a in answers] == [201, 201], [a.body for a in answers]
    assert answers[0].body == answers[1].body
    with system_scope():
        created = [a - b for a, b in zip(_counts(), before, strict=True)]
    assert sum(created) == 1, created


@pytest.mark.django_db
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_the_request_that_loses_the_race_replays_the_winner(
    with_credit: Billed, action: str, monkeypatch: pytest.MonkeyPatch
):
    """The interleaving of two simultaneous requests, drawn deterministically so it runs on
    SQLite too: the second request looks up its key before the first one's row is visible,
    then its insert hits the unique key. It must answer the first response and create nothing
    (not a 500, not a second payment, refund or credit note)."""
    from ispbill.api import idempotency

    path, body = ACTIONS[action](with_credit)
    token_api: Api = with_credit.seed.admin
    first = token_api.post(path, body, key=f"race-{action}")
    assert first.status == 201
    before = _counts()
    real_existing = idempotency._existing
    lookups: list[str] = []

    def not_yet_visible(user_id: int, key: str) -> Any:
        lookups.append(key)
        return None if len(lookups) == 1 else real_existing(user_id, key)

    monkeypatch.setattr(idempotency, "_existing", not_yet_visible)
    second = token_api.post(path, body, key=f"race-{action}")
    assert lookups == [f"race-{action}", f"race-{action}"]  # looked up, lost the insert, replayed
    assert (second.status, second.body) == (201, first.body)
    assert _counts() == before
    assert IdempotencyRecord.objects.filter(key=f"race-{action}").count() == 1


@pytest.mark.django_db
def test_a_billing_run_that_loses_the_race_replays_the_winner(
    seed: Any, monkeypatch: pytest.MonkeyPatch
):
    """The same interleaving for billing runs (whose handler commits chunk by chunk, outside
    one transaction): the loser answers the winner's run and starts none."""
    from ispbill.api import idempotency

    seed.admin.post(
        "/services",
        {"customer_id": seed.alice.pk, "tariff_id": seed.fiber.pk, "start_date": "2026-01-01"},
    )
    first = seed.admin.post("/billing-runs", {"run_date": "2026-01-01"}, key="race-run")
    assert first.status == 201
    real_existing = idempotency._existing
    lookups: list[str] = []

    def not_yet_visible(user_id: int, key: str) -> Any:
        lookups.append(key)
        return None if len(lookups) == 1 else real_existing(user_id, key)

    monkeypatch.setattr(idempotency, "_existing", not_yet_visible)
    second = seed.admin.post("/billing-runs", {"run_date": "2026-01-01"}, key="race-run")
    assert lookups == ["race-run", "race-run"]
    assert (second.status, second.body) == (201, first.body)
    assert BillingRun.objects.count() == 1
