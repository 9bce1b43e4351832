"""Brand per issuer on what customers receive: invoice and reminder e-mails go out with the
issuer's sender name, its Reply-To and a contact footer; the default PDFs print the issuer's
name, colour and logo, never the operator's."""

from __future__ import annotations

import io
import subprocess
from datetime import date
from email.utils import getaddresses

import pytest
from django.core import mail
from PIL import Image

from ispbill.billing.run import billing_run_start
from ispbill.core.money import Money
from ispbill.demo import demo_logo_png
from ispbill.dunning.services import dunning_run
from ispbill.invoicing.documents import invoice_document_data
from ispbill.invoicing.models import EmailDelivery, Invoice
from ispbill.invoicing.pdfs import issuer_document_pdf_degrading
from ispbill.invoicing.sending import invoice_pdf, invoice_send, issuer_email_envelope
from ispbill.invoicing.templates import issuer_logo_upload
from ispbill.partners.brand import brand_text_color, issuer_brand
from ispbill.partners.models import Partner, PartnerMode
from ispbill.payments.documents import receipt_pdf
from ispbill.payments.services import payment_record
from tests.factories import CustomerFactory, PartnerFactory, ServiceFactory, TariffFactory
from tests.invoicing.conftest import pdf_text

pytestmark = pytest.mark.django_db
APR = date(2026, 4, 1)
BRAND = (0x0F, 0x7B, 0x5A)


@pytest.fixture
def operator(home):
    Partner.objects.filter(pk=home.pk).update(
        name="Main",
        legal_name="Nordnetz Breitband GmbH",
        brand_name="Nordnetz",
        email="billing@nordnetz.example",
        support_email="hilfe@nordnetz.example",
    )
    return Partner.objects.get(pk=home.pk)


@pytest.fixture
def alp(operator):
    return PartnerFactory(
        name="Alp",
        legal_name="Alpenfunk Internet GmbH",
        mode=PartnerMode.OWN_INVOICING,
        runs_own_billing=False,
        email="rechnung@alpenfunk.example",
        iban="DE02120300000000202051",
        brand_name="Alpenfunk",
        brand_color="#0f7b5a",
        support_email="service@alpenfunk.example",
        support_phone="+49 8652 97650",
        support_website="https://alpenfunk.example",
        email_sender_name="Alpenfunk Kundenservice",
    )


def _issued(partner: Partner) -> Invoice:
    customer = CustomerFactory(partner=partner, email="anna@example.org", name="Anna")
    tariff = (
        TariffFactory(partner=partner, price_minor=3000)
        if partner.mode != "percentage"
        else TariffFactory(price_minor=3000)
    )
    ServiceFactory(customer=customer, tariff=tariff, start_date=APR)
    billing_run_start(run_date=APR)
    return Invoice.objects.get(customer=customer)


def test_fallbacks_of_a_brand(operator):
    brand = issuer_brand(PartnerFactory(mode=PartnerMode.OWN_INVOICING, legal_name="X GmbH"))
    assert brand.name == "X GmbH" and brand.color == "#1f4e79" and not brand.custom_color
    assert brand.sender_name == "X GmbH"
    brand = issuer_brand(operator)
    assert brand.name == "Nordnetz" and brand.reply_to == "hilfe@nordnetz.example"
    assert brand_text_color("#ffffff") == "#18212f" and brand_text_color("#0f7b5a") == "#ffffff"


def test_invoice_email_carries_the_issuers_brand(alp, django_capture_on_commit_callbacks):
    invoice = _issued(alp)
    with django_capture_on_commit_callbacks(execute=True):
        invoice_send(invoice=invoice)
    (message,) = mail.outbox
    assert message.from_email == '"Alpenfunk Kundenservice" <rechnung@alpenfunk.example>'
    assert message.reply_to == ["service@alpenfunk.example"]
    raw = message.message()
    assert raw["Reply-To"] == "service@alpenfunk.example"
    assert "Alpenfunk Kundenservice" in str(raw["From"])
    footer = message.body.split("\n-- \n", 1)[1]
    assert "Alpenfunk Internet GmbH" in footer and "service@alpenfunk.example" in footer
    assert "+49 8652 97650" in footer and "https://alpenfunk.example" in footer
    assert "Nordnetz" not in message.body and "nordnetz" not in str(raw)
    delivery = EmailDelivery.objects.get()
    assert delivery.reply_to == "service@alpenfunk.example"


