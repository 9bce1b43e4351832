"""A leak test that reads pages, not ids (docs/security.md).

The demo installation gets a canary partner in every mode (tests/security/canary.py). Signed
in as every other partner's administrator and staff and as portal users, the test crawls
every page it can reach (the dashboard, every list route of the resolver, the links on each
page, search, exports, reports and their CSV, PDF documents as text) and, through each of
those users' API tokens, every API list; no canary string or amount may appear in any
answer. The operator administrator, who sees everyone, must find the canaries: the needles
are shown to be findable."""

from __future__ import annotations

import html
import io
import re
import zipfile
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import pytest
from django.apps import apps
from django.test import Client
from django.urls import Resolver404, resolve, reverse

from ispbill.accounts.middleware import request_scope
from ispbill.accounts.services import api_token_create
from ispbill.core.tenancy import PartnerScopedManager
from ispbill.dataio.exports import EXPORT_KINDS
from tests.security.canary import CANARY, CANARY_DOMAIN, CanaryWorld, build_canary_world
from tests.security.routes import PUBLIC_ROUTES, all_routes
from tests.security.world import KWARG_MODELS, NON_OBJECT_KWARGS, ROUTE_KWARG_MODELS

pytestmark = pytest.mark.django_db(transaction=False)

# Never followed: they end the session or change who the user is.
SKIP_VIEWS = {
    "logout",
    "web:view_as_start",
    "web:view_as_stop",
    "web:view_as_list",
} | set(PUBLIC_ROUTES)
# Pages of one route (and one set of query keys) read per user: enough for lists, their
# pages and sort orders, and a few details; the canaries are never a viewer's own objects.
PER_ROUTE = 4
PERIOD = {"start": "2026-01-01", "end": "2026-12-31"}
SEARCH = CANARY[:4]  # a search that finds canaries without its echo being a needle
LINK = re.compile(r"""(?:href|hx-get|data-url|action)\s*=\s*["']([^"'#]+)""")


def _text(response) -> str:  # type: ignore[no-untyped-def]
    """The answer as text: PDFs extracted, XLSX unzipped, the rest decoded."""
    body = b"".join(response.streaming_content) if response.streaming else response.content
    kind = response.get("Content-Type", "")
    if body.startswith(b"%PDF"):
        from pypdf import PdfReader

        return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(body)).pages)
    if "spreadsheetml" in kind or body.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            return "\n".join(
                archive.read(n).decode("utf-8", "replace")
                for n in archive.namelist()
                if n.endswith(".xml")
            )
    return body.decode("utf-8", "replace")


def _web_starts() -> list[str]:
    """The dashboard, every list route (no arguments), searches, reports and exports."""
    starts = ["/"]
    for route in all_routes():
        if route.is_api or route.kwargs or route.name in SKIP_VIEWS:
            continue
        url = reverse(route.name)
        starts += [url, f"{url}?{urlencode({'q': SEARCH})}"]
    reports = reverse("web:reports")
    exports = reverse("web:exports")
    starts.append(f"{reports}?{urlencode(PERIOD)}")
    # The usage report's CSV (the crawl follows only a few CSV links of the reports page).
    starts.append(f"{reports}?{urlencode({**PERIOD, 'csv': 'usage'})}")
    for kind in EXPORT_KINDS:
        for fmt in ("csv", "xlsx"):
            starts.append(f"{exports}?{urlencode({**PERIOD, 'kind': kind, 'format': fmt})}")
    return starts


def _own_object(label: str, user) -> int | None:  # type: ignore[no-untyped-def]
    """The id of an object of ``label`` the user may see (its newest), None if none."""
    model = apps.get_model(label)
    if label == "partners.partner":
        return user.partner_id
    if label == "accounts.user":
        return user.pk
    if label == "billing.billingrun":
        run = model.objects.filter(scope_partner_id=user.partner_id).order_by("-pk").first()
        return run.pk if run is not None else None
    if not isinstance(model._default_manager, PartnerScopedManager):
        return None
    with request_scope(user):
        obj = model._default_manager.order_by("-pk").first()
    return obj.pk if obj is not None else None


def _detail_starts(user) -> list[str]:  # type: ignore[no-untyped-def]
    """Every web route with ids, called with the user's own (newest) objects: routes no
    page links to are read too."""
    starts = []
    for route in all_routes():
        if route.is_api or not route.kwargs or route.name in SKIP_VIEWS:
            continue
        kwargs = {}
        for name in route.kwargs:
            if name in NON_OBJECT_KWARGS:
                kwargs[name] = NON_OBJECT_KWARGS[name]
                continue
            label = ROUTE_KWARG_MODELS.get((route.name, name)) or KWARG_MODELS.get(name)
            value = _own_object(label, user) if label else None
            if value is None:
                break
            kwargs[name] = value
        else:
            starts.append(reverse(route.name, kwargs=kwargs))
    return starts


def _api_lists() -> list[str]:
    return sorted(
        {
            r.pattern
            for r in all_routes()
            if r.is_api and not r.kwargs and "GET" in r.methods and r.name not in PUBLIC_ROUTES
        }
    )


