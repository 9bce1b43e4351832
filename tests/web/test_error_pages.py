"""Branded 400/403/404/500 pages in the app's layout (DEBUG is off in tests)."""

from __future__ import annotations

import logging

import pytest
from django.test import Client, RequestFactory
from django.views.defaults import bad_request, server_error

from ispbill.accounts.models import Role, User

pytestmark = pytest.mark.django_db


def _signed_in(role: str) -> Client:
    client = Client()
    n = User.objects.count()
    client.force_login(User.objects.create(username=f"u-{role}-{n}", role=role))
    return client


def test_not_found_is_branded_for_anonymous_and_signed_in(home):
    for client in (Client(), _signed_in(Role.ADMIN)):
        response = client.get("/no-such-page/")
        assert response.status_code == 404
        page = response.content.decode()
        assert "Not found" in page and "ispbill" in page and "Back to the dashboard" in page
    # An object of no one's (or another tenant's) answers the same page.
    response = _signed_in(Role.ADMIN).get("/customers/999999/")
    assert response.status_code == 404
    assert "Not found" in response.content.decode()


def test_forbidden_is_branded(home):
    response = _signed_in(Role.SUPPORT).get("/partners/new/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "Not allowed" in page and 'class="brand"' in page


def test_a_refusal_logs_one_line_without_traceback(home, caplog):
    """A 403 from the app's own permission checks and a 404 are one warning line each;
    a server error keeps its traceback."""
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert _signed_in(Role.SUPPORT).get("/partners/new/").status_code == 403
        assert _signed_in(Role.ADMIN).get("/customers/999999/").status_code == 404
    records = [r for r in caplog.records if r.name == "django.request"]
    assert [r.getMessage() for r in records] == [
        "Forbidden (Permission denied): /partners/new/",
        "Not Found: /customers/999999/",
    ]
    assert all(r.exc_info is None for r in records)
    assert "Traceback" not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="django.request"):
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("django.request").error(
                "Internal Server Error: /x/", exc_info=True, extra={"status_code": 500}
            )
    assert caplog.records[-1].exc_info is not None
    assert "Traceback" in caplog.text


def test_server_error_renders_without_request_context_or_database(home):
    request = RequestFactory().get("/")
    response = server_error(request)
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page and "ispbill.css" in page
    response = bad_request(request, exception=ValueError("unreadable"))
    assert response.status_code == 400
    assert "Bad request" in response.content.decode()
