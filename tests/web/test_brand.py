"""Brand per issuer in the web UI: the portal of an own-invoicing partner's customer shows
that partner's name, logo, colour and contact, never the operator's; a percentage partner's
customer sees the operator's. The brand form for the operator (any issuer) and for an
own-invoicing partner's administrator (its own only); the logo for those who may see it."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from ispbill.accounts.models import Role, User
from ispbill.core.models import AuditEvent
from ispbill.demo import demo_logo_png
from ispbill.invoicing.models import IssuerAsset
from ispbill.invoicing.templates import issuer_logo, issuer_logo_upload
from ispbill.partners.models import Partner, PartnerMode
from tests.factories import CustomerFactory, PartnerFactory

pytestmark = pytest.mark.django_db

OPERATOR_COLOR = "#aa3300"
BRAND_COLOR = "#0f7b5a"


def _client(username: str, role: str, *, partner=None, customer=None) -> Client:
    user = User.objects.create(
        username=username,
        role=role,
        partner_id=partner.pk if partner else None,
        customer=customer,
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world(home):
    Partner.objects.filter(pk=home.pk).update(
        name="Main",
        legal_name="Nordnetz Breitband GmbH",
        brand_name="Nordnetz",
        brand_color=OPERATOR_COLOR,
        support_email="hilfe@nordnetz.example",
        iban="DE89370400440532013000",
    )
    alp = PartnerFactory(
        name="Alp",
        legal_name="Alpenfunk Internet GmbH",
        mode=PartnerMode.OWN_INVOICING,
        iban="DE02120300000000202051",
        brand_name="Alpenfunk",
        brand_color=BRAND_COLOR,
        support_email="service@alpenfunk.example",
        support_phone="+49 8652 97650",
        support_website="https://alpenfunk.example",
    )
    issuer_logo_upload(issuer=alp, filename="logo.png", content=demo_logo_png(BRAND_COLOR))
    city = PartnerFactory(name="CityNet", mode=PartnerMode.PERCENTAGE)
    other = PartnerFactory(name="Other", mode=PartnerMode.OWN_INVOICING, brand_color="#123456")
    return {
        "home": Partner.objects.get(pk=home.pk),
        "alp": alp,
        "city": city,
        "other": other,
        "alp_customer": CustomerFactory(partner=alp, reference="A-1"),
        "city_customer": CustomerFactory(partner=city, reference="C-1"),
    }


def _portal(world, key: str) -> Client:
    customer = world[key]
    return _client(f"portal-{key}", Role.CUSTOMER, partner=customer.partner, customer=customer)


PORTAL_PAGES = ["web:portal", "web:portal_invoices", "web:portal_statement", "web:portal_profile"]


@pytest.mark.parametrize("name", PORTAL_PAGES)
def test_own_invoicing_customer_sees_the_partners_brand(world, name):
    page = _portal(world, "alp_customer").get(reverse(name)).content.decode()
    assert f"--brand:{BRAND_COLOR}" in page
    assert '<span class="brand-name">Alpenfunk</span>' in page
    assert reverse("web:brand_logo", kwargs={"partner_id": world["alp"].pk}) in page
    assert "service@alpenfunk.example" in page and "+49 8652 97650" in page
    assert "https://alpenfunk.example" in page
    assert "<title>" in page and "Nordnetz" not in page
    assert OPERATOR_COLOR not in page and "hilfe@nordnetz.example" not in page


def test_own_invoicing_customer_pays_the_partner(world):
    page = _portal(world, "alp_customer").get(reverse("web:portal")).content.decode()
    assert "Alpenfunk Internet GmbH" in page and "DE02 1203 0000 0000 2020 51" in page


@pytest.mark.parametrize("name", PORTAL_PAGES)
def test_percentage_customer_sees_the_operators_brand(world, name):
    page = _portal(world, "city_customer").get(reverse(name)).content.decode()
    assert f"--brand:{OPERATOR_COLOR}" in page
    assert '<span class="brand-name">Nordnetz</span>' in page
    assert "hilfe@nordnetz.example" in page
    assert "Alpenfunk" not in page and BRAND_COLOR not in page
    # The percentage partner invoices nobody: its name is not the provider's.
    text = re.sub(r"<[^>]+>", " ", page)
    assert "CityNet" not in text


def test_staff_pages_and_sign_in_stay_neutral(world):
    assert "--brand:" not in Client().get(reverse("login")).content.decode()
    client = _client("alp-admin", Role.PARTNER_ADMIN, partner=world["alp"])
    assert "--brand:" not in client.get(reverse("web:home")).content.decode()


def test_logo_is_served_to_who_sees_the_brand_only(world):
    url = reverse("web:brand_logo", kwargs={"partner_id": world["alp"].pk})
    answer = _portal(world, "alp_customer").get(url)
    assert answer.status_code == 200 and answer["Content-Type"] == "image/png"
    assert answer.content == bytes(issuer_logo(world["alp"]).content)
    assert "sandbox" in answer["Content-Security-Policy"]
    assert _portal(world, "city_customer").get(url).status_code == 404
    assert _client("b", Role.PARTNER_ADMIN, partner=world["other"]).get(url).status_code == 404
    assert _client("a", Role.PARTNER_ADMIN, partner=world["alp"]).get(url).status_code == 200
    assert _client("op", Role.ADMIN).get(url).status_code == 200
    assert Client().get(url).status_code == 302  # to sign-in


def _form(**overrides):
    data = {
        "brand_name": "Alpenfunk Neu",
        "brand_color": "#C0FFEE",
        "support_email": "hilfe@alpenfunk.example",
        "support_phone": "+49 1",
        "support_website": "https://alpenfunk.example/hilfe",
        "email_sender_name": "Alpenfunk Team",
        "email_reply_to": "antwort@alpenfunk.example",
    }
    data.update(overrides)
    return data


def test_partner_admin_edits_its_own_brand(world):
    client = _client("alp-admin", Role.PARTNER_ADMIN, partner=world["alp"])
    url = reverse("web:brand_settings")
    assert "Alpenfunk" in client.get(url).content.decode()
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b'<rect width="10" height="10" fill="#c0ffee"/></svg>'
    )
    data = _form(logo=SimpleUploadedFile("mark.svg", svg, content_type="image/svg+xml"))
    answer = client.post(url, data)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    alp = Partner.objects.get(pk=world["alp"].pk)
    assert alp.brand_name == "Alpenfunk Neu" and alp.brand_color == "#c0ffee"
    assert alp.email_reply_to == "antwort@alpenfunk.example"
    assert set(IssuerAsset.objects.filter(partner=alp).values_list("name", flat=True)) == {
        "logo.svg"
    }
    event = AuditEvent.objects.filter(action="partner.brand_updated").latest("pk")
    assert event.changes["brand_color"] == {"before": BRAND_COLOR, "after": "#c0ffee"}
    # The operator's brand was not touched.
    assert Partner.objects.get(is_home=True).brand_name == "Nordnetz"


def test_partner_staff_and_percentage_admin_cannot_edit_a_brand(world):
    url = reverse("web:brand_settings")
    staff = _client("alp-staff", Role.PARTNER_STAFF, partner=world["alp"])
    assert staff.post(url, _form()).status_code == 403
    city = _client("city-admin", Role.PARTNER_ADMIN, partner=world["city"])
    assert city.post(url, _form()).status_code == 403
    assert Partner.objects.get(pk=world["alp"].pk).brand_name == "Alpenfunk"


def test_operator_edits_its_own_and_a_partners_brand(world):
    client = _client("root", Role.ADMIN)
    answer = client.post(reverse("web:brand_settings"), _form(brand_name="Nordnetz Plus"))
    assert answer.status_code == 302
    assert Partner.objects.get(is_home=True).brand_name == "Nordnetz Plus"
    url = reverse("web:partner_brand", kwargs={"partner_id": world["alp"].pk})
    answer = client.post(url, _form(brand_color="#112233", remove_logo="on"))
    assert answer.status_code == 302
    alp = Partner.objects.get(pk=world["alp"].pk)
    assert alp.brand_color == "#112233" and issuer_logo(alp) is None
    detail = client.get(reverse("web:partner", kwargs={"partner_id": alp.pk})).content.decode()
    assert url in detail


def test_a_percentage_partner_has_no_brand_of_its_own(world):
    client = _client("root", Role.ADMIN)
    url = reverse("web:partner_brand", kwargs={"partner_id": world["city"].pk})
    page = client.get(url).content.decode()
    assert "see the operator's brand" in page and 'name="brand_color"' not in page
    client.post(url, _form())
    assert Partner.objects.get(pk=world["city"].pk).brand_name == ""


def test_partner_b_cannot_reach_partner_as_brand(world):
    client = _client("other-admin", Role.PARTNER_ADMIN, partner=world["other"])
    url = reverse("web:partner_brand", kwargs={"partner_id": world["alp"].pk})
    assert client.post(url, _form()).status_code in (403, 404)
    # Its own settings page edits its own brand, never another's.
    assert (
        client.post(reverse("web:brand_settings"), _form(brand_name="Other B")).status_code == 302
    )
    assert Partner.objects.get(pk=world["alp"].pk).brand_name == "Alpenfunk"
    assert Partner.objects.get(pk=world["other"].pk).brand_name == "Other B"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("brand_color", "green", "is not a colour"),
        ("brand_color", "#12345", "is not a colour"),
        ("support_email", "nope", "valid email"),
        ("support_website", "javascript:alert(1)", "valid URL"),
    ],
)
def test_invalid_values_are_refused(world, field, value, message):
    client = _client("alp-admin", Role.PARTNER_ADMIN, partner=world["alp"])
    answer = client.post(reverse("web:brand_settings"), _form(**{field: value}))
    assert answer.status_code == 200 and message in answer.content.decode()
    assert Partner.objects.get(pk=world["alp"].pk).brand_name == "Alpenfunk"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("logo.gif", b"GIF89a", "PNG, JPEG or SVG"),
        ("logo.png", b"not a png at all", "PNG"),
        ("logo.png", b"\x89PNG" + b"0" * 600_000, "larger than 500 kB"),
    ],
)
def test_bad_logos_are_refused(world, name, content, message):
    client = _client("alp-admin", Role.PARTNER_ADMIN, partner=world["alp"])
    data = _form(logo=SimpleUploadedFile(name, content))
    answer = client.post(reverse("web:brand_settings"), data)
    assert answer.status_code == 200 and message in answer.content.decode()
    # Nothing saved: the brand and the old logo stay.
    alp = Partner.objects.get(pk=world["alp"].pk)
    assert alp.brand_name == "Alpenfunk" and issuer_logo(alp).name == "logo.png"


def test_demo_alpenfunk_customer_sees_alpenfunks_brand(demo):
    from tests.web.conftest import signed_in

    page = signed_in("alpenkunde").get(reverse("web:portal")).content.decode()
    assert "--brand:#0f7b5a" in page and '<span class="brand-name">Alpenfunk</span>' in page
    assert "service@alpenfunk.example" in page and "Nordnetz" not in page
    alp = Partner.objects.get(name="Alpenfunk")
    logo_url = reverse("web:brand_logo", kwargs={"partner_id": alp.pk})
    assert logo_url in page
    assert signed_in("alpenkunde").get(logo_url)["Content-Type"] == "image/png"
    # The operator's demo customer sees the operator.
    page = signed_in("customer").get(reverse("web:portal")).content.decode()
    assert "Alpenfunk" not in page and "Nordnetz Breitband GmbH" in page