def pages_walk(
    client: Client, starts: list[str], errors: list[str], who: str
) -> Iterator[tuple[str, str, Any]]:
    """Every page reachable from ``starts`` (breadth first; at most PER_ROUTE pages of one
    route and set of query keys beyond the starts): yields (url, view name, response), then
    follows the links, hx-gets and form actions of an HTML answer. A GET that raises is
    recorded in ``errors``; so is a 5xx (the caller sees the response too)."""
    queue = deque(starts)
    seen: set[str] = set()
    per_route: Counter[tuple[str, tuple[str, ...]]] = Counter()
    while queue:
        url = queue.popleft()
        if url in seen:
            continue
        seen.add(url)
        parts = urlsplit(url)
        try:
            match = resolve(parts.path)
        except Resolver404:
            continue
        if match.view_name in SKIP_VIEWS or match.view_name.startswith("api:"):
            continue
        group = (match.view_name, tuple(sorted(k for k, _ in parse_qsl(parts.query))))
        if per_route[group] >= PER_ROUTE and url not in starts:
            continue
        per_route[group] += 1
        try:
            response = client.get(url)
        except Exception as exc:  # a 500 in the test client
            errors.append(f"{who}: GET {url} raised {type(exc).__name__}: {exc}")
            continue
        if response.status_code >= 500:
            errors.append(f"{who}: GET {url} answered {response.status_code}")
        html_page = "html" in response.get("Content-Type", "") and not response.streaming
        text = response.content.decode("utf-8", "replace") if html_page else ""
        yield url, match.view_name, response
        if response.status_code in (301, 302):
            queue.append(urljoin(url, response["Location"]))
        for link in LINK.findall(text):
            target = urljoin(url, html.unescape(link).strip())
            if urlsplit(target).netloc not in ("", "testserver"):
                continue
            target = urlsplit(target)._replace(scheme="", netloc="", fragment="").geturl()
            if target not in seen:
                queue.append(target)


class Crawl:
    def __init__(self, needles: Iterable[str]) -> None:
        self.needles = [n.lower() for n in needles]
        self.leaks: list[str] = []
        self.errors: list[str] = []
        self.pages = 0
        self.seen_views: set[str] = set()

    def check(self, who: str, url: str, response) -> str:  # type: ignore[no-untyped-def]
        self.pages += 1
        if response.status_code >= 500:
            self.errors.append(f"{who}: GET {url} answered {response.status_code}")
        text = _text(response)
        low = text.lower()
        for needle in self.needles:
            at = low.find(needle)
            if at >= 0:
                context = " ".join(text[max(at - 60, 0) : at + 60].split())
                self.leaks.append(f"{who}: {url} shows {needle!r}: …{context}…")
        return text

    def web(self, who: str, client: Client, starts: list[str]) -> None:
        for url, view_name, response in pages_walk(client, starts, self.errors, who):
            self.seen_views.add(view_name)
            self.check(who, url, response)

    def api(self, who: str, client: Client) -> None:
        for path in _api_lists():
            offset = 0
            for _ in range(20):
                url = f"{path}?limit=200&offset={offset}"
                response = client.get(url)
                self.check(who, url, response)
                body = response.json() if response.status_code == 200 else None
                items = body.get("items") if isinstance(body, dict) else body
                if not isinstance(items, list) or len(items) < 200:
                    break
                offset += 200
            if "customers" in path:
                self.check(who, f"{path}?q={SEARCH}", client.get(f"{path}?q={SEARCH}"))


@pytest.fixture
def world() -> CanaryWorld:
    return build_canary_world()


def _session(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def _token(user) -> Client:  # type: ignore[no-untyped-def]
    _token, plaintext = api_token_create(user=user, name="crawl")
    return Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")


def test_no_page_export_or_api_list_shows_another_tenants_canary(world):
    needles = world.needles()
    starts = _web_starts()

    # The positive control: the operator, who sees every partner, finds the canary string
    # and every canary amount, so a needle that cannot be found fails here.
    control = Crawl(needles)
    assert world.operator is not None
    control.web("operator", _session(world.operator), starts + _detail_starts(world.operator))
    control.api("operator api", _token(world.operator))
    found = {leak.split(" shows ")[1].split(":")[0].strip("'") for leak in control.leaks}
    assert {CANARY, CANARY_DOMAIN} <= found, found
    assert len(found - {CANARY, CANARY_DOMAIN}) >= 6, f"amounts the operator sees: {found}"
    assert not control.errors, "\n".join(control.errors)
    # The usage surfaces list the canaries' traffic to the operator (docs/usage.md).
    for surface in ("/usage/top/", "/api/v1/usage/top", "/api/v1/usage/partners", "csv=usage"):
        assert any(surface in leak for leak in control.leaks), f"no canary at {surface}"

    crawl = Crawl(needles)
    for who, user in world.viewers.items():
        crawl.web(who, _session(user), starts + _detail_starts(user))
        crawl.api(f"{who} api", _token(user))
    assert not crawl.errors, "\n".join(crawl.errors)
    assert not crawl.leaks, f"{len(crawl.leaks)} leaks:\n" + "\n".join(crawl.leaks[:40])
    # The crawl reached the pages that matter (a broken link walk would pass vacuously).
    assert {"web:home", "web:customers", "web:invoices", "web:customer"} <= crawl.seen_views
    assert {"web:commissions", "web:reports", "web:exports"} <= crawl.seen_views
    assert {"web:portal", "web:portal_invoices"} <= crawl.seen_views
    assert {"web:usage_top", "web:service"} <= crawl.seen_views
    assert "web:emails" in crawl.seen_views and "web:emails" in control.seen_views
    # The payment form's customer picker searches every customer of the scope: the operator
    # finds the canaries there (and on the page's no-JavaScript search), partners never.
    assert "web:payment_customers" in crawl.seen_views
    assert any("/payments/new/customers/?q=" in leak for leak in control.leaks)
    assert any("/payments/new/?q=" in leak for leak in control.leaks)
    assert any("/emails/" in leak for leak in control.leaks), "no canary on the E-mails page"
    assert any("/api/v1/emails" in leak for leak in control.leaks), "no canary in GET /emails"
