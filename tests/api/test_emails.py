"""GET /emails, GET /emails/{id}, POST /emails/retry (docs/documents.md, "The e-mail log:
page and API"): scoped like the web page, failed e-mails sent again, never another's."""

from __future__ import annotations

import pytest
from django.core import mail

from ispbill.accounts.models import Role
from ispbill.invoicing.models import EmailDelivery, EmailStatus, Invoice
from tests.api.conftest import api_for, assert_error, make_user
from tests.factories import email_delivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def log(billed):  # type: ignore[no-untyped-def]
    s = billed.seed
    olga_invoice = Invoice.objects.get(pk=billed.olga_invoices[0])
    return {
        "alice_failed": email_delivery(customer=s.alice, status="failed", subject="Alice late"),
        "bob_sent": email_delivery(customer=s.bob, status="sent", to="bob@city.example"),
        "olga_sent": email_delivery(customer=s.olga, status="sent", subject="Olga paid"),
        "olga_failed": email_delivery(
            customer=s.olga, status="failed", subject="Olga late", to="olga@own.example"
        ),
        "olga_invoice_failed": email_delivery(
            customer=s.olga,
            status="failed",
            kind="invoice",
            invoice=olga_invoice,
            subject=f"Invoice {olga_invoice.number}",
            to="olga@own.example",
        ),
        "olga_queued": email_delivery(customer=s.olga, status="queued", subject="Olga queued"),
        "olga_invoice": olga_invoice,
    }


def _ids(answer) -> list[int]:  # type: ignore[no-untyped-def]
    assert answer.status == 200, answer.body
    return [item["id"] for item in answer.body["items"]]


def test_the_operator_lists_every_email_newest_first(billed, log):
    answer = billed.seed.admin.get("/emails")
    ids = _ids(answer)
    assert len(ids) == 6 and ids == sorted(ids, reverse=True)
    assert answer.body["count"] == 6 and answer.body["count_exact"]
    item = next(i for i in answer.body["items"] if i["id"] == log["olga_invoice_failed"].pk)
    assert item["status"] == "failed" and item["kind"] == "invoice" and item["attempts"] == 5
    assert item["invoice_id"] == log["olga_invoice"].pk
    assert item["invoice_number"] == log["olga_invoice"].number
    assert item["customer_id"] == billed.seed.olga.pk
    assert item["partner_id"] == billed.seed.ownnet.pk and item["to"] == "olga@own.example"
    assert item["last_error"].startswith("SMTPServerDisconnected")
    assert "body" not in item
    assert _ids(billed.seed.admin.get("/emails", limit=2, offset=2)) == ids[2:4]


def test_the_filters(billed, log):
    admin = billed.seed.admin
    olga = billed.seed.olga
    failed = {log[k].pk for k in ("alice_failed", "olga_failed", "olga_invoice_failed")}
    assert set(_ids(admin.get("/emails", status="failed"))) == failed
    assert _ids(admin.get("/emails", kind="invoice")) == [log["olga_invoice_failed"].pk]
    assert _ids(admin.get("/emails", invoice_id=log["olga_invoice"].pk)) == [
        log["olga_invoice_failed"].pk
    ]
    assert len(_ids(admin.get("/emails", customer_id=olga.pk))) == 4
    assert _ids(admin.get("/emails", billing_run_id=billed.run_id)) == [
        log["olga_invoice_failed"].pk
    ]
    assert _ids(admin.get("/emails", q="BOB@city")) == [log["bob_sent"].pk]
    assert _ids(admin.get("/emails", q=log["olga_invoice"].number)) == [
        log["olga_invoice_failed"].pk
    ]
    assert_error(admin.get("/emails", status="lost"), 422)
    assert_error(admin.get("/emails", billing_run_id=0), 422)


