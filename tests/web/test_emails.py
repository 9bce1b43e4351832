"""The E-mails page (docs/documents.md, "The e-mail log: page and API"): who sees which
e-mails, the filters, sending failed ones again, the invoice's and the billing run's links."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth.hashers import make_password
from django.core import mail
from django.test import Client

from ispbill.accounts.models import Role, User
from ispbill.billing.run import billing_run_start
from ispbill.core.models import AuditEvent
from ispbill.invoicing.models import EmailDelivery, EmailStatus, Invoice
from ispbill.partners.models import PartnerMode
from tests.factories import (
    CustomerFactory,
    PartnerFactory,
    ServiceFactory,
    TariffFactory,
    email_delivery,
    home_partner,
    partner_with_account,
)

pytestmark = pytest.mark.django_db
APR = date(2026, 4, 1)


def _client(username: str, role: str, partner=None) -> Client:  # type: ignore[no-untyped-def]
    user = User.objects.create(
        username=username, role=role, partner=partner, password=make_password(None)
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def log():  # type: ignore[no-untyped-def]
    """Own-invoicing partners Own and Other, a percentage partner City; a billing run's
    invoices; e-mails of each (sent and failed), and the operator's."""
    own = PartnerFactory(name="OwnNet", mode=PartnerMode.OWN_INVOICING)
    other = PartnerFactory(name="OtherNet", mode=PartnerMode.OWN_INVOICING)
    city = partner_with_account(name="CityNet", mode=PartnerMode.PERCENTAGE)
    olga = CustomerFactory(partner=own, name="Olga", email="olga@own.example")
    otto = CustomerFactory(partner=other, name="Otto", email="otto@other.example")
    alice = CustomerFactory(partner=home_partner(), name="Alice", email="alice@home.example")
    for customer in (olga, otto):
        ServiceFactory(customer=customer, tariff=TariffFactory(price_minor=3000), start_date=APR)
    run = billing_run_start(run_date=APR)
    olga_invoice = Invoice.objects.get(customer=olga)
    otto_invoice = Invoice.objects.get(customer=otto)
    d = {
        "olga_sent": email_delivery(customer=olga, status="sent", subject="Olga sent"),
        "olga_failed": email_delivery(
            customer=olga, status="failed", subject="Olga reminder failed"
        ),
        "olga_invoice_failed": email_delivery(
            customer=olga,
            status="failed",
            kind="invoice",
            invoice=olga_invoice,
            subject=f"Invoice {olga_invoice.number}",
            last_error="SMTPRecipientsRefused: " + "mailbox unavailable " * 10,
        ),
        "otto_failed": email_delivery(
            customer=otto, status="failed", subject="Otto secret failed", to="otto@other.example"
        ),
        "otto_invoice_failed": email_delivery(
            customer=otto,
            status="failed",
            kind="invoice",
            invoice=otto_invoice,
            subject=f"Invoice {otto_invoice.number}",
        ),
        "alice_failed": email_delivery(customer=alice, status="failed", subject="Alice failed"),
        # The operator's e-mail to CityNet's account: CityNet reads it, never sends it again.
        "city_account_failed": email_delivery(
            customer=city.account, status="failed", subject="CityNet account failed"
        ),
    }
    return {
        "own": own,
        "other": other,
        "city": city,
        "run_id": run.run_id,
        "olga_invoice": olga_invoice,
        "otto_invoice": otto_invoice,
        **d,
    }


def _subjects(response) -> set[str]:  # type: ignore[no-untyped-def]
    return {d.subject for d in response.context["page"]}


