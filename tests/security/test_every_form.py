"""No form answers a 5xx (docs/security.md, "Every form is posted back").

On the demo installation with a canary partner in every mode, each role signs in, walks every
page it can reach (the dashboard, every list route, every detail route with its own objects,
the links on each page) and posts back every POST form it finds: first unchanged, every
page's copy (it must succeed or answer a form error, never a 5xx), then, once per distinct
form (the page it is on, the view it posts to, its field names), with each field emptied,
too long, of the wrong type, and (for a choice) naming another tenant's object.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.test import Client
from django.urls import Resolver404, resolve

from ispbill.accounts.models import Role, User
from ispbill.customers.models import Customer
from tests.security.canary import build_canary_world
from tests.security.test_leak_crawl import SKIP_VIEWS, _detail_starts, _web_starts, pages_walk

pytestmark = pytest.mark.django_db(transaction=False)

# Forms never posted: they end the session, change who the user is, or its password.
SKIP_POSTS = SKIP_VIEWS | {"password_change", "web:password_change"}
TOO_LONG = "x" * 5000
WRONG_TYPE = "9e99'\"<script>"


@dataclass
class Form:
    action: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # posted as they are
    choices: dict[str, list[str]] = field(default_factory=dict)  # select, radio -> values
    form_id: str = ""


class _Forms(HTMLParser):
    """The POST forms of a page with the values a browser would post unchanged."""

    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._select_value: str | None = None
        self._first_option: str | None = None
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            if a.get("method", "get").lower() == "post":
                action = urljoin(self.page_url, html.unescape(a.get("action") or self.page_url))
                self._form = Form(action=action, form_id=a.get("id", ""))
            return
        form = self._form
        if form is None or "disabled" in a:
            return
        # A control of another form (form="..."): the payment form's customer search.
        if a.get("form", form.form_id) != form.form_id:
            return
        name = a.get("name", "")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio"):
                if kind == "radio":  # a choice, like a select's options
                    form.choices.setdefault(name, []).append(a.get("value", "on"))
                if "checked" in a:
                    form.fields.append((name, a.get("value", "on")))
            elif kind not in ("submit", "button", "file", "image", "reset"):
                form.fields.append((name, a.get("value", "")))
        elif tag == "select" and name:
            self._select, self._select_value, self._first_option = name, None, None
            form.choices[name] = []
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            form.choices[self._select].append(value)
            if self._first_option is None:
                self._first_option = value
            if "selected" in a:
                self._select_value = value
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        form = self._form
        if form is None:
            return
        if tag == "select" and self._select is not None:
            value = self._select_value if self._select_value is not None else self._first_option
            if value is not None:
                form.fields.append((self._select, value))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            form.fields.append((self._textarea, "".join(self._text).lstrip("\n")))
            self._textarea = None
        elif tag == "form":
            self.forms.append(form)
            self._form = None


def _path(url: str) -> str:
    return urlsplit(url)._replace(scheme="", netloc="", fragment="").geturl()


# A distinct form: the page it is on, the view it posts to and the names of its fields. One
# form class on two pages (a service form on the customer page and on its own), or one view
# with two field sets (a tariff form with the resellers' choice for the operator, without
# it for a reseller) are two forms, each varied.
FormKey = tuple[str, str, tuple[str, ...]]


class Poster:
    def __init__(self, foreign_ids: list[str]) -> None:
        self.errors: list[str] = []
        self.posted = 0
        self.forms_seen: set[tuple[str, str, str, tuple[str, ...]]] = set()
        self.varied: set[FormKey] = set()
        self.foreign_posted: set[tuple[str, str]] = set()  # (view, field) given a foreign id
        self.foreign_ids = foreign_ids

    @property
    def varied_views(self) -> set[str]:
        return {view for _page, view, _names in self.varied}

    def post(self, who: str, client: Client, form: Form, data: list[tuple[str, str]], how: str):  # type: ignore[no-untyped-def]
        self.posted += 1
        body: dict[str, list[str]] = {}
        for name, value in data:
            body.setdefault(name, []).append(value)
        try:
            response = client.post(_path(form.action), body)
        except Exception as exc:  # an exception in the view: the test client re-raises it
            self.errors.append(f"{who}: POST {form.action} ({how}) raised {exc!r}")
            return None
        if response.status_code >= 500:
            self.errors.append(f"{who}: POST {form.action} ({how}) answered {response.status_code}")
        return response

    def variants(self, form: Form) -> list[tuple[str, list[tuple[str, str]]]]:
        out = []
        names = [n for n, _ in form.fields if n != "csrfmiddlewaretoken"]
        for name in dict.fromkeys(names):
            others = [(n, v) for n, v in form.fields if n != name]
            out.append((f"{name} emptied", [*others, (name, "")]))
            out.append((f"{name} too long", [*others, (name, TOO_LONG)]))
            out.append((f"{name} wrong type", [*others, (name, WRONG_TYPE)]))
            if name in form.choices:
                own = set(form.choices[name])
                for foreign in self.foreign_ids:
                    if foreign not in own:
                        out.append((f"{name} foreign {foreign}", [*others, (name, foreign)]))
                        break
        return out

    def walk(self, who: str, user: User) -> None:
        client = Client()
        client.force_login(user)
        starts = _web_starts() + _detail_starts(user)
        for url, page_view, response in pages_walk(client, starts, self.errors, who):
            if "html" not in response.get("Content-Type", "") or response.streaming:
                continue
            parser = _Forms(url)
            parser.feed(response.content.decode("utf-8", "replace"))
            for form in parser.forms:
                self._form(who, client, form, page_view)

    def _form(self, who: str, client: Client, form: Form, page_view: str) -> None:
        try:
            view = resolve(urlsplit(form.action).path).view_name
        except Resolver404:
            return
        if view in SKIP_POSTS or view.startswith("api:"):
            return
        # Field names with an id in them (a credit note's ``line_517``) name the same field.
        names = tuple(
            sorted({re.sub(r"\d+", "N", n) for n, _ in form.fields if n != "csrfmiddlewaretoken"})
        )
        # Unchanged: every page's copy (each object the walk reached), once per role.
        seen = (who, page_view, _path(form.action), names)
        if seen in self.forms_seen:
            return
        self.forms_seen.add(seen)
        self.post(who, client, form, form.fields, "unchanged")
        # Varied: every distinct form once, by the first role that meets it.
        distinct: FormKey = (page_view, view, names)
        if distinct in self.varied:
            return
        self.varied.add(distinct)
        for how, data in self.variants(form):
            self.post(who, client, form, data, how)
            if " foreign " in how:
                self.foreign_posted.add((view, how.split(" ")[0]))


def test_every_form_posted_back_by_every_role_never_answers_5xx():
    world = build_canary_world()
    assert world.operator is not None
    operators = {
        "accountant": User.objects.create(username="form_accountant", role=Role.ACCOUNTANT),
        "support": User.objects.create(username="form_support", role=Role.SUPPORT),
        "admin": world.operator,
    }
    foreign = [
        str(c.pk)
        for c in Customer._base_manager.filter(partner__in=world.canaries.values()).order_by("pk")
    ]
    foreign += [str(p.pk) for p in world.canaries.values()]
    poster = Poster(foreign)
    # Partner users and portal users first, operators last: an operator's post may disable a
    # partner or change its mode.
    for who, user in [*world.viewers.items(), *operators.items()]:
        poster.walk(who, user)
    assert not poster.errors, f"{len(poster.errors)} errors:\n" + "\n".join(poster.errors[:40])
    # The walk found the forms that matter (a broken walk would pass vacuously).
    varied = poster.varied_views
    for view in (
        "web:partner_edit",
        "web:customer_new",
        "web:service_new",
        "web:one_time_charge_new",
        "web:payment_new",
        "web:tariff_new",
        "web:emails_retry",
        "web:email_retry",
        "web:emails_send_queued",
    ):
        assert view in varied, sorted(varied)
    assert poster.posted > 1000, poster.posted
    # The payment form's customer picker (radio buttons, not a select of every customer) is
    # posted naming another tenant's customer.
    assert ("web:payment_new", "customer") in poster.foreign_posted, poster.foreign_posted
    # One form on two pages is varied on each: sending an invoice from its page and from the
    # send page; one view with two field sets is varied with each: the tariff form with the
    # resellers' choice (operator) and without it (an own-invoicing partner).
    assert ("web:invoice", "web:invoice_send", ("to",)) in poster.varied
    assert ("web:invoice_send", "web:invoice_send", ("to",)) in poster.varied
    tariff_forms = {names for _page, view, names in poster.varied if view == "web:tariff_edit"}
    assert len(tariff_forms) == 2 and any("available_to" in names for names in tariff_forms)
