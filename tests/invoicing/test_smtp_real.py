"""Invoices sent through Django's SMTP backend to a real SMTP server (aiosmtpd on 127.0.0.1)
that receives the message and its PDF."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from datetime import date
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.test import override_settings

from ispbill.billing.run import billing_run_start
from ispbill.invoicing.models import EmailDelivery, EmailStatus, Invoice
from ispbill.invoicing.sending import email_delivery_retry, invoice_send
from ispbill.partners.models import Partner
from tests.factories import CustomerFactory, ServiceFactory, TariffFactory
from tests.invoicing.conftest import pdf_text

pytestmark = pytest.mark.django_db


class Mailbox:
    """An aiosmtpd handler keeping what it accepts; it answers 550 to the first ``refuse``
    messages."""

    def __init__(self) -> None:
        self.received: list[Any] = []
        self.refuse = 0
        self.refused = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse > 0:
            self.refuse -= 1
            self.refused += 1
            return "550 5.7.1 Message refused by policy"
        self.received.append(envelope)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[Mailbox]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=controller.port,
            EMAIL_HOST_USER="",
            EMAIL_HOST_PASSWORD="",
            EMAIL_USE_TLS=False,
            EMAIL_USE_SSL=False,
            EMAIL_TIMEOUT=10,
        ):
            yield mailbox
    finally:
        controller.stop()


@pytest.fixture
def invoice(home, media, django_capture_on_commit_callbacks) -> Invoice:  # type: ignore[no-untyped-def]
    Partner.objects.filter(pk=home.pk).update(email="billing@operator.example")
    customer = CustomerFactory(partner=home, email="anna@example.org", name="Anna Schmidt")
    ServiceFactory(
        customer=customer, tariff=TariffFactory(price_minor=3000), start_date=date(2026, 4, 1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        billing_run_start(run_date=date(2026, 4, 1))
    invoice = Invoice.objects.get(customer=customer)
    assert invoice.pdf  # rendered and stored at issue
    return invoice


def _parsed(envelope: Any) -> EmailMessage:
    message = email.message_from_bytes(envelope.original_content, policy=default_policy)
    assert isinstance(message, EmailMessage)
    return message


def test_the_smtp_server_receives_the_invoice_and_its_pdf(
    smtp, invoice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invoice_send(invoice=invoice)
    (envelope,) = smtp.received
    assert envelope.mail_from == "billing@operator.example"
    assert envelope.rcpt_tos == ["anna@example.org"]
    message = _parsed(envelope)
    assert message["To"] == "anna@example.org"
    assert message["From"].addresses[0].addr_spec == "billing@operator.example"
    assert invoice.number in message["Subject"]
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and "Dear Anna Schmidt" in body.get_content()
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"{invoice.number}.pdf"
    pdf = attachment.get_content()
    assert pdf.startswith(b"%PDF")
    assert invoice.number in pdf_text(pdf)
    delivery = EmailDelivery.objects.get()
    assert delivery.status == EmailStatus.SENT and delivery.attempts == 1
    assert message["Message-ID"] == delivery.message_id


def test_a_refusal_is_recorded_and_retried(smtp, invoice, django_capture_on_commit_callbacks):
    smtp.refuse = 2
    with django_capture_on_commit_callbacks(execute=True):
        invoice_send(invoice=invoice)
    # Without a broker one attempt: failed, sent again on demand (a worker retries later).
    delivery = EmailDelivery.objects.get()
    assert delivery.status == EmailStatus.FAILED and delivery.attempts == 1
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            assert email_delivery_retry() == 1
    assert smtp.refused == 2
    delivery.refresh_from_db()
    assert delivery.status == EmailStatus.SENT and delivery.attempts == 3
    assert "550" in delivery.last_error and "refused by policy" in delivery.last_error
    (envelope,) = smtp.received
    # Every attempt carries the same Message-ID, so a receiver can tell a retry.
    assert _parsed(envelope)["Message-ID"] == delivery.message_id


def test_a_server_that_keeps_refusing_leaves_the_delivery_failed(
    smtp, invoice, django_capture_on_commit_callbacks
):
    smtp.refuse = 1000
    with django_capture_on_commit_callbacks(execute=True):
        invoice_send(invoice=invoice)
    delivery = EmailDelivery.objects.get()
    assert delivery.status == EmailStatus.FAILED
    assert delivery.attempts == 1 == smtp.refused  # no broker: one attempt in the request
    assert delivery.last_error.startswith("SMTPDataError: (550")
    assert not smtp.received
    smtp.refuse = 0
    with django_capture_on_commit_callbacks(execute=True):
        assert email_delivery_retry() == 1
    delivery.refresh_from_db()
    assert delivery.status == EmailStatus.SENT
    assert len(smtp.received) == 1


def test_an_unreachable_server_is_an_error_that_fails_the_attempt(
    invoice, django_capture_on_commit_callbacks
):
    with (
        override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=_free_port(),  # nothing listens there
            EMAIL_TIMEOUT=5,
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        invoice_send(invoice=invoice)
    delivery = EmailDelivery.objects.get()
    assert delivery.status == EmailStatus.FAILED
    assert delivery.attempts == 1
    assert delivery.last_error.startswith("ConnectionRefusedError")
