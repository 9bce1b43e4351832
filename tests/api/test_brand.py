"""GET/PUT /api/v1/partners/{id}/brand and its logo: the operator for any issuer, an
own-invoicing partner's administrator for its own only (another partner's id: 404)."""

from __future__ import annotations

import base64

import pytest

from ispbill.accounts.models import Role
from ispbill.core.models import AuditEvent
from ispbill.demo import demo_logo_png
from ispbill.invoicing.templates import issuer_logo
from ispbill.partners.models import Partner, PartnerMode
from tests.api.conftest import api_for, assert_error, make_user

pytestmark = pytest.mark.django_db

BODY = {
    "brand_name": "OwnNet Brand",
    "brand_color": "#0F7B5A",
    "support_email": "help@ownnet.example",
    "support_phone": "+49 1",
    "support_website": "https://ownnet.example",
    "email_sender_name": "OwnNet Team",
    "email_reply_to": "",
}


def test_partner_admin_reads_and_sets_its_own_brand(seed):
    path = f"/partners/{seed.ownnet.pk}/brand"
    answer = seed.ownnet_admin.call("PUT", path, BODY)
    assert answer.status == 200, answer.body
    assert answer.body["brand_color"] == "#0f7b5a" and answer.body["own_brand"] is True
    effective = answer.body["effective"]
    assert effective["name"] == "OwnNet Brand" and effective["reply_to"] == "help@ownnet.example"
    assert seed.ownnet_admin.get(path).body["brand_name"] == "OwnNet Brand"
    assert AuditEvent.objects.filter(action="partner.brand_updated").count() == 1


def test_another_partner_gets_404_and_nothing_changes(seed):
    other = Partner.objects.create(name="Other", mode=PartnerMode.OWN_INVOICING)
    other_admin = api_for(make_user("other", Role.PARTNER_ADMIN, partner=other))
    path = f"/partners/{seed.ownnet.pk}/brand"
    assert_error(other_admin.get(path), 404)
    assert_error(other_admin.call("PUT", path, BODY), 404)
    logo = {"filename": "logo.png", "content_base64": "AAAA"}
    assert_error(other_admin.call("PUT", path + "/logo", logo), 404)
    assert_error(other_admin.delete(path + "/logo"), 404)
    assert Partner.objects.get(pk=seed.ownnet.pk).brand_name == ""
    # A percentage partner's administrator manages no brand at all.
    assert_error(seed.citynet_admin.get(f"/partners/{seed.citynet.pk}/brand"), 403)


def test_operator_sets_any_issuers_brand_and_logo(seed):
    path = f"/partners/{seed.ownnet.pk}/brand"
    assert seed.admin.call("PUT", path, BODY).status == 200
    png = demo_logo_png("#0f7b5a")
    body = {"filename": "mark.png", "content_base64": base64.b64encode(png).decode()}
    answer = seed.admin.call("PUT", path + "/logo", body)
    assert answer.status == 200 and answer.body["logo_url"].endswith(
        f"/brand/{seed.ownnet.pk}/logo/"
    )
    assert bytes(issuer_logo(seed.ownnet).content) == png
    assert seed.admin.delete(path + "/logo").body["logo_url"] == ""
    assert issuer_logo(seed.ownnet) is None
    home = f"/partners/{seed.home.pk}/brand"
    assert seed.admin.call("PUT", home, {"brand_name": "Nordnetz"}).body["brand_name"] == "Nordnetz"


def test_bad_values_answer_422(seed):
    path = f"/partners/{seed.ownnet.pk}/brand"
    body = assert_error(seed.admin.call("PUT", path, {**BODY, "brand_color": "green"}), 422)
    assert "brand_color" in body["fields"]
    body = assert_error(seed.admin.call("PUT", path, {**BODY, "support_email": "x"}), 422)
    assert "support_email" in body["fields"]
    logo = {"filename": "logo.png", "content_base64": base64.b64encode(b"nope").decode()}
    assert "logo" in assert_error(seed.admin.call("PUT", path + "/logo", logo), 422)["fields"]
    logo = {"filename": "logo.png", "content_base64": "***"}
    assert_error(seed.admin.call("PUT", path + "/logo", logo), 422)
    # Customers of a percentage partner see the operator's brand: it has none to set.
    assert_error(seed.admin.call("PUT", f"/partners/{seed.citynet.pk}/brand", BODY), 422)
    assert seed.admin.get(f"/partners/{seed.citynet.pk}/brand").body["own_brand"] is False
