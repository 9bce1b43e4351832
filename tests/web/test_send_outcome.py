"""Sending an invoice from its page says what became of the e-mail (docs/documents.md,
"Email delivery"): without a broker it is sent, or failed after one attempt, before the
page answers, and the message says so (a failure with its reason and the E-mails page);
with a broker it is queued, on its way. Transactional: the send's commit runs its
callbacks in the request, as served."""

from __future__ import annotations

import smtplib
from datetime import date
from unittest import mock

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.test import Client
from django.urls import reverse

from ispbill.accounts.models import Role, User
from ispbill.billing.run import billing_run_start
from ispbill.invoicing.models import EmailDelivery, EmailStatus, Invoice
from ispbill.partners.models import Partner
from tests.factories import CustomerFactory, ServiceFactory, TariffFactory

pytestmark = pytest.mark.django_db(transaction=True)
APR = date(2026, 4, 1)


class RefusingBackend(LocmemBackend):
    """A mail server that is down while ``down`` is set."""

    down = False

    def send_messages(self, messages):  # type: ignore[no-untyped-def]
        if RefusingBackend.down:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


@pytest.fixture
def invoice(home, settings):  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "tests.web.test_send_outcome.RefusingBackend"
    RefusingBackend.down = False
    Partner.objects.filter(pk=home.pk).update(email="billing@operator.example")
    customer = CustomerFactory(partner=home, email="anna@example.org", name="Anna")
    ServiceFactory(customer=customer, tariff=TariffFactory(price_minor=3000), start_date=APR)
    billing_run_start(run_date=APR)
    yield Invoice.objects.get(customer=customer)
    RefusingBackend.down = False


def _send(role: str, invoice: Invoice) -> str:
    client = Client()
    client.force_login(User.objects.create(username=f"u-{role}", role=role))
    url = reverse("web:invoice_send", kwargs={"invoice_id": invoice.pk})
    response = client.post(url, {"to": "books@example.org"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse(
        "web:invoice", kwargs={"invoice_id": invoice.pk}
    )
    return response.content.decode()


@pytest.mark.parametrize("role", [Role.ADMIN, Role.ACCOUNTANT])
def test_sent_says_sent(invoice, role):
    html = _send(role, invoice)
    assert f"Invoice {invoice.number} was sent to books@example.org." in html
    assert "on its way" not in html
    delivery = EmailDelivery.objects.get()
    assert delivery.status == EmailStatus.SENT and delivery.attempts == 1
    assert [m.to for m in mail.outbox] == [["books@example.org"]]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.ACCOUNTANT])
def test_failed_says_failed_with_the_reason_after_one_attempt(invoice, role):
    RefusingBackend.down = True
    html = _send(role, invoice)
    assert "on its way" not in html and "was sent" not in html
    assert (
        f"Invoice {invoice.number} could not be sent to books@example.org: "
        "SMTPServerDisconnected: Connection unexpectedly closed. The e-mail is failed on the "
        f'<a href="/emails/?invoice={invoice.pk}&amp;status=failed">E-mails page</a>, to send '
        "again once the cause is fixed."
    ) in html
    delivery = EmailDelivery.objects.get()
    # One attempt in the request, not six in a row.
    assert delivery.status == EmailStatus.FAILED and delivery.attempts == 1
    assert not mail.outbox
    # Sent again from the E-mails page once the server is back.
    RefusingBackend.down = False
    client = Client()
    client.force_login(User.objects.get(username=f"u-{role}"))
    assert client.post(f"/emails/{delivery.pk}/retry/").status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == EmailStatus.SENT and delivery.attempts == 2
    assert len(mail.outbox) == 1


def test_with_a_broker_it_is_queued_on_its_way(invoice):
    with mock.patch("ispbill.invoicing.tasks.email_deliveries_send_task.delay") as taken:
        html = _send(Role.ADMIN, invoice)
    delivery = EmailDelivery.objects.get()
    taken.assert_called_once_with([delivery.pk])
    assert (
        f"Invoice {invoice.number} is queued and on its way to books@example.org; the "
        "E-mails page shows when it has been sent."
    ) in html
    assert delivery.status == EmailStatus.QUEUED and not mail.outbox