def test_reminder_email_carries_the_issuers_brand(alp, django_capture_on_commit_callbacks):
    invoice = _issued(alp)
    with django_capture_on_commit_callbacks(execute=True):
        assert dunning_run(today=date.fromordinal(invoice.due_date.toordinal() + 3)).reminders
    (message,) = mail.outbox
    assert message.from_email == '"Alpenfunk Kundenservice" <rechnung@alpenfunk.example>'
    assert message.reply_to == ["service@alpenfunk.example"]
    assert "Alpenfunk Internet GmbH" in message.body.split("\n-- \n", 1)[1]
    assert "Nordnetz" not in message.body


def test_percentage_customer_mail_comes_from_the_operator(
    operator, django_capture_on_commit_callbacks
):
    city = PartnerFactory(name="CityNet", mode=PartnerMode.PERCENTAGE)
    invoice = _issued(city)
    assert invoice.issuer_id == operator.pk
    with django_capture_on_commit_callbacks(execute=True):
        invoice_send(invoice=invoice)
    (message,) = mail.outbox
    assert message.from_email == '"Nordnetz" <billing@nordnetz.example>'
    assert message.reply_to == ["hilfe@nordnetz.example"]
    assert "CityNet" not in message.body


def test_a_sender_name_with_quotes_stays_one_address(alp):
    Partner.objects.filter(pk=alp.pk).update(email_sender_name='Alp "Funk", Team')
    envelope = issuer_email_envelope(Partner.objects.get(pk=alp.pk))
    message = mail.EmailMessage("s", "b", envelope.from_email, ["a@example.org"]).message()
    assert getaddresses([str(message["From"])]) == [
        ('Alp "Funk", Team', "rechnung@alpenfunk.example")
    ]


def _pixels(pdf: bytes) -> set[tuple[int, int, int]]:
    png = subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", "-singlefile", "-"],
        input=pdf,
        capture_output=True,
        check=True,
    ).stdout
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return {pixel for _, pixel in image.getcolors(maxcolors=1 << 20)}


def test_invoice_pdf_prints_the_issuers_name_colour_and_logo(alp, settings):
    issuer_logo_upload(issuer=alp, filename="logo.png", content=demo_logo_png("#0f7b5a"))
    invoice = _issued(alp)
    pdf = invoice_pdf(invoice)
    text = pdf_text(pdf)
    assert "Alpenfunk Internet GmbH" in text and "Nordnetz" not in text
    assert BRAND in _pixels(pdf)  # the table head and the rules in the brand colour
    data = invoice_document_data(invoice)
    assert data["issuer"]["color"] == "#0f7b5a" and data["issuer"]["name"] == "Alpenfunk"
    # Without a logo the letterhead prints the brand's display name.
    Partner.objects.filter(pk=alp.pk).update(brand_name="Alpenfunk Brand")
    second = _issued(Partner.objects.get(pk=alp.pk))
    no_logo = issuer_document_pdf_degrading(
        issuer_id=0, data=invoice_document_data(second), label=second.number
    )[0]
    assert "Alpenfunk Brand" in pdf_text(no_logo)


def test_receipt_pdf_uses_the_issuers_brand(alp):
    invoice = _issued(alp)
    payment = payment_record(
        customer=invoice.customer, amount=Money.from_minor(invoice.total_minor, "EUR"), on=APR
    )
    pdf = receipt_pdf(payment)
    text = pdf_text(pdf)
    assert "Alpenfunk" in text and "Nordnetz" not in text
    assert BRAND in _pixels(pdf)


def test_operator_pdf_keeps_the_default_colour(operator):
    invoice = _issued(operator)
    pdf = invoice_pdf(invoice)
    assert "Nordnetz" in pdf_text(pdf)
    assert BRAND not in _pixels(pdf) and (0x1F, 0x4E, 0x79) in _pixels(pdf)
