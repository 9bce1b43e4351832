"""One issuer's template never stops the others' documents (docs/documents.md, "Limits").

A hostile own-invoicing partner's template that is fast on the sample but slow or explosive on
its real documents (it loops only when the invoice number starts with the partner's prefix)
passes validation, then breaks a limit at issue: that partner's invoices are rendered with the
default template (said on the invoice page), the template is not tried again for its further
documents, and the operator's invoices are issued and rendered in the same run. The same for
a reminder email template in a dunning run."""

from __future__ import annotations

import time
from datetime import date

import pytest
from django.contrib.auth.hashers import make_password
from django.core import mail
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from ispbill.accounts.models import Role, User
from ispbill.accounts.services import api_token_create
from ispbill.billing.run import billing_run_start
from ispbill.core.errors import DomainValidationError
from ispbill.documents.pool import limits_override
from ispbill.dunning.services import dunning_run
from ispbill.invoicing.emails import EmailTemplateError
from ispbill.invoicing.models import DocumentTemplate, Invoice, IssuerAsset
from ispbill.invoicing.templates import document_template_save, issuer_asset_upload
from ispbill.partners.models import PartnerMode
from tests.documents.test_limits import EVIL_FONT, big_png, tiny_font
from tests.factories import (
    CustomerFactory,
    ServiceFactory,
    TariffFactory,
    TaxRateFactory,
    partner_with_account,
)
from tests.invoicing.conftest import MINIMAL, pdf_text

pytestmark = pytest.mark.django_db
JAN = date(2026, 1, 1)
LIMIT = 2.0  # seconds; the defaults are larger (docs/documents.md, "Limits")
# Fast on the sample (number 202501000123), a long loop on the partner's own invoices.
PREFIX_LOOP = MINIMAL + (
    '#if d.document.number.starts-with("O-") {\n'
    "  let x = 0\n"
    "  for i in range(30000) { for j in range(30000) { x += 1 } }\n"
    "}\n"
)
PREFIX_MEMORY = MINIMAL + (
    '#if d.document.number.starts-with("O-") { let a = range(300000000); a.len() }\n'
)


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def hostile(home):
    partner = partner_with_account(
        name="HostileNet",
        mode=PartnerMode.OWN_INVOICING,
        invoice_number_pattern="O-{next|4}",
        vat_id="DE123456789",
        iban="DE02120300000000202051",
    )
    tariff = TariffFactory(
        partner=partner, price_minor=2500, tax_rate=TaxRateFactory(partner=partner)
    )
    for n in range(3):
        customer = CustomerFactory(partner=partner, language="en", email=f"h{n}@example.org")
        ServiceFactory(customer=customer, tariff=tariff, start_date=JAN)
    return partner


@pytest.fixture
def operator_customers(home):
    out = []
    for n in range(2):
        customer = CustomerFactory(partner=home, language="de", email=f"o{n}@example.org")
        ServiceFactory(customer=customer, tariff=TariffFactory(price_minor=3000), start_date=JAN)
        out.append(customer)
    return out


def _admin_client() -> Client:
    User.objects.create(username="admin1", role=Role.ADMIN, password=make_password("pw-x-123456"))
    client = Client()
    assert client.login(username="admin1", password="pw-x-123456")
    return client


