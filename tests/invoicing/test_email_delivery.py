"""The email log: every email recorded, sent after commit, retried, never sent twice."""

from __future__ import annotations

import smtplib
from datetime import date
from email.utils import parseaddr
from unittest import mock

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.utils import timezone

from ispbill.billing.run import billing_run_start
from ispbill.cli import main as cli_main
from ispbill.core.errors import DomainValidationError
from ispbill.core.tenancy import partner_scope
from ispbill.customers.models import Reminder
from ispbill.dunning.services import dunning_run
from ispbill.invoicing.models import EmailDelivery, EmailKind, EmailStatus, Invoice
from ispbill.invoicing.sending import (
    EmailOutcome,
    email_delivery_counts,
    email_delivery_retry,
    invoice_send,
)
from ispbill.invoicing.tasks import (
    EMAIL_MAX_RETRIES,
    email_delivery_send_task,
    email_retry_countdown,
)
from ispbill.partners.models import Partner, PartnerMode
from tests.factories import CustomerFactory, PartnerFactory, ServiceFactory, TariffFactory

pytestmark = pytest.mark.django_db
APR = date(2026, 4, 1)
FLAKY = "tests.invoicing.test_email_delivery.FlakyBackend"


class FlakyBackend(LocmemBackend):
    """The test backend that fails ``failures`` times before it delivers."""

    failures = 0

    def send_messages(self, messages):  # type: ignore[no-untyped-def]
        if FlakyBackend.failures > 0:
            FlakyBackend.failures -= 1
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


@pytest.fixture
def flaky(settings):  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = FLAKY
    FlakyBackend.failures = 0
    yield FlakyBackend
    FlakyBackend.failures = 0


def _issued(partner: Partner, *, email: str = "anna@example.org") -> Invoice:
    customer = CustomerFactory(partner=partner, email=email, name="Anna")
    ServiceFactory(customer=customer, tariff=TariffFactory(price_minor=3000), start_date=APR)
    billing_run_start(run_date=APR)
    return Invoice.objects.get(customer=customer)


@pytest.fixture
def invoice(home):  # type: ignore[no-untyped-def]
    Partner.objects.filter(pk=home.pk).update(email="billing@operator.example")
    return _issued(home)


