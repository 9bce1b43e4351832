"""Email templates: Jinja2 sandbox over plain data, per issuer, in the customer's language."""

from __future__ import annotations

from datetime import date

import pytest
from django.core import mail

from ispbill.billing.run import billing_run_start
from ispbill.dunning.services import dunning_run
from ispbill.invoicing.emails import (
    EMAIL_DEFAULTS,
    EmailTemplateError,
    email_render,
    email_sample_context,
)
from ispbill.invoicing.models import DocumentTemplate, Invoice
from ispbill.invoicing.sending import invoice_send
from ispbill.invoicing.templates import document_template_active, document_template_save
from tests.factories import CustomerFactory, ServiceFactory, TariffFactory

pytestmark = pytest.mark.django_db
GOOD = "Subject: Bill {{ invoice.number }}\n\nHello {{ customer.name }}, {{ invoice.total }}.\n"


@pytest.mark.parametrize(
    "body",
    [
        "{{ customer.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ lipsum.__globals__ }}",
        "{{ joiner.__init__.__globals__ }}",
        "{{ customer.name.__class__.__base__ }}",
        "{{ customer|attr('__class__') }}",
        "{{ range.__self__ }}",
        "{% include '/etc/passwd' %}",
        "{% import '/etc/passwd' as x %}",
        "{% extends '/etc/passwd' %}",
        "{{ self.__init__.__globals__ }}",
        "{{ 'x' * 1000000000 }}",
        "{{ 2 ** 10000000 }}",
        "{{ ((9 ** 100) ** 100) ** 100 }}",
        "{{ customer.update({'name': 'x'}) }}",
        "{% for i in range(10000000) %}{% endfor %}",
        "{{ config }}",
        "{{ request }}",
        "{{ undefined_name.x }}",
    ],
)
def test_email_templates_cannot_escape_the_sandbox(home, body):
    source = f"Subject: x\n\n{body}\n"
    with pytest.raises(EmailTemplateError):
        document_template_save(issuer=home, document_type="email_invoice", source=source)
    assert not DocumentTemplate.objects.filter(partner=home).exists()


def test_a_broken_email_template_names_its_line(home):
    with pytest.raises(EmailTemplateError) as err:
        document_template_save(
            issuer=home, document_type="email_invoice", source="Subject: x\n\n{% if %}\n"
        )
    assert err.value.line == 3
    with pytest.raises(EmailTemplateError) as err:
        document_template_save(issuer=home, document_type="email_invoice", source="Hello\n")
    assert "Subject" in err.value.message


@pytest.mark.parametrize("language", ["en", "de"])
def test_defaults_render_in_both_languages(language):
    for kind, source in EMAIL_DEFAULTS.items():
        text = email_render(source, email_sample_context(document_type=kind, language=language))
        assert "202501000123" in text.subject
        assert ("Guten Tag" in text.body) == (language == "de")
        assert ("115,57\xa0€" in text.body) == (language == "de")


@pytest.fixture
def invoices(home):
    out = []
    for lang in ("de", "en"):
        c = CustomerFactory(partner=home, language=lang, name=f"Kunde {lang}")
        ServiceFactory(
            customer=c, tariff=TariffFactory(price_minor=3000), start_date=date(2026, 4, 1)
        )
        out.append(c)
    billing_run_start(run_date=date(2026, 4, 1))
    return [Invoice.objects.get(customer=c) for c in out]


def test_invoice_email_in_the_customers_language_with_the_pdf(
    invoices, django_capture_on_commit_callbacks
):
    de, en = invoices
    with django_capture_on_commit_callbacks(execute=True):
        invoice_send(invoice=de)
        invoice_send(invoice=en)
    assert len(mail.outbox) == 2
    assert mail.outbox[0].subject.startswith("Ihre Rechnung")
    assert "Guten Tag Kunde de" in mail.outbox[0].body and "35,70\xa0€" in mail.outbox[0].body
    assert mail.outbox[1].subject.startswith("Your invoice")
    assert "€35.70" in mail.outbox[1].body
    name, content, mimetype = mail.outbox[0].attachments[0]
    assert name == f"{de.number}.pdf" and mimetype == "application/pdf"
    assert content.startswith(b"%PDF")


def test_the_issuers_email_templates_are_used(invoices, home, django_capture_on_commit_callbacks):
    document_template_save(issuer=home, document_type="email_invoice", source=GOOD)
    document_template_save(
        issuer=home,
        document_type="email_reminder",
        source="Subject: Still open: {{ invoice.number }}\n\n{{ invoice.open_amount }}\n",
    )
    assert document_template_active(home, "email_invoice") == GOOD
    with django_capture_on_commit_callbacks(execute=True):
        invoice_send(invoice=invoices[1])
    assert mail.outbox[-1].subject == f"Bill {invoices[1].number}"
    assert "Hello Kunde en, €35.70." in mail.outbox[-1].body
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        dunning_run(today=date(2026, 4, 18))  # 3 days after the due date
    assert sorted(m.subject for m in mail.outbox) == sorted(
        f"Still open: {inv.number}" for inv in invoices
    )


def test_a_batch_reads_each_issuers_email_template_once(home, django_assert_num_queries):
    """``issuer_email_render(templates=…)``, as a dunning run renders its reminders: the
    issuer's template is read by the first call and kept for the others."""
    from ispbill.invoicing.templates import issuer_email_render

    document_template_save(issuer=home, document_type="email_reminder", source=GOOD)
    context = email_sample_context(document_type="email_reminder", language="en")
    templates: dict[tuple[int, str], str] = {}
    with django_assert_num_queries(1):
        first = issuer_email_render(home, "email_reminder", context, templates=templates)
        for _ in range(4):
            again = issuer_email_render(home, "email_reminder", context, templates=templates)
    assert first.subject == again.subject == "Bill 202501000123"
    assert templates == {(home.pk, "email_reminder"): GOOD}


@pytest.mark.parametrize("document_type", sorted(EMAIL_DEFAULTS))
@pytest.mark.parametrize("language", ["en", "de"])
def test_the_shipped_defaults_render_here_as_the_worker_renders_them(document_type, language):
    """The defaults are ours: they render in this process, in the same sandbox, and give what
    the render worker gives (the same source with a newline more goes to the worker)."""
    from unittest import mock

    from ispbill.invoicing.emails import email_render, email_sample_context

    context = email_sample_context(document_type=document_type, language=language)
    source = EMAIL_DEFAULTS[document_type]
    by_worker = email_render(source + "\n", context)
    with mock.patch(
        "ispbill.invoicing.emails.worker_request", side_effect=AssertionError("no worker")
    ):
        here = email_render(source, context)
    assert (here.subject, here.body) == (by_worker.subject, by_worker.body)
