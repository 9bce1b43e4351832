"""The template editor: who may edit which issuer's templates, preview, save and refusal."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth.hashers import make_password
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from ispbill.accounts.models import Role, User
from ispbill.billing.run import billing_run_start
from ispbill.documents.render import document_template_default
from ispbill.invoicing.models import DocumentTemplate, Invoice, IssuerAsset
from ispbill.invoicing.templates import document_template_active
from ispbill.partners.models import PartnerMode
from tests.factories import CustomerFactory, PartnerFactory, ServiceFactory, TariffFactory
from tests.invoicing.conftest import MINIMAL
from tests.invoicing.test_templates import PNG

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery"


def _client(username: str, role: str, partner=None) -> Client:
    User.objects.create(
        username=username, role=role, partner=partner, password=make_password(PASSWORD)
    )
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


@pytest.fixture
def own(home):
    return PartnerFactory(name="OwnNet", mode=PartnerMode.OWN_INVOICING)


@pytest.fixture
def other(home):
    return PartnerFactory(name="OtherNet", mode=PartnerMode.OWN_INVOICING)


def test_operator_admin_edits_the_home_partners_templates_and_may_pick_a_partner(home, own):
    admin = _client("admin1", Role.ADMIN)
    page = admin.get(reverse("web:document_templates"))
    assert page.status_code == 200 and b"Commission statement" in page.content
    url = reverse("web:document_template_edit") + "?type=invoice"
    assert admin.get(url).status_code == 200
    response = admin.post(url, {"source": MINIMAL, "action": "save"})
    assert response.status_code == 302
    assert document_template_active(home, "invoice") == MINIMAL
    response = admin.post(url + f"&partner={own.pk}", {"source": MINIMAL, "partner": own.pk})
    assert response.status_code == 302
    assert document_template_active(own, "invoice") == MINIMAL
    percentage = PartnerFactory(name="Pct", mode=PartnerMode.PERCENTAGE)
    assert (
        admin.get(reverse("web:document_templates") + f"?partner={percentage.pk}").status_code
        == 404
    )


def test_a_broken_template_is_refused_with_its_line(home):
    admin = _client("admin1", Role.ADMIN)
    url = reverse("web:document_template_edit") + "?type=invoice"
    response = admin.post(url, {"source": MINIMAL + "#let x = (\n", "action": "save"})
    assert response.status_code == 422
    assert b"line 5" in response.content and b"previous template stays in use" in response.content
    assert document_template_active(home, "invoice") == document_template_default("invoice")


def test_preview_png_pdf_and_email(home):
    admin = _client("admin1", Role.ADMIN)
    c = CustomerFactory(partner=home)
    ServiceFactory(customer=c, tariff=TariffFactory(price_minor=3000), start_date=date(2026, 1, 1))
    billing_run_start(run_date=date(2026, 1, 1))
    inv = Invoice.objects.get(customer=c)
    url = reverse("web:document_template_preview") + "?type=invoice"
    png = admin.post(url, {"source": MINIMAL, "document": "sample"})
    assert png.status_code == 200 and b"data:image/png;base64," in png.content
    pdf = admin.post(url, {"source": MINIMAL, "document": str(inv.pk), "format": "pdf"})
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    broken = admin.post(url, {"source": "#let x = (", "document": "sample"})
    assert b"Line 1" in broken.content
    email = admin.post(
        reverse("web:document_template_preview"),
        {
            "type": "email_reminder",
            "source": "Subject: Hi {{ invoice.number }}\n\nx",
            "document": str(inv.pk),
        },
    )
    assert f"Hi {inv.number}".encode() in email.content
    assert not DocumentTemplate.objects.exists()


def test_own_invoicing_partner_admin_edits_only_its_own(home, own, other):
    client = _client("ownadmin", Role.PARTNER_ADMIN, own)
    url = reverse("web:document_template_edit") + "?type=invoice"
    # The partner parameter is ignored for partner users: they always edit their own.
    response = client.post(url + f"&partner={other.pk}", {"source": MINIMAL, "partner": other.pk})
    assert response.status_code == 302
    assert document_template_active(own, "invoice") == MINIMAL
    assert document_template_active(other, "invoice") != MINIMAL
    assert document_template_active(home, "invoice") != MINIMAL
    # Another issuer's invoice cannot be previewed.
    c = CustomerFactory(partner=home)
    ServiceFactory(customer=c, tariff=TariffFactory(price_minor=3000), start_date=date(2026, 1, 1))
    billing_run_start(run_date=date(2026, 1, 1))
    inv = Invoice.objects.get(customer=c)
    preview = client.post(
        reverse("web:document_template_preview"),
        {"type": "invoice", "source": MINIMAL, "document": str(inv.pk), "format": "pdf"},
    )
    assert preview["Content-Type"] != "application/pdf"
    assert b"not one of this issuer" in preview.content
    assert inv.number.encode() not in preview.content


@pytest.mark.parametrize(
    ("role", "mode"),
    [(Role.PARTNER_ADMIN, PartnerMode.PERCENTAGE), (Role.PARTNER_STAFF, PartnerMode.OWN_INVOICING)],
)
def test_others_may_not_edit_templates(home, role, mode):
    partner = PartnerFactory(name="P", mode=mode)
    client = _client("someone", role, partner)
    assert client.get(reverse("web:document_templates")).status_code == 403
    url = reverse("web:document_template_edit") + "?type=invoice"
    assert client.post(url, {"source": MINIMAL}).status_code == 403
    assert not DocumentTemplate.objects.exists()


def test_asset_upload_and_delete(own):
    client = _client("ownadmin", Role.PARTNER_ADMIN, own)
    upload = client.post(
        reverse("web:issuer_asset_upload"),
        {"file": SimpleUploadedFile("logo.png", PNG, content_type="image/png")},
    )
    assert upload.status_code == 302
    assert IssuerAsset.objects.get(partner=own).name == "logo.png"
    bad = client.post(
        reverse("web:issuer_asset_upload"),
        {"file": SimpleUploadedFile("x.png", b"GIF89a")},
        follow=True,
    )
    assert b"not a PNG" in bad.content
    client.post(reverse("web:issuer_asset_delete"), {"name": "logo.png"})
    assert not IssuerAsset.objects.filter(partner=own).exists()
