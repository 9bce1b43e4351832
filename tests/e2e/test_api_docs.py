"""The API docs page (Swagger UI) works without internet: every script and style comes from
ispbill's own static files (django-ninja's bundled Swagger UI)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

pytestmark = pytest.mark.django_db(transaction=True)


def test_docs_page_references_only_local_assets():
    page = Client().get("/api/v1/docs").content.decode()
    sources = re.findall(r"""(?:src|href)=["']([^"']+)""", page)
    assert any(s.endswith("swagger-ui-bundle.js") for s in sources), sources
    for source in sources:
        assert not urlsplit(source).netloc, f"{source} is loaded from another host"
        if source.startswith("/static/"):
            assert finders.find(source.removeprefix("/static/")), source


def test_docs_render_in_a_browser_offline(browser, live_server):
    context = browser.new_context()
    page = context.new_page()
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    page.goto(f"{live_server.url}/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
    assert "ispbill" in page.inner_text(".swagger-ui .info .title")
    assert page.locator(".opblock").count() > 20  # the operations are listed
    assert hosts == {urlsplit(live_server.url).netloc}, hosts
    context.close()