def test_the_operator_sees_every_email_newest_first_in_the_menu(log):
    client = _client("op", Role.ADMIN)
    response = client.get("/emails/")
    assert response.status_code == 200
    rows = list(response.context["page"])
    assert [d.pk for d in rows] == sorted((d.pk for d in rows), reverse=True)
    assert len(rows) == 7
    html = response.content.decode()
    assert 'href="/emails/"' in html and ">E-mails</a>" in html
    # Invoice and customer linked, the long error shown short with the whole in <details>.
    assert f'href="/invoices/{log["olga_invoice"].pk}/"' in html
    assert "<details><summary>SMTPRecipientsRefused" in html
    # Six failed e-mails: one button for all of them, one per row.
    assert 'id="emails-retry"' in html and "Send 6 failed e-mails again" in html
    assert html.count('action="/emails/') == 1 + 6
    # The paginator: 25 a page.
    assert response.context["page"].paginator.per_page == 25


def test_the_accountant_and_support_see_the_page_only_the_accountant_retries(log):
    accountant = _client("acc", Role.ACCOUNTANT).get("/emails/")
    support = _client("sup", Role.SUPPORT).get("/emails/")
    assert accountant.status_code == support.status_code == 200
    assert len(_subjects(support)) == 7
    assert 'id="emails-retry"' in accountant.content.decode()
    assert "emails-retry" not in support.content.decode()
    assert "/retry/" not in support.content.decode()
    # Support does not run billing: the run is named, not linked.
    run = log["run_id"]
    html = _client("sup2", Role.SUPPORT).get(f"/emails/?run={run}").content.decode()
    assert f"billing run #{run}" in html and f'href="/billing/runs/{run}/"' not in html
    html = _client("acc2", Role.ACCOUNTANT).get(f"/emails/?run={run}").content.decode()
    assert f'href="/billing/runs/{run}/"' in html


@pytest.mark.parametrize("role", [Role.PARTNER_ADMIN, Role.PARTNER_STAFF])
def test_a_partner_sees_its_own_emails_only(log, role):
    client = _client("own_user", role, log["own"])
    response = client.get("/emails/")
    assert _subjects(response) == {
        "Olga sent",
        "Olga reminder failed",
        f"Invoice {log['olga_invoice'].number}",
    }
    html = response.content.decode()
    assert "Otto" not in html and "otto@" not in html and "Alice" not in html
    # A search for another partner's e-mail finds nothing.
    assert not _subjects(client.get("/emails/", {"q": "otto"}))
    assert not _subjects(client.get("/emails/", {"run": log["run_id"], "q": "Otto"}))


def test_a_reseller_reads_its_accounts_emails_but_cannot_send_them_again(log):
    client = _client("city_admin", Role.PARTNER_ADMIN, log["city"])
    response = client.get("/emails/")
    assert _subjects(response) == {"CityNet account failed"}
    # Percentage partners have no finance.write: no button; the operator's e-mail to its
    # account is not its own to send in any case.
    assert "/retry/" not in response.content.decode()
    assert client.post(f"/emails/{log['city_account_failed'].pk}/retry/").status_code == 403


def test_an_own_invoicing_partner_cannot_send_its_accounts_emails_again(log):
    """With finance.write, a partner sends its own again; an e-mail it only reads (to its
    account) answers 404 and is not counted in 'all failed'."""
    own = log["own"]
    own.account = CustomerFactory(partner=home_partner(), name="OwnNet GmbH")
    own.save(update_fields=["account"])
    to_account = email_delivery(customer=own.account, status="failed", subject="Own account")
    client = _client("own_admin", Role.PARTNER_ADMIN, own)
    response = client.get("/emails/", {"status": "failed"})
    assert "Own account" in _subjects(response)
    assert response.context["failed"] == 2
    assert f"/emails/{to_account.pk}/retry/" not in response.content.decode()
    assert client.post(f"/emails/{to_account.pk}/retry/").status_code == 404
    assert client.post("/emails/retry/").status_code == 302
    to_account.refresh_from_db()
    assert to_account.status == EmailStatus.FAILED