def test_a_partner_reads_its_own_only(billed, log):
    own = billed.seed.ownnet_admin
    olga_ids = {log[k].pk for k in ("olga_sent", "olga_failed", "olga_invoice_failed")}
    olga_ids.add(log["olga_queued"].pk)
    assert set(_ids(own.get("/emails"))) == olga_ids
    assert _ids(own.get("/emails", customer_id=billed.seed.alice.pk)) == []
    assert _ids(own.get("/emails", q="Alice")) == []
    city = billed.seed.citynet_admin
    assert _ids(city.get("/emails")) == [log["bob_sent"].pk]
    # Read one: the body as sent; another partner's is 404, as a missing one.
    one = own.get(f"/emails/{log['olga_failed'].pk}")
    assert one.status == 200 and one.body["body"] == "Hello." and one.body["subject"] == "Olga late"
    assert_error(own.get(f"/emails/{log['alice_failed'].pk}"), 404, "not_found")
    assert_error(own.get("/emails/987654321"), 404, "not_found")
    # The portal's token reads no e-mail log.
    assert_error(billed.seed.portal.get("/emails"), 403)


def test_retry_by_ids_sends_them_again(billed, log, django_capture_on_commit_callbacks):
    own = billed.seed.ownnet_admin
    wanted = [log["olga_failed"].pk, log["olga_invoice_failed"].pk]
    with django_capture_on_commit_callbacks(execute=True):
        answer = own.post("/emails/retry", {"ids": wanted})
    assert answer.status == 202 and answer.body == {"queued": 2}
    assert sorted(m.subject for m in mail.outbox) == sorted(
        ["Olga late", f"Invoice {log['olga_invoice'].number}"]
    )
    for key in ("olga_failed", "olga_invoice_failed"):
        log[key].refresh_from_db()
        assert log[key].status == EmailStatus.SENT and log[key].attempts == 6


def test_retry_refuses_ids_not_failed_or_not_yours_and_queues_nothing(billed, log):
    own = billed.seed.ownnet_admin
    alice, sent = log["alice_failed"], log["olga_sent"]
    error = assert_error(
        own.post("/emails/retry", {"ids": [log["olga_failed"].pk, alice.pk, sent.pk]}),
        422,
        "not_retryable",
    )
    detail = error["fields"]["ids"]
    assert f"{alice.pk}: not found" in detail and f"{sent.pk}: sent, not failed" in detail
    # Another partner's id says exactly what a missing id says.
    said = "Only failed e-mails can be sent again; {}: not found."
    missing = assert_error(own.post("/emails/retry", {"ids": [987654321]}), 422)
    assert missing["fields"]["ids"] == said.format(987654321)
    foreign = assert_error(own.post("/emails/retry", {"ids": [alice.pk]}), 422)
    assert foreign["fields"]["ids"] == said.format(alice.pk)
    assert EmailDelivery.objects.filter(status=EmailStatus.FAILED).count() == 3
    assert not mail.outbox


def test_retry_all_failed_is_the_callers_own(billed, log, django_capture_on_commit_callbacks):
    own = billed.seed.ownnet_admin
    with django_capture_on_commit_callbacks(execute=True):
        answer = own.post("/emails/retry", {"all_failed": True, "kind": "reminder"})
    assert answer.body == {"queued": 1}
    assert [m.subject for m in mail.outbox] == ["Olga late"]
    log["alice_failed"].refresh_from_db()
    assert log["alice_failed"].status == EmailStatus.FAILED
    with django_capture_on_commit_callbacks(execute=True):
        answer = billed.seed.accountant.post(
            "/emails/retry", {"all_failed": True, "billing_run_id": billed.run_id}
        )
    assert answer.body == {"queued": 1}
    with django_capture_on_commit_callbacks(execute=True):
        assert billed.seed.admin.post("/emails/retry", {"all_failed": True}).body == {"queued": 1}
    assert not EmailDelivery.objects.filter(status=EmailStatus.FAILED).exists()
    assert billed.seed.admin.post("/emails/retry", {"all_failed": True}).body == {"queued": 0}


