"""API tokens: shown once, stored hashed, revocable, expiring, never logged."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ispbill.accounts.log_redaction import SecretRedactionFilter, redact
from ispbill.accounts.models import ApiToken, Role, User
from ispbill.accounts.services import api_token_authenticate, api_token_create, api_token_revoke
from ispbill.core.models import AuditEvent
from ispbill.partners.models import Partner, PartnerMode

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner_admin():
    partner = Partner.objects.create(name="P", mode=PartnerMode.OWN_INVOICING)
    return User.objects.create(username="padmin", role=Role.PARTNER_ADMIN, partner=partner)


def _api(plaintext: str):
    return Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {plaintext}")


def test_token_is_stored_hashed_and_acts_with_its_users_scope(partner_admin):
    token, plaintext = api_token_create(user=partner_admin, name="export")
    assert plaintext.startswith(f"ispb_{token.prefix}_")
    stored = ApiToken.objects.values_list(flat=True).get(pk=token.pk)
    assert plaintext not in repr(ApiToken.objects.filter(pk=token.pk).values().get())
    assert stored == token.pk
    response = _api(plaintext)
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "padmin"
    assert body["partner_id"] == partner_admin.partner_id
    assert "finance.write" in body["capabilities"]
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_revoked_token_is_refused(partner_admin):
    token, plaintext = api_token_create(user=partner_admin, name="x")
    api_token_revoke(token=token, actor=partner_admin)
    assert api_token_authenticate(plaintext) is None
    assert _api(plaintext).status_code == 401


def test_expired_token_is_refused(partner_admin):
    token, plaintext = api_token_create(
        user=partner_admin, name="x", expires_at=timezone.now() + timedelta(days=1)
    )
    assert _api(plaintext).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _api(plaintext).status_code == 401


def test_tampered_unknown_or_inactive_user_tokens_are_refused(partner_admin):
    _token, plaintext = api_token_create(user=partner_admin, name="x")
    assert _api(plaintext[:-2] + "zz").status_code == 401
    assert _api("ispb_00000000_nothing").status_code == 401
    assert _api("garbage").status_code == 401
    assert Client().get("/api/v1/me").status_code == 401
    partner_admin.is_active = False
    partner_admin.save()
    assert _api(plaintext).status_code == 401


def test_expiry_in_the_past_and_empty_name_are_refused(partner_admin):
    with pytest.raises(ValueError):
        api_token_create(user=partner_admin, name="  ")
    with pytest.raises(ValueError):
        api_token_create(
            user=partner_admin, name="x", expires_at=timezone.now() - timedelta(days=1)
        )


def test_create_and_revoke_are_audited(partner_admin):
    token, _ = api_token_create(user=partner_admin, name="x")
    api_token_revoke(token=token, actor=partner_admin)
    api_token_revoke(token=token, actor=partner_admin)
    actions = list(
        AuditEvent.objects.filter(object_type="accounts.apitoken").values_list("action", flat=True)
    )
    assert sorted(actions) == ["api_token.create", "api_token.revoke"]
    assert AuditEvent.objects.filter(partner=partner_admin.partner).count() == 2


def test_tokens_page_shows_the_secret_once_and_revokes(partner_admin):
    client = Client()
    client.force_login(partner_admin)
    response = client.post(reverse("web:api_tokens"), {"name": "nightly export"})
    assert response.status_code == 200
    token = ApiToken.objects.get(user=partner_admin)
    html = response.content.decode()
    plaintext = html.split('<code class="secret">')[1].split("</code>")[0]
    assert plaintext.startswith(f"ispb_{token.prefix}_")
    assert response["Cache-Control"] == "no-store"
    listing = client.get(reverse("web:api_tokens")).content.decode()
    assert "nightly export" in listing and plaintext not in listing
    response = client.post(reverse("web:api_token_revoke", kwargs={"token_id": token.pk}))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_someone_elses_token_cannot_be_revoked(partner_admin):
    other = User.objects.create(username="other", role=Role.SUPPORT)
    token, _ = api_token_create(user=other, name="x")
    client = Client()
    client.force_login(partner_admin)
    response = client.post(reverse("web:api_token_revoke", kwargs={"token_id": token.pk}))
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_a_token_never_appears_in_logs(partner_admin, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    client = Client()
    client.force_login(partner_admin)
    html = client.post(reverse("web:api_tokens"), {"name": "x"}).content.decode()
    plaintext = html.split('<code class="secret">')[1].split("</code>")[0]
    _api(plaintext)
    token = ApiToken.objects.get(user=partner_admin)
    api_token_revoke(token=token, actor=partner_admin)
    _api(plaintext)  # refused: logged as 401
    Client().get("/api/v1/nowhere", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    # Code that logs a token by mistake is masked too.
    logging.getLogger("ispbill.test").warning("calling with Authorization: Bearer %s", plaintext)
    captured = capsys.readouterr()
    secret = plaintext.split("_", 2)[2]
    for text in (caplog.text, captured.out, captured.err):
        assert secret not in text
    assert any("Authorization: ********" in r.getMessage() for r in caplog.records)


def test_redaction_masks_headers_and_tokens():
    assert "s3cr3t" not in redact("Authorization: Bearer s3cr3t")
    assert "abc" not in redact("{'HTTP_AUTHORIZATION': 'Token abc'}")
    assert "zzz" not in redact("token ispb_0123abcd_zzz was used")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "h=%s", ("Bearer q1w2e3",), None)
    SecretRedactionFilter().filter(record)
    assert "q1w2e3" not in record.getMessage()