def test_the_filters(log):
    client = _client("op", Role.ADMIN)
    assert _subjects(client.get("/emails/", {"status": "sent"})) == {"Olga sent"}
    invoices = {f"Invoice {log['olga_invoice'].number}", f"Invoice {log['otto_invoice'].number}"}
    assert _subjects(client.get("/emails/", {"kind": "invoice"})) == invoices
    assert _subjects(client.get("/emails/", {"q": "OTTO@other"})) == {
        "Otto secret failed",
        f"Invoice {log['otto_invoice'].number}",
    }
    assert _subjects(client.get("/emails/", {"q": "secret"})) == {"Otto secret failed"}
    assert _subjects(client.get("/emails/", {"q": log["olga_invoice"].number})) == {
        f"Invoice {log['olga_invoice'].number}"
    }
    assert _subjects(client.get("/emails/", {"run": log["run_id"]})) == invoices
    assert _subjects(client.get("/emails/", {"invoice": log["otto_invoice"].pk})) == {
        f"Invoice {log['otto_invoice'].number}"
    }
    # Values that are not a status, a kind or an id filter nothing, as on the other lists.
    for bad in ({"status": "lost"}, {"kind": "x"}, {"run": "9e99"}, {"run": "9" * 40}):
        assert len(_subjects(client.get("/emails/", bad))) == 7
    none = client.get("/emails/", {"q": "nobody-at-all"})
    assert "No e-mail matches these filters" in none.content.decode()