def test_all_queued_sends_the_callers_stuck_emails(billed, log, django_capture_on_commit_callbacks):
    """``all_queued``: the e-mails queued longer than ``older_than`` minutes (default
    EMAIL_QUEUED_GRACE) handed to sending, as ``ispbill emails --send-queued``; a partner's
    own only, audited."""
    from datetime import timedelta

    from django.utils import timezone

    from ispbill.core.models import AuditEvent

    s = billed.seed
    alice_stuck = email_delivery(customer=s.alice, status="queued", subject="Alice stuck")
    EmailDelivery.objects.filter(pk__in=[alice_stuck.pk, log["olga_queued"].pk]).update(
        created_at=timezone.now() - timedelta(minutes=90)
    )
    olga_fresh = email_delivery(customer=s.olga, status="queued", subject="Olga fresh")
    EmailDelivery.objects.filter(pk=olga_fresh.pk).update(
        created_at=timezone.now() - timedelta(minutes=10)
    )
    own = s.ownnet_admin
    with django_capture_on_commit_callbacks(execute=True):
        answer = own.post("/emails/retry", {"all_queued": True})
    assert answer.status == 202 and answer.body == {"queued": 1}
    assert [m.subject for m in mail.outbox] == ["Olga queued"]
    (event,) = AuditEvent.objects.filter(action="email.queued_sent")
    assert event.partner_id == s.ownnet.pk and event.changes["ids"] == [log["olga_queued"].pk]
    # Narrowed to another tenant's e-mail: nothing of theirs.
    with django_capture_on_commit_callbacks(execute=True):
        answer = own.post("/emails/retry", {"all_queued": True, "q": "Alice", "older_than": 0})
    assert answer.body == {"queued": 0}
    # Queued 10 minutes: stuck only with older_than under 10.
    with django_capture_on_commit_callbacks(execute=True):
        assert own.post("/emails/retry", {"all_queued": True, "older_than": 15}).body == {
            "queued": 0
        }
        assert own.post("/emails/retry", {"all_queued": True, "older_than": 5}).body == {
            "queued": 1
        }
    assert [m.subject for m in mail.outbox] == ["Olga queued", "Olga fresh"]
    with django_capture_on_commit_callbacks(execute=True):
        answer = s.admin.post("/emails/retry", {"all_queued": True, "kind": "reminder"})
    assert answer.body == {"queued": 1}
    assert mail.outbox[-1].subject == "Alice stuck"
    assert not EmailDelivery.objects.filter(status=EmailStatus.QUEUED).exists()


def test_retry_input_and_roles(billed, log):
    admin = billed.seed.admin
    for body in (
        {},
        {"all_failed": False},
        {"ids": [1], "all_failed": True},
        {"all_failed": True, "all_queued": True},
        {"ids": [1], "all_queued": True},
    ):
        error = assert_error(admin.post("/emails/retry", body), 422, "invalid")
        assert "one of ids, all_failed: true or all_queued: true" in error["fields"]["ids"]
    error = assert_error(admin.post("/emails/retry", {"all_failed": True, "older_than": 5}), 422)
    assert error["fields"] == {"older_than": "Only with all_queued: true."}
    for minutes in (-1, 43201, "soon"):
        assert_error(admin.post("/emails/retry", {"all_queued": True, "older_than": minutes}), 422)
    error = assert_error(admin.post("/emails/retry", {"ids": [1], "kind": "invoice"}), 422)
    assert error["fields"] == {"kind": "Only with all_failed or all_queued: true."}
    assert_error(admin.post("/emails/retry", {"ids": []}), 422)
    assert_error(admin.post("/emails/retry", {"ids": list(range(1, 1002))}), 422)
    assert_error(admin.post("/emails/retry", {"all_failed": True, "statsu": "x"}), 422)
    # Read-only roles: support, a percentage partner (its invoices are the operator's).
    assert_error(billed.seed.support.post("/emails/retry", {"all_failed": True}), 403)
    assert_error(billed.seed.citynet_admin.post("/emails/retry", {"all_failed": True}), 403)
    assert_error(billed.seed.support.post("/emails/retry", {"all_queued": True}), 403)
    assert_error(billed.seed.citynet_admin.post("/emails/retry", {"all_queued": True}), 403)
    staff = api_for(make_user("ownstaff", Role.PARTNER_STAFF, partner=billed.seed.ownnet))
    assert staff.post("/emails/retry", {"ids": [log["alice_failed"].pk]}).status == 422
    assert EmailDelivery.objects.filter(status=EmailStatus.FAILED).count() == 3


def test_the_operations_are_documented(billed):
    schema = billed.seed.admin.get("/api/v1/openapi.json").body
    paths = schema["paths"]
    assert {"get"} <= set(paths["/api/v1/emails"]) and "get" in paths["/api/v1/emails/{email_id}"]
    retry = paths["/api/v1/emails/retry"]["post"]
    assert {"202", "403", "422"} <= set(retry["responses"])
    assert retry["tags"] == ["emails"]