def test_sending_logs_a_delivery_and_sends_it_after_commit(
    invoice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert invoice_send(invoice=invoice).to == "anna@example.org"
        delivery = EmailDelivery.objects.get(invoice=invoice)
        assert delivery.status == EmailStatus.QUEUED and not mail.outbox
    assert len(callbacks) == 1
    delivery.refresh_from_db()
    assert delivery.status == EmailStatus.SENT and delivery.attempts == 1
    assert delivery.sent_at is not None and delivery.last_error == ""
    assert delivery.kind == EmailKind.INVOICE
    assert delivery.partner_id == invoice.partner_id and delivery.issuer_id == invoice.issuer_id
    assert delivery.customer_id == invoice.customer_id
    assert delivery.idempotency_key == f"invoice:{invoice.pk}:anna@example.org:1"
    (message,) = mail.outbox
    assert message.to == ["anna@example.org"]
    # From: the issuer's brand (sender name) at its address (docs/reseller-modes.md "Brand").
    assert parseaddr(message.from_email)[1] == "billing@operator.example"
    assert message.subject == delivery.subject and invoice.number in message.subject
    assert message.extra_headers["Message-ID"] == delivery.message_id
    assert message.attachments[0][0] == f"{invoice.number}.pdf"


def test_rerunning_the_task_does_not_send_twice(invoice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invoice_send(invoice=invoice)
    delivery = EmailDelivery.objects.get(invoice=invoice)
    assert email_delivery_send_task.delay(delivery.pk).get() == EmailOutcome.SKIPPED
    assert email_delivery_send_task.delay(delivery.pk).get() == EmailOutcome.SKIPPED
    assert len(mail.outbox) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1


def test_an_explicit_resend_is_a_new_delivery(invoice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invoice_send(invoice=invoice)
        invoice_send(invoice=invoice)
        invoice_send(invoice=invoice, to="accounts@example.org")
    keys = set(EmailDelivery.objects.values_list("idempotency_key", flat=True))
    assert keys == {
        f"invoice:{invoice.pk}:anna@example.org:1",
        f"invoice:{invoice.pk}:anna@example.org:2",
        f"invoice:{invoice.pk}:accounts@example.org:1",
    }
    assert len(mail.outbox) == 3


def test_the_sender_falls_back_to_the_default(home, settings, django_capture_on_commit_callbacks):
    settings.DEFAULT_FROM_EMAIL = "noreply@operator.example"
    invoice = _issued(home)
    assert not invoice.issuer_snapshot.get("email")
    with django_capture_on_commit_callbacks(execute=True):
        invoice_send(invoice=invoice)
    assert parseaddr(mail.outbox[0].from_email)[1] == "noreply@operator.example"
    assert parseaddr(EmailDelivery.objects.get().from_email)[1] == "noreply@operator.example"


def test_an_own_invoicing_partner_sends_from_its_own_address(
    django_capture_on_commit_callbacks,
):
    partner = PartnerFactory(mode=PartnerMode.OWN_INVOICING, email="rechnung@reseller.example")
    invoice = _issued(partner)
    assert invoice.issuer_id == partner.pk
    with django_capture_on_commit_callbacks(execute=True):
        invoice_send(invoice=invoice)
    assert parseaddr(mail.outbox[0].from_email)[1] == "rechnung@reseller.example"
    with partner_scope(partner.pk):
        assert EmailDelivery.objects.get().issuer_id == partner.pk
    other = PartnerFactory(mode=PartnerMode.OWN_INVOICING)
    with partner_scope(other.pk):
        assert not EmailDelivery.objects.exists()


def test_no_address_is_refused_and_nothing_is_recorded(home):
    invoice = _issued(home, email="")
    with pytest.raises(DomainValidationError) as exc:
        invoice_send(invoice=invoice)
    assert "to" in exc.value.fields
    with pytest.raises(DomainValidationError):
        invoice_send(invoice=invoice, to="not an address")
    assert not EmailDelivery.objects.exists()


def test_without_a_broker_one_attempt_then_failed_and_sent_again_on_demand(
    invoice, flaky, django_capture_on_commit_callbacks
):
    """Eager Celery (no broker): the send runs in the caller's request, so a transport
    error is one attempt and the delivery is failed at once (not 6 attempts in a row), to
    send again from the E-mails page (docs/documents.md, "Email delivery")."""
    flaky.failures = 1
    with django_capture_on_commit_callbacks(execute=True):
        invoice_send(invoice=invoice)
    delivery = EmailDelivery.objects.get()
    assert delivery.status == EmailStatus.FAILED
    assert delivery.attempts == 1
    assert "SMTPServerDisconnected" in delivery.last_error
    assert not mail.outbox
    with django_capture_on_commit_callbacks(execute=True):
        assert email_delivery_retry() == 1
    delivery.refresh_from_db()
    assert delivery.status == EmailStatus.SENT and delivery.attempts == 2
    assert len(mail.outbox) == 1


def test_a_permanent_failure_is_recorded_then_retried_on_demand(
    invoice, flaky, django_capture_on_commit_callbacks, capsys
):
    flaky.failures = 1000
    with django_capture_on_commit_callbacks(execute=True):
        invoice_send(invoice=invoice)
    delivery = EmailDelivery.objects.get()
    assert delivery.status == EmailStatus.FAILED
    assert delivery.attempts == 1
    assert delivery.last_error == "SMTPServerDisconnected: Connection unexpectedly closed"
    assert delivery.sent_at is None and not mail.outbox
    # A later run of the task leaves a failed delivery alone.
    assert email_delivery_send_task.delay(delivery.pk).get() == EmailOutcome.SKIPPED
    assert email_delivery_counts() == {"queued": 0, "sent": 0, "failed": 1}

    assert cli_main(["emails"]) == 0
    assert "0 queued, 0 sent, 1 failed" in capsys.readouterr().out
    flaky.failures = 0
    with django_capture_on_commit_callbacks(execute=True):
        assert cli_main(["emails", "--retry-failed"]) == 0
    assert "Queued 1 failed email(s) again." in capsys.readouterr().out
    delivery.refresh_from_db()
    assert delivery.status == EmailStatus.SENT
    assert delivery.attempts == 2
    assert len(mail.outbox) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert email_delivery_retry() == 0
    assert len(mail.outbox) == 1


def test_with_a_broker_the_last_of_the_retries_leaves_it_failed(invoice, flaky):
    flaky.failures = 1000
    invoice_send(invoice=invoice)  # on_commit not run: the task is called as a worker would
    delivery = EmailDelivery.objects.get()
    for retries in range(EMAIL_MAX_RETRIES + 1):
        email_delivery_send_task.push_request(retries=retries, is_eager=False)
        try:
            with mock.patch.object(email_delivery_send_task, "retry", side_effect=Retry()):
                if retries < EMAIL_MAX_RETRIES:
                    with pytest.raises(Retry):
                        email_delivery_send_task.run(delivery.pk)
                else:
                    assert email_delivery_send_task.run(delivery.pk) == EmailOutcome.FAILED
        finally:
            email_delivery_send_task.pop_request()
    delivery.refresh_from_db()
    assert delivery.status == EmailStatus.FAILED
    assert delivery.attempts == EMAIL_MAX_RETRIES + 1


def test_a_message_that_cannot_be_built_fails_at_once(invoice, django_capture_on_commit_callbacks):
    with (
        mock.patch(
            "ispbill.invoicing.sending.invoice_pdf",
            side_effect=[b"%PDF-1.7", RuntimeError("renderer gone")],
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        invoice_send(invoice=invoice)
    delivery = EmailDelivery.objects.get()
    assert delivery.status == EmailStatus.FAILED and delivery.attempts == 1
    assert delivery.last_error == "RuntimeError: renderer gone"
    assert not mail.outbox


def test_with_a_broker_a_failure_is_retried_later_with_a_growing_delay(invoice, flaky):
    flaky.failures = 1
    invoice_send(invoice=invoice)  # on_commit not run: the task is called as a worker would
    delivery = EmailDelivery.objects.get()
    email_delivery_send_task.push_request(retries=2, is_eager=False)
    try:
        with (
            mock.patch.object(email_delivery_send_task, "retry", side_effect=Retry()) as retry,
            pytest.raises(Retry),
        ):
            email_delivery_send_task.run(delivery.pk)
    finally:
        email_delivery_send_task.pop_request()
    retry.assert_called_once_with(countdown=email_retry_countdown(2))
    assert [email_retry_countdown(n) for n in range(EMAIL_MAX_RETRIES)] == [
        60,
        120,
        240,
        480,
        960,
    ]
    delivery.refresh_from_db()
    assert delivery.status == EmailStatus.QUEUED and delivery.attempts == 1


@pytest.fixture
def overdue(home):  # type: ignore[no-untyped-def]
    Partner.objects.filter(pk=home.pk).update(email="billing@operator.example")
    return _issued(home)


def test_a_reminder_step_is_sent_once_even_when_dunning_runs_twice(
    overdue, django_capture_on_commit_callbacks
):
    day = overdue.due_date.toordinal() + 3
    today = date.fromordinal(day)
    with django_capture_on_commit_callbacks(execute=True):
        assert dunning_run(today=today).reminders == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert dunning_run(today=today).reminders == 0
    # Even without the reminder record (two runs that overlapped), the key holds.
    Reminder.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert dunning_run(today=today).reminders == 0
    (message,) = mail.outbox
    assert message.to == ["anna@example.org"]
    assert parseaddr(message.from_email)[1] == "billing@operator.example"
    assert overdue.number in message.subject and not message.attachments
    delivery = EmailDelivery.objects.get()
    assert delivery.kind == EmailKind.REMINDER and delivery.status == EmailStatus.SENT
    assert delivery.idempotency_key == f"reminder:{overdue.pk}:3"
    # The next step is a new email.
    with django_capture_on_commit_callbacks(execute=True):
        assert dunning_run(today=date.fromordinal(day + 2)).reminders == 1
    assert len(mail.outbox) == 2


class CountingBackend(LocmemBackend):
    """The test backend, counting the connections made."""

    made = 0

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        CountingBackend.made += 1
        super().__init__(*args, **kwargs)


def test_a_batch_is_sent_over_one_connection_and_a_failure_is_retried_alone(
    home, settings, flaky, django_capture_on_commit_callbacks
):
    """``email_deliveries_send_task``: the deliveries of a commit go out in batches, each
    over one connection; a transport error hands that delivery to the single task (its
    growing delay, this attempt counted) and the batch goes on."""
    from ispbill.invoicing.tasks import email_deliveries_send_task

    Partner.objects.filter(pk=home.pk).update(email="billing@operator.example")
    invoices = [_issued(home, email=f"c{i}@example.org") for i in range(3)]
    with django_capture_on_commit_callbacks(execute=False):
        for inv in invoices:
            invoice_send(invoice=inv)
    ids = list(EmailDelivery.objects.order_by("pk").values_list("pk", flat=True))
    assert len(ids) == 3

    settings.EMAIL_BACKEND = "tests.invoicing.test_email_delivery.CountingBackend"
    CountingBackend.made = 0
    assert email_deliveries_send_task.delay(ids[:2]).get() == {EmailOutcome.SENT: 2}
    assert CountingBackend.made == 1 and len(mail.outbox) == 2

    settings.EMAIL_BACKEND = FLAKY
    flaky.failures = 1
    # With a broker (a worker runs the task): the failed one goes to the single task, its
    # first retry after a minute, this attempt counted.
    email_deliveries_send_task.push_request(is_eager=False)
    try:
        with mock.patch.object(email_delivery_send_task, "apply_async") as handed:
            assert email_deliveries_send_task.run(ids) == {
                EmailOutcome.SKIPPED: 2,
                EmailOutcome.RETRY: 1,
            }
    finally:
        email_deliveries_send_task.pop_request()
    handed.assert_called_once_with((ids[2],), countdown=email_retry_countdown(0), retries=1)
    last = EmailDelivery.objects.get(pk=ids[2])
    assert last.status == EmailStatus.QUEUED and last.attempts == 1
    # Without a broker (eager, in the request): that one attempt is all, the e-mail failed.
    flaky.failures = 1
    EmailDelivery.objects.filter(pk=ids[2]).update(attempts=0)
    assert email_deliveries_send_task.delay(ids).get() == {
        EmailOutcome.SKIPPED: 2,
        EmailOutcome.FAILED: 1,
    }
    last.refresh_from_db()
    assert last.status == EmailStatus.FAILED and last.attempts == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert email_delivery_retry(delivery_ids=[ids[2]]) == 1
    last.refresh_from_db()
    assert last.status == EmailStatus.SENT and last.attempts == 2
    assert [m.to for m in mail.outbox] == [
        ["c0@example.org"],
        ["c1@example.org"],
        ["c2@example.org"],
    ]


def test_a_batch_row_sent_meanwhile_is_skipped_and_attempts_come_from_the_locked_row(
    invoice, django_capture_on_commit_callbacks
):
    """A batch reads its deliveries together, then locks each before sending: one sent by
    another attempt since the read is skipped (nothing sent), and the attempts counted are
    the locked row's, not the read's."""
    from ispbill.invoicing.sending import email_deliveries_for_send, email_delivery_send

    with django_capture_on_commit_callbacks(execute=False):
        invoice_send(invoice=invoice)
        invoice_send(invoice=invoice, to="second@example.org")
    first, second = EmailDelivery.objects.order_by("pk")
    rows = email_deliveries_for_send([first.pk, second.pk])
    assert set(rows) == {first.pk, second.pk}
    EmailDelivery.objects.filter(pk=first.pk).update(
        status=EmailStatus.SENT, sent_at=timezone.now(), attempts=1
    )
    EmailDelivery.objects.filter(pk=second.pk).update(attempts=3)

    skipped = email_delivery_send(delivery_id=first.pk, delivery=rows[first.pk])
    sent = email_delivery_send(delivery_id=second.pk, delivery=rows[second.pk])

    assert (skipped, sent) == (EmailOutcome.SKIPPED, EmailOutcome.SENT)
    assert [m.to for m in mail.outbox] == [["second@example.org"]]
    second.refresh_from_db()
    assert second.status == EmailStatus.SENT and second.attempts == 4
    assert second.sent_at is not None and second.last_attempt_at == second.sent_at


def test_the_message_bytes_are_the_standard_generators(invoice, django_capture_on_commit_callbacks):
    """The MIME form of a sent message is flattened in whole text parts (docs/performance.md):
    byte for byte what Python's generator writes line by line, non-ASCII headers, body and
    the PDF's base64 included, with either line ending."""
    from email.generator import BytesGenerator
    from io import BytesIO

    from ispbill.invoicing.sending import _message

    with django_capture_on_commit_callbacks(execute=False):
        invoice_send(invoice=invoice)
    delivery = EmailDelivery.objects.get()
    delivery.subject = "Rechnung für März – Straße 5"
    delivery.body = "Grüße,\r\nIhr Anbieter\rZeile\n\nEnde ohne Umbruch"
    mime = _message(delivery).message()
    # The boundary is chosen with the message, so the generator does not search the whole
    # flattened text for a clash with one of its own.
    boundary = mime.get_boundary()
    assert boundary is not None and len(boundary) == 49
    for linesep in ("\r\n", "\n"):
        out = BytesIO()
        BytesGenerator(out, mangle_from_=False).flatten(mime, linesep=linesep)
        ours = mime.as_bytes(linesep=linesep)
        assert ours == out.getvalue()
        assert b"application/pdf" in ours and len(ours) > 10_000
        assert ours.count(f"--{boundary}".encode()) == 3  # two parts and the end
