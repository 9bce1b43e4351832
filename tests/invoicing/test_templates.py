"""Per-issuer templates and assets: saving validates, a broken template is refused with its
line and the previous one stays; a template sees only its own issuer's assets and data."""

from __future__ import annotations

import pytest

from ispbill.core.errors import DomainValidationError
from ispbill.documents.render import DocumentTemplateError, document_template_default
from ispbill.invoicing.models import DocumentTemplate, IssuerAsset
from ispbill.invoicing.templates import (
    document_template_active,
    document_template_reset,
    document_template_save,
    issuer_asset_upload,
    issuer_assets,
)
from ispbill.partners.models import PartnerMode
from ispbill.web.template_preview import PreviewError, template_document_data, template_preview_pdf
from tests.factories import PartnerFactory
from tests.invoicing.conftest import MINIMAL, pdf_text

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def own(home):
    return PartnerFactory(name="OwnNet", mode=PartnerMode.OWN_INVOICING)


def test_default_until_saved_then_the_saved_one(own):
    assert document_template_active(own, "invoice") == document_template_default("invoice")
    row = document_template_save(issuer=own, document_type="invoice", source=MINIMAL)
    assert row.is_active and document_template_active(own, "invoice") == MINIMAL
    document_template_reset(issuer=own, document_type="invoice")
    assert document_template_active(own, "invoice") == document_template_default("invoice")


def test_a_broken_template_is_refused_with_its_line_and_the_previous_stays(own):
    document_template_save(issuer=own, document_type="invoice", source=MINIMAL)
    broken = MINIMAL + "#let x = (\n"
    with pytest.raises(DocumentTemplateError) as err:
        document_template_save(issuer=own, document_type="invoice", source=broken)
    assert err.value.line == 5
    with pytest.raises(DocumentTemplateError) as err:
        document_template_save(
            issuer=own, document_type="invoice", source=MINIMAL + "#d.no_such_field\n"
        )
    assert err.value.line == 5 and "no_such_field" in err.value.message
    assert document_template_active(own, "invoice") == MINIMAL
    assert DocumentTemplate.objects.filter(partner=own, is_active=True).count() == 1


def test_templates_belong_to_their_issuer(home, own):
    document_template_save(issuer=own, document_type="invoice", source=MINIMAL)
    assert document_template_active(home, "invoice") == document_template_default("invoice")


@pytest.mark.parametrize(
    "source",
    [
        '#read("/etc/passwd")',
        '#read("../../../../etc/passwd")',
        '#read("/proc/self/environ")',
        '#image("/etc/hostname")',
        '#json("../data.json")',
        '#import "@preview/cetz:0.2.2": *',
        '#eval("1 + 1")',
        '#plugin("x.wasm")',
        "#let s = std",
        '#read("secret.typ")',  # another issuer's asset
        '#image("logo.png")',  # another issuer's logo
    ],
)
def test_a_template_cannot_read_outside_its_assets_or_run_code(home, own, source):
    issuer_asset_upload(issuer=home, name="secret.typ", content=b"#let secret = 42\n")
    issuer_asset_upload(issuer=home, name="logo.png", content=PNG)
    with pytest.raises(DocumentTemplateError):
        document_template_save(issuer=own, document_type="invoice", source=MINIMAL + source)
    assert not DocumentTemplate.objects.filter(partner=own).exists()


def test_a_template_uses_its_own_assets(own):
    issuer_asset_upload(issuer=own, name="parts.typ", content=b'#let slogan = "FAST FIBRE"\n')
    issuer_asset_upload(issuer=own, name="logo.png", content=PNG)
    source = MINIMAL + '#import "parts.typ": slogan\n#slogan\n#image(d.issuer.logo)\n'
    document_template_save(issuer=own, document_type="invoice", source=source)
    pdf = template_preview_pdf(
        issuer=own, document_type="invoice", source=source, choice="sample", language="en"
    )
    assert "FAST FIBRE" in pdf_text(pdf)
    assert set(issuer_assets(own)) == {"parts.typ", "logo.png"}


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("../logo.png", PNG),
        ("dir/logo.png", PNG),
        ("main.typ", b"x"),
        ("data.json", b"{}"),
        ("logo.exe", b"MZ"),
        ("logo.png", b"GIF89a"),
        ("logo.jpg", PNG),
        ("big.png", PNG + b"\0" * 1_000_001),
        ("empty.png", b""),
        ("font.ttf", b"not a font"),
        ("evil.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><image href="/etc/passwd"/></svg>'),
        ("evil2.svg", b'<svg><image xlink:href="file:///etc/passwd"/></svg>'),
        (
            "evil3.svg",
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "/etc/passwd">]><svg/>',
        ),
        ("evil4.svg", b'<svg><style>rect{fill:url("http://x.example/a")}</style></svg>'),
        ("parts.typ", b'#eval("1")'),
    ],
)
def test_asset_uploads_are_checked(own, name, content):
    with pytest.raises(DomainValidationError):
        issuer_asset_upload(issuer=own, name=name, content=content)
    assert not IssuerAsset.objects.filter(partner=own).exists()


def test_svg_logo_with_embedded_data_is_accepted(own):
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b'<rect width="10" height="10" fill="#0a0"/></svg>'
    )
    asset = issuer_asset_upload(issuer=own, name="logo.svg", content=svg)
    assert asset.content_type == "image/svg+xml"
    again = issuer_asset_upload(issuer=own, name="logo.svg", content=svg)
    assert again.pk == asset.pk


def test_previews_never_reach_another_issuers_documents(
    home, own, django_capture_on_commit_callbacks
):
    from datetime import date

    from ispbill.billing.run import billing_run_start
    from ispbill.invoicing.models import Invoice
    from tests.factories import CustomerFactory, ServiceFactory, TariffFactory

    c = CustomerFactory(partner=home)
    ServiceFactory(customer=c, tariff=TariffFactory(price_minor=3000), start_date=date(2026, 1, 1))
    billing_run_start(run_date=date(2026, 1, 1))
    inv = Invoice.objects.get(customer=c)
    assert template_document_data(home, "invoice", str(inv.pk)) is not None
    with pytest.raises(PreviewError):
        template_document_data(own, "invoice", str(inv.pk))
    with pytest.raises(PreviewError):
        template_document_data(own, "credit_note", str(inv.pk))
    # A saved template is validated on the issuer's own document too.
    data = template_document_data(home, "invoice", str(inv.pk))
    document_template_save(issuer=home, document_type="invoice", source=MINIMAL, document=data)