@pytest.mark.parametrize("source", [PREFIX_LOOP, PREFIX_MEMORY], ids=["loop", "memory"])
def test_a_hostile_partners_template_degrades_only_its_own_invoices(
    source, home, hostile, operator_customers, media, django_capture_on_commit_callbacks
):
    document_template_save(issuer=home, document_type="invoice", source=MINIMAL)
    with limits_override(seconds=LIMIT, cpu_seconds=LIMIT):
        # Passes validation: the sample's number does not start with the prefix.
        started = time.perf_counter()
        document_template_save(issuer=hostile, document_type="invoice", source=source)
        assert time.perf_counter() - started < 1.5
        started = time.perf_counter()
        with django_capture_on_commit_callbacks(execute=True):
            billing_run_start(run_date=JAN)
        elapsed = time.perf_counter() - started
    # The run waited on the hostile template once at most, not once per invoice.
    assert elapsed < 2 * LIMIT + 4
    for customer in operator_customers:
        invoice = Invoice.objects.get(customer=customer)
        assert invoice.pdf and invoice.pdf_error == ""
        assert "MARKER" in pdf_text((media / invoice.pdf).read_bytes())  # its own template
    hostile_invoices = Invoice.objects.filter(issuer=hostile).order_by("number")
    assert [i.number for i in hostile_invoices] == ["O-0001", "O-0002", "O-0003"]
    for invoice in hostile_invoices:
        assert invoice.pdf, "rendered with the default template"
        assert invoice.pdf_error.startswith("Rendered with the default template")
        assert "limited to" in invoice.pdf_error
        text = pdf_text((media / invoice.pdf).read_bytes())
        assert invoice.number in text and "MARKER" not in text
    page = _admin_client().get(
        reverse("web:invoice", kwargs={"invoice_id": hostile_invoices[0].pk})
    )
    assert page.status_code == 200
    assert b"PDF rendered with the default template." in page.content


def test_an_asset_that_breaks_even_the_default_leaves_pdf_pending_with_the_error(
    home, hostile, operator_customers, media, django_capture_on_commit_callbacks
):
    # Written around the upload check (stored before it existed): a 400-megapixel logo.
    IssuerAsset.objects.create(
        partner=hostile, name="logo.png", content=big_png(20000, 20000), content_type="image/png"
    )
    with django_capture_on_commit_callbacks(execute=True):
        billing_run_start(run_date=JAN)
    for customer in operator_customers:
        invoice = Invoice.objects.get(customer=customer)
        assert invoice.pdf and invoice.pdf_error == ""
    for invoice in Invoice.objects.filter(issuer=hostile):
        assert invoice.pdf == ""
        assert invoice.pdf_error.startswith("PDF pending:")
        assert "megapixels" in invoice.pdf_error
    invoice = Invoice.objects.filter(issuer=hostile).first()
    client = _admin_client()
    page = client.get(reverse("web:invoice", kwargs={"invoice_id": invoice.pk}))
    assert page.status_code == 200 and b"PDF pending." in page.content
    download = client.get(reverse("web:invoice_pdf", kwargs={"invoice_id": invoice.pk}))
    assert download.status_code == 409 and b"PDF pending" in download.content
    user = User.objects.get(username="admin1")
    _token, plaintext = api_token_create(user=user, name="tests")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    answer = api.get(f"/api/v1/invoices/{invoice.pk}/pdf")
    assert answer.status_code == 409
    assert answer.json()["code"] == "pdf_pending"
    detail = api.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert detail["pdf_stored"] is False and detail["pdf_error"].startswith("PDF pending:")


def test_a_font_asset_holding_typst_code_is_refused_at_upload(hostile):
    with pytest.raises(DomainValidationError) as caught:
        issuer_asset_upload(issuer=hostile, name="evil.ttf", content=EVIL_FONT)
    assert caught.value.fields["file"] == "The file is not a TrueType font."
    assert not IssuerAsset.objects.filter(partner=hostile).exists()
    issuer_asset_upload(issuer=hostile, name="tiny.ttf", content=tiny_font())
    assert IssuerAsset.objects.filter(partner=hostile, name="tiny.ttf").exists()


def test_the_web_upload_refuses_a_fake_font(hostile):
    client = _admin_client()
    response = client.post(
        reverse("web:issuer_asset_upload"),
        {"file": SimpleUploadedFile("evil.ttf", EVIL_FONT), "partner": hostile.pk},
        follow=True,
    )
    assert response.status_code == 200
    assert b"The file is not a TrueType font." in response.content
    assert not IssuerAsset.objects.filter(partner=hostile).exists()


