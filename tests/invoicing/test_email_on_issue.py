"""Invoices e-mailed on issue (docs/documents.md, "Invoices e-mailed on issue"): an issuer
set so sends each issued invoice, its PDF attached, to the customer's address once the
issuing commits: a billing run's after each chunk, a single invoice after its request."""

from __future__ import annotations

from datetime import date
from importlib import import_module

import pytest
from django.apps import apps
from django.core import mail

from ispbill.billing.run import billing_run_start
from ispbill.invoicing.models import EmailDelivery, EmailKind, EmailStatus, Invoice
from ispbill.invoicing.sending import invoice_send
from ispbill.invoicing.tasks import invoices_deliver_task
from ispbill.partners.models import Partner, PartnerMode
from tests.factories import CustomerFactory, PartnerFactory, ServiceFactory, TariffFactory

pytestmark = pytest.mark.django_db
APR = date(2026, 4, 1)


@pytest.fixture(autouse=True)
def _emailing(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.EMAIL_INVOICES_ON_ISSUE = True
    settings.RENDER_PDFS_ON_ISSUE = True
    settings.MEDIA_ROOT = tmp_path / "media"


def _customer(partner: Partner, *, email: str, price_minor: int = 3000):  # type: ignore[no-untyped-def]
    customer = CustomerFactory(partner=partner, email=email, name=f"C {email or 'none'}")
    ServiceFactory(
        customer=customer,
        tariff=TariffFactory(partner=partner, price_minor=price_minor),
        start_date=APR,
    )
    return customer


def _run(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        billing_run_start(run_date=APR)


def test_a_run_emails_each_invoice_with_its_pdf_to_the_customers_with_an_address(
    home, django_capture_on_commit_callbacks
):
    Partner.objects.filter(pk=home.pk).update(email="billing@operator.example")
    anna = _customer(home, email="anna@example.org")
    bert = _customer(home, email="bert@example.org", price_minor=4500)
    nobody = _customer(home, email="")
    _run(django_capture_on_commit_callbacks)

    invoices = {i.customer_id: i for i in Invoice.objects.all()}
    assert set(invoices) == {anna.pk, bert.pk, nobody.pk}
    # One e-mail per invoice of a customer with an address, none for the one without.
    assert sorted(m.to[0] for m in mail.outbox) == ["anna@example.org", "bert@example.org"]
    for message in mail.outbox:
        invoice = invoices[anna.pk if message.to == ["anna@example.org"] else bert.pk]
        assert invoice.number in message.subject
        assert "billing@operator.example" in message.from_email
        [(name, content, mimetype)] = message.attachments
        assert name == f"{invoice.number}.pdf" and mimetype == "application/pdf"
        assert content[:4] == b"%PDF"
    deliveries = EmailDelivery.objects.order_by("invoice_id")
    assert [(d.invoice.customer_id, d.kind, d.status) for d in deliveries] == [
        (anna.pk, EmailKind.INVOICE, EmailStatus.SENT),
        (bert.pk, EmailKind.INVOICE, EmailStatus.SENT),
    ]
    # Every invoice has its stored PDF, the one not e-mailed too.
    assert all(i.pdf for i in Invoice.objects.all())


def test_an_issuer_that_does_not_email_on_issue_sends_nothing(
    home, django_capture_on_commit_callbacks
):
    Partner.objects.filter(pk=home.pk).update(email_invoices_on_issue=False)
    _customer(home, email="anna@example.org")
    _run(django_capture_on_commit_callbacks)
    assert not mail.outbox and not EmailDelivery.objects.exists()
    assert Invoice.objects.get().pdf  # the PDF is still rendered on issue


def test_each_issuer_decides_for_its_own_invoices(home, django_capture_on_commit_callbacks):
    own = PartnerFactory(mode=PartnerMode.OWN_INVOICING, email_invoices_on_issue=False)
    Partner.objects.filter(pk=home.pk).update(email_invoices_on_issue=True)
    _customer(home, email="direct@example.org")
    _customer(own, email="own@example.org")
    _run(django_capture_on_commit_callbacks)
    assert [m.to for m in mail.outbox] == [["direct@example.org"]]


def test_the_setting_switches_it_off_for_every_issuer(
    home, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_INVOICES_ON_ISSUE = False
    _customer(home, email="anna@example.org")
    _run(django_capture_on_commit_callbacks)
    assert not mail.outbox and Invoice.objects.get().pdf


def test_without_pdfs_on_issue_the_emailed_invoices_still_carry_their_pdf(
    home, settings, django_capture_on_commit_callbacks
):
    settings.RENDER_PDFS_ON_ISSUE = False
    _customer(home, email="anna@example.org")
    _customer(home, email="")
    _run(django_capture_on_commit_callbacks)
    [message] = mail.outbox
    assert message.attachments[0][1][:4] == b"%PDF"
    # Rendered for the e-mail and stored; the other waits for `ispbill render-pdfs`.
    assert sorted(bool(i.pdf) for i in Invoice.objects.all()) == [False, True]


def test_the_task_run_twice_sends_once_and_a_later_send_is_the_second(
    home, django_capture_on_commit_callbacks
):
    _customer(home, email="anna@example.org")
    _run(django_capture_on_commit_callbacks)
    invoice = Invoice.objects.get()
    assert len(mail.outbox) == 1
    # A worker that took the task again (acks_late after a crash) records and sends nothing.
    assert invoices_deliver_task([invoice.pk]) == {"pdfs_rendered": 0}
    assert len(mail.outbox) == 1 and EmailDelivery.objects.count() == 1
    assert EmailDelivery.objects.get().idempotency_key == f"invoice:{invoice.pk}:anna@example.org:1"
    with django_capture_on_commit_callbacks(execute=True):
        invoice_send(invoice=invoice)
    assert len(mail.outbox) == 2
    assert EmailDelivery.objects.order_by("pk").last().idempotency_key.endswith(":2")


def test_a_delivery_left_queued_by_a_stopped_worker_is_sent_by_the_next_attempt(
    home, django_capture_on_commit_callbacks
):
    _customer(home, email="anna@example.org")
    with django_capture_on_commit_callbacks(execute=False):
        billing_run_start(run_date=APR)  # committed; the task never ran
    invoice = Invoice.objects.get()
    from ispbill.invoicing.sending import invoices_issued_email_record

    [recorded] = invoices_issued_email_record([invoice.pk])  # a worker stopped after this
    assert not mail.outbox
    result = invoices_deliver_task([invoice.pk])
    assert result["sent"] == 1 and [m.to for m in mail.outbox] == [["anna@example.org"]]
    assert EmailDelivery.objects.get().pk == recorded


def test_an_invalid_address_is_left_out(home, django_capture_on_commit_callbacks):
    _customer(home, email="anna@example.org")
    bad = _customer(home, email="x@y")
    _run(django_capture_on_commit_callbacks)
    assert [m.to for m in mail.outbox] == [["anna@example.org"]]
    assert not EmailDelivery.objects.filter(customer=bad).exists()


def test_an_upgrade_with_invoices_keeps_it_off_a_new_installation_has_it_on(home):
    migration = import_module("ispbill.partners.migrations.0013_email_invoices_on_issue")
    migration.off_where_invoices_were_issued(apps, None)
    assert Partner.objects.get(pk=home.pk).email_invoices_on_issue  # no invoices yet
    _customer(home, email="anna@example.org")
    billing_run_start(run_date=APR)
    migration.off_where_invoices_were_issued(apps, None)
    assert not Partner.objects.get(pk=home.pk).email_invoices_on_issue


def test_the_run_page_and_the_api_show_its_pdfs_and_emails(
    home, settings, django_capture_on_commit_callbacks
):
    from django.test import Client
    from django.urls import reverse

    from ispbill.accounts.models import Role, User
    from ispbill.accounts.services import api_token_create
    from ispbill.invoicing.sending import billing_run_documents

    _customer(home, email="anna@example.org")
    _customer(home, email="bert@example.org")
    _customer(home, email="")
    settings.RENDER_PDFS_ON_ISSUE = False  # the one not e-mailed keeps no PDF
    with django_capture_on_commit_callbacks(execute=True):
        summary = billing_run_start(run_date=APR)
    EmailDelivery.objects.filter(to="bert@example.org").update(status=EmailStatus.FAILED)
    expected = {
        "pdfs_stored": 2,
        "pdfs_pending": 1,
        "pdfs_failed": 0,
        "emails_sent": 1,
        "emails_queued": 0,
        "emails_failed": 1,
        "emails_no_address": 1,
        "emails_setting_off": 0,
    }
    assert billing_run_documents(summary.run_id) == expected
    admin = User.objects.create(username="adm", role=Role.ADMIN)
    web = Client()
    web.force_login(admin)
    page = web.get(reverse("web:billing_run", kwargs={"run_id": summary.run_id}))
    html = page.content.decode()
    assert 'id="run-documents"' in html and "1 to render" in html and "1 failed" in html
    assert "Not e-mailed: 1 without a valid address</span>" in html
    _token, plaintext = api_token_create(user=admin, name="t")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    answer = api.get(f"/api/v1/billing-runs/{summary.run_id}")
    assert answer.status_code == 200 and answer.json()["documents"] == expected


def test_a_run_counts_its_invoices_not_emailed_and_why(
    home, settings, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    """Not e-mailed because the customer had no valid address (none, or not an address),
    and because the issuer's setting is off: counted by the database and one read of the
    addresses not e-mailed, whatever the run's size."""
    from django.test import Client

    from ispbill.accounts.models import Role, User
    from ispbill.invoicing.sending import billing_run_documents

    own = PartnerFactory(name="OwnNet", mode=PartnerMode.OWN_INVOICING)
    Partner.objects.filter(pk=own.pk).update(email_invoices_on_issue=False)
    _customer(home, email="anna@example.org")
    _customer(home, email="")
    _customer(home, email="x@y")
    _customer(own, email="olga@example.org")
    _customer(own, email="")
    settings.RENDER_PDFS_ON_ISSUE = False
    with django_capture_on_commit_callbacks(execute=True):
        summary = billing_run_start(run_date=APR)
    assert Invoice.objects.filter(billing_run_id=summary.run_id).count() == 5
    assert [m.to for m in mail.outbox] == [["anna@example.org"]]
    with django_assert_max_num_queries(4):
        documents = billing_run_documents(summary.run_id)
    assert documents["emails_sent"] == 1
    assert documents["emails_no_address"] == 2  # "" and "x@y", the operator's
    assert documents["emails_setting_off"] == 2  # OwnNet's, with an address or not
    # An invoice sent by hand later is e-mailed: no longer counted.
    nobody = Invoice.objects.get(issuer=home, customer_snapshot__email="")
    with django_capture_on_commit_callbacks(execute=True):
        invoice_send(invoice=nobody, to="books@example.org")
    assert billing_run_documents(summary.run_id)["emails_no_address"] == 1
    # EMAIL_INVOICES_ON_ISSUE off: every invoice not e-mailed was not for the setting.
    settings.EMAIL_INVOICES_ON_ISSUE = False
    documents = billing_run_documents(summary.run_id)
    assert (documents["emails_no_address"], documents["emails_setting_off"]) == (0, 3)
    settings.EMAIL_INVOICES_ON_ISSUE = True
    admin = User.objects.create(username="adm", role=Role.ADMIN)
    web = Client()
    web.force_login(admin)
    html = web.get(f"/billing/runs/{summary.run_id}/").content.decode()
    assert (
        "Not e-mailed: 1 without a valid address · 2 with the issuer's "
        '"E-mail invoices when issued" off</span>'
    ) in html