def test_the_htmx_search_answers_the_rows_only(log):
    client = _client("op", Role.ADMIN)
    response = client.get("/emails/", {"q": "secret"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html and "Otto secret failed" in html and "Olga" not in html


def test_sending_the_failed_ones_of_a_filter_again(log, django_capture_on_commit_callbacks):
    client = _client("op", Role.ADMIN)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/emails/retry/", {"kind": "reminder", "q": "failed"})
    assert response.status_code == 302
    assert response["Location"] == "/emails/?kind=reminder&q=failed"
    # The four failed reminders, sent now; the failed invoice e-mails stay failed.
    sent = {m.subject for m in mail.outbox}
    assert sent == {
        "Olga reminder failed",
        "Otto secret failed",
        "Alice failed",
        "CityNet account failed",
    }
    statuses = dict(EmailDelivery.objects.values_list("subject", "status"))
    assert statuses["Olga reminder failed"] == statuses["Alice failed"] == EmailStatus.SENT
    assert statuses[f"Invoice {log['olga_invoice'].number}"] == EmailStatus.FAILED
    assert statuses["Olga sent"] == EmailStatus.SENT
    assert EmailDelivery.objects.get(subject="Olga sent").attempts == 1
    page = client.get(response["Location"])
    assert "4 e-mails queued to be sent again." in page.content.decode()
    # Audited per partner: Own, Other and the operator (Alice and CityNet's account).
    events = AuditEvent.objects.filter(action="email.retried")
    assert sorted(e.changes["count"] for e in events) == [1, 1, 2]
    assert all(e.actor_label == "op" for e in events)


def test_a_billing_runs_failed_emails_link_to_the_page(log):
    client = _client("op", Role.ADMIN)
    html = client.get(f"/billing/runs/{log['run_id']}/").content.decode()
    link = f'href="/emails/?run={log["run_id"]}&amp;status=failed&amp;kind=invoice"'
    assert link in html and ">2 failed</a>" in html
    listed = client.get(f"/emails/?run={log['run_id']}&status=failed&kind=invoice")
    assert _subjects(listed) == {
        f"Invoice {log['olga_invoice'].number}",
        f"Invoice {log['otto_invoice'].number}",
    }
    assert "Send 2 failed e-mails again" in listed.content.decode()


def test_a_partner_sends_its_own_failed_emails_again_never_anothers(
    log, django_capture_on_commit_callbacks
):
    client = _client("own_admin", Role.PARTNER_ADMIN, log["own"])
    other = log["otto_failed"]
    with django_capture_on_commit_callbacks(execute=True):
        # Another partner's e-mail by id: 404, as a missing one.
        assert client.post(f"/emails/{other.pk}/retry/").status_code == 404
        assert client.post("/emails/987654321/retry/").status_code == 404
        response = client.post("/emails/retry/", {"kind": "reminder"})
    assert response.status_code == 302
    assert [m.subject for m in mail.outbox] == ["Olga reminder failed"]
    other.refresh_from_db()
    assert other.status == EmailStatus.FAILED and other.attempts == 5
    assert EmailDelivery.objects.filter(status=EmailStatus.FAILED).count() == 5


def test_one_email_sent_again_and_one_not_failed(log, django_capture_on_commit_callbacks):
    client = _client("own_staff", Role.PARTNER_STAFF, log["own"])
    failed = log["olga_invoice_failed"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/emails/{failed.pk}/retry/", {"status": "failed"})
    assert response["Location"] == "/emails/?status=failed"
    failed.refresh_from_db()
    assert failed.status == EmailStatus.SENT and failed.attempts == 6
    (message,) = mail.outbox
    assert message.attachments[0][0] == f"{log['olga_invoice'].number}.pdf"
    again = client.post(f"/emails/{log['olga_sent'].pk}/retry/", follow=True)
    assert "is sent, not failed: nothing to send again" in again.content.decode()
    assert len(mail.outbox) == 1


def test_support_may_not_send_again(log):
    client = _client("sup", Role.SUPPORT)
    assert client.post("/emails/retry/").status_code == 403
    assert client.post(f"/emails/{log['alice_failed'].pk}/retry/").status_code == 403
    assert client.get("/emails/retry/").status_code == 403
    assert EmailDelivery.objects.filter(status=EmailStatus.FAILED).count() == 6


def test_the_invoice_page_lists_its_emails(log):
    own = _client("own_admin", Role.PARTNER_ADMIN, log["own"])
    invoice = log["olga_invoice"]
    email_delivery(customer=invoice.customer, status="sent", kind="invoice", invoice=invoice)
    html = own.get(f"/invoices/{invoice.pk}/").content.decode()
    assert 'id="invoice-emails"' in html
    assert html.count("olga@own.example") >= 2
    assert '<span class="status failed">Failed</span>' in html
    assert '<span class="status sent">Sent</span>' in html
    assert "SMTPRecipientsRefused" in html
    assert f'href="/emails/?invoice={invoice.pk}"' in html
    # Another partner's invoice (and so its e-mails): 404.
    assert own.get(f"/invoices/{log['otto_invoice'].pk}/").status_code == 404
    # An invoice never e-mailed says so.
    other = _client("other_admin", Role.PARTNER_ADMIN, log["other"])
    EmailDelivery.objects.filter(invoice=log["otto_invoice"]).delete()
    assert "Not e-mailed." in other.get(f"/invoices/{log['otto_invoice'].pk}/").content.decode()


@pytest.fixture
def stuck(log):  # type: ignore[no-untyped-def]
    """E-mails left queued for 2 hours (their task lost), one of each tenant, and one of
    Olga's queued a minute ago (still on its way: left alone)."""
    from datetime import timedelta

    from django.utils import timezone

    olga, otto = log["olga_invoice"].customer, log["otto_invoice"].customer
    alice = EmailDelivery.objects.get(subject="Alice failed").customer
    d = {
        "olga": email_delivery(customer=olga, status="queued", subject="Olga stuck"),
        "otto": email_delivery(customer=otto, status="queued", subject="Otto stuck"),
        "alice": email_delivery(customer=alice, status="queued", subject="Alice stuck"),
        "city": email_delivery(
            customer=log["city"].account, status="queued", subject="CityNet account stuck"
        ),
    }
    EmailDelivery.objects.filter(pk__in=[e.pk for e in d.values()]).update(
        created_at=timezone.now() - timedelta(hours=2)
    )
    d["fresh"] = email_delivery(customer=olga, status="queued", subject="Olga fresh")
    return d


def _queued_subjects() -> set[str]:
    return set(
        EmailDelivery.objects.filter(status=EmailStatus.QUEUED).values_list("subject", flat=True)
    )


@pytest.mark.parametrize("role", [Role.ADMIN, Role.ACCOUNTANT])
def test_the_operator_sends_the_emails_stuck_in_the_queue(
    log, stuck, role, django_capture_on_commit_callbacks
):
    client = _client("op", role)
    html = client.get("/emails/").content.decode()
    assert 'action="/emails/send-queued/"' in html and "data-confirm=" in html
    assert "Send 4 stuck e-mails" in html and "queued for more than 60 minutes" in html
    # Narrowed by the page's filter, as the retry: Alice's only.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/emails/send-queued/", {"q": "alice"})
    assert response["Location"] == "/emails/?q=alice"
    assert [m.subject for m in mail.outbox] == ["Alice stuck"]
    assert (
        "1 e-mail stuck in the queue handed to sending."
        in client.get(response["Location"]).content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/emails/send-queued/")
    assert response["Location"] == "/emails/"
    assert sorted(m.subject for m in mail.outbox) == [
        "Alice stuck",
        "CityNet account stuck",
        "Olga stuck",
        "Otto stuck",
    ]
    assert _queued_subjects() == {"Olga fresh"}
    # Audited per partner and post: Alice's (the operator's), then Own's, Other's and the
    # operator's e-mail to CityNet's account.
    events = AuditEvent.objects.filter(action="email.queued_sent").order_by("pk")
    ids = [e.changes["ids"] for e in events]
    assert ids[0] == [stuck["alice"].pk]
    assert sorted(ids[1:]) == sorted([[stuck["olga"].pk], [stuck["otto"].pk], [stuck["city"].pk]])
    assert all(e.actor_label == "op" for e in events)
    # Nothing stuck any more: no button, and a post says so.
    assert "stuck e-mail" not in client.get("/emails/").content.decode()
    response = client.post("/emails/send-queued/", follow=True)
    assert "No e-mail is stuck in the queue." in response.content.decode()


@pytest.mark.parametrize("role", [Role.PARTNER_ADMIN, Role.PARTNER_STAFF])
def test_a_partner_sends_its_own_stuck_emails_never_anothers(
    log, stuck, role, django_capture_on_commit_callbacks
):
    client = _client("own_user", role, log["own"])
    html = client.get("/emails/").content.decode()
    assert "Send 1 stuck e-mail<" in html
    with django_capture_on_commit_callbacks(execute=True):
        # Even narrowed to another tenant's e-mail by its subject: nothing of theirs.
        response = client.post("/emails/send-queued/", {"q": "Otto stuck"})
        assert response.status_code == 302
        assert client.post("/emails/send-queued/", {"q": "Alice"}).status_code == 302
        response = client.post("/emails/send-queued/")
    assert response.status_code == 302
    assert [m.subject for m in mail.outbox] == ["Olga stuck"]
    assert _queued_subjects() == {
        "Olga fresh",
        "Otto stuck",
        "Alice stuck",
        "CityNet account stuck",
    }
    (event,) = AuditEvent.objects.filter(action="email.queued_sent")
    assert event.partner_id == log["own"].pk and event.changes["ids"] == [stuck["olga"].pk]


def test_who_may_not_send_stuck_emails(log, stuck):
    # A percentage partner reads the operator's e-mail to its account, never sends it.
    city = _client("city_admin", Role.PARTNER_ADMIN, log["city"])
    html = city.get("/emails/").content.decode()
    assert "CityNet account stuck" in html and "send-queued" not in html
    assert city.post("/emails/send-queued/").status_code == 403
    support = _client("sup", Role.SUPPORT)
    assert "send-queued" not in support.get("/emails/").content.decode()
    assert support.post("/emails/send-queued/").status_code == 403
    assert support.get("/emails/send-queued/").status_code == 403
    assert not mail.outbox and len(_queued_subjects()) == 5