# --- emails -------------------------------------------------------------------------------------

SLOW_REMINDER = (
    "Subject: Open {{ invoice.number }}\n\n"
    '{% if invoice.number.startswith("O-") %}'
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    "{% endif %}Still open.\n"
)


@pytest.mark.parametrize(
    "body",
    [
        "{{ '%50000000d' % 1 }}",
        "{{ '{:>50000000}'.format(1) }}",
        "{{ '%50000000d'|format(1) }}",
        "{{ 'x'|center(50000000) }}",
        "{{ 'x'.ljust(50000000) }}",
        "{{ 'x'.zfill(50000000) }}",
        "{{ '%*d' % (50000000, 1) }}",
    ],
)
def test_email_formatting_is_bounded_before_building_the_string(home, body):
    started = time.perf_counter()
    with pytest.raises(EmailTemplateError) as caught:
        document_template_save(
            issuer=home, document_type="email_invoice", source=f"Subject: x\n\n{body}\n"
        )
    assert time.perf_counter() - started < 1.0
    assert "limited to 1000" in caught.value.message or "not allowed" in caught.value.message


def test_a_slow_email_template_is_refused_at_validation_within_the_limit(home):
    source = (
        "Subject: x\n\n"
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\n"
    )
    started = time.perf_counter()
    with limits_override(email_seconds=1.0), pytest.raises(EmailTemplateError) as caught:
        document_template_save(issuer=home, document_type="email_reminder", source=source)
    assert time.perf_counter() - started < 3.0
    assert "longer than 1 s" in caught.value.message or "CPU" in caught.value.message


def test_a_slow_reminder_template_degrades_only_its_partners_emails(
    home, hostile, operator_customers, django_capture_on_commit_callbacks
):
    document_template_save(
        issuer=home,
        document_type="email_reminder",
        source="Subject: Operator reminder {{ invoice.number }}\n\nPlease pay.\n",
    )
    with limits_override(email_seconds=1.0):
        document_template_save(issuer=hostile, document_type="email_reminder", source=SLOW_REMINDER)
        billing_run_start(run_date=JAN)
        due = Invoice.objects.filter(issuer=hostile).first().due_date
        mail.outbox.clear()
        started = time.perf_counter()
        with django_capture_on_commit_callbacks(execute=True):
            dunning_run(today=date.fromordinal(due.toordinal() + 3))
        elapsed = time.perf_counter() - started
    assert elapsed < 2 * 1.0 + 4
    subjects = sorted(m.subject for m in mail.outbox)
    operator = sorted(f"Operator reminder {i.number}" for i in Invoice.objects.filter(issuer=home))
    assert [s for s in subjects if s.startswith("Operator")] == operator
    hostile_subjects = [s for s in subjects if "O-" in s and not s.startswith("Operator")]
    # The partner's reminders went out with the default template.
    assert len(hostile_subjects) == 3
    assert all(s.startswith("Payment reminder") for s in hostile_subjects)


def test_the_editor_refuses_the_200000_page_template_with_the_limit_in_its_message(home, hostile):
    own = hostile
    client = _admin_client()
    url = reverse("web:document_template_edit") + f"?type=invoice&partner={own.pk}"
    source = "#for i in range(200000) { pagebreak() }"
    started = time.perf_counter()
    with limits_override(seconds=LIMIT, cpu_seconds=LIMIT):
        saved = client.post(url, {"source": source, "action": "save", "partner": own.pk})
        preview = client.post(
            reverse("web:document_template_preview") + f"?type=invoice&partner={own.pk}",
            {"source": source, "partner": own.pk, "document": "sample"},
        )
    assert time.perf_counter() - started < 2 * LIMIT + 6
    assert saved.status_code == 422
    assert b"at most 500 are allowed" in saved.content or b"longer than" in saved.content
    assert b"at most 500 are allowed" in preview.content or b"longer than" in preview.content
    assert not DocumentTemplate.objects.filter(partner=own).exists()
