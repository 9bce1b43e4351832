"""Sign-in protection: lockout, password reset, password hashing, cookies."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse

from ispbill.accounts.models import Role, User

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery"


@pytest.fixture
def user():
    u = User.objects.create(username="ops", role=Role.SUPPORT, email="ops@example.com")
    u.set_password(PASSWORD)
    u.save()
    return u


def _login(client, password):
    return client.post(reverse("login"), {"username": "ops", "password": password})


def test_brute_force_is_locked_out_after_the_configured_attempts(user):
    client = Client()
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == 5
    for _ in range(limit - 1):
        assert _login(client, "wrong").status_code == 200
    assert _login(client, "wrong").status_code == 429
    # Locked: even the right password is refused now.
    response = _login(client, PASSWORD)
    assert response.status_code == 429
    assert b"Too many failed sign-ins" in response.content
    assert "_auth_user_id" not in client.session


def test_a_success_before_the_limit_resets_the_count(user):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "wrong")
    assert _login(client, PASSWORD).status_code == 302
    client.post(reverse("logout"))
    assert _login(client, "wrong").status_code == 200


def test_password_reset_by_email(user):
    client = Client()
    response = client.post(reverse("password_reset"), {"email": "ops@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/password-reset/\S+/\S+/)", mail.outbox[0].body)
    assert link
    response = client.get(link.group(1), follow=True)
    assert b"Choose a new password" in response.content
    response = client.post(
        response.redirect_chain[-1][0],
        {"new_password1": "a new long passphrase", "new_password2": "a new long passphrase"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a new long passphrase")


def test_password_reset_for_an_unknown_address_says_the_same(user):
    response = Client().post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_passwords_are_hashed_with_argon2(user):
    assert user.password.startswith("argon2")


def test_cookies_are_http_only_and_same_site():
    assert settings.SESSION_COOKIE_HTTPONLY
    assert settings.SESSION_COOKIE_SAMESITE == "Lax"
    assert settings.SESSION_COOKIE_SECURE == settings.SECURE_HTTPS
    assert settings.CSRF_COOKIE_SECURE == settings.SECURE_HTTPS
