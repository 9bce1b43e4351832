"""Every page of the customer portal, for each demo customer: the provider by its brand or
legal name (never the home partner's internal name), the account holder in the header, the
ways to pay automatically only where the issuer offers them, and a profile that cannot be
emptied of what the invoices are addressed to."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from ispbill.accounts.models import User
from ispbill.customers.models import Customer
from ispbill.customers.selectors import account_issuer
from ispbill.gateways.services import gateway_settings_for
from ispbill.partners.models import Partner
from ispbill.sepa.notices import creditor_settings_for
from tests.factories import CustomerFactory

from .conftest import signed_in

pytestmark = pytest.mark.django_db

LINK = re.compile(r'href="(/(?:portal|account/password)/[^"#?]*)"')
NOT_PAGES = ("/pdf/", "/receipt/")


def _text(html: str) -> str:
    """What the page shows: its text, without the markup (an aria-label is no text)."""
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def _portal_pages(client: Client) -> dict[str, str]:
    """Every page reachable from the portal's overview by its links, plus the two pages of
    automatic payment (reachable by URL even where the menu does not show them)."""
    todo = ["/portal/", "/portal/autopay/", "/portal/direct-debit/"]
    seen: dict[str, str] = {}
    while todo:
        url = todo.pop()
        if url in seen or any(part in url for part in NOT_PAGES):
            continue
        response = client.get(url)
        assert response.status_code == 200, url
        seen[url] = response.content.decode()
        todo.extend(LINK.findall(seen[url]))
    return seen


@pytest.mark.parametrize("username", ["customer", "alpenkunde"])
def test_every_portal_page_names_the_provider_and_the_account_holder(demo, username):
    user = User.objects.get(username=username)
    me = Customer.objects.get(pk=user.customer_id)
    # The login's own name differs from the account holder's: the header shows the holder.
    user.first_name, user.last_name = "Carla", "Kundin"
    user.save()
    internal = Partner.objects.get(is_home=True).name
    issuer = account_issuer(me)
    debit = bool(creditor_settings_for([issuer.pk]))
    card = gateway_settings_for(issuer.pk) is not None
    client = signed_in(username)
    pages = _portal_pages(client)
    assert len(pages) >= 7, sorted(pages)
    for url, html in pages.items():
        text = _text(html)
        assert not re.search(rf"\b{re.escape(internal)}\b", text), (url, internal)
        who = re.search(r'<span class="who">(.*?)</span>', html, re.S).group(1)
        assert me.name in who and "Carla" not in who, (url, who)
        # The menu offers a way to pay automatically only where the issuer has it.
        assert (reverse("web:portal_direct_debit") in html) == debit, (url, debit)
        assert (reverse("web:portal_autopay") in html) == card, (url, card)
    autopay = _text(pages["/portal/autopay/"])
    direct_debit = _text(pages["/portal/direct-debit/"])
    if not card:
        assert "does not take card payments" in autopay
    if not debit:
        assert "does not offer direct debit" in direct_debit
    if not card and not debit:
        # Neither page points to the other, unavailable, way.
        assert "instead" not in autopay and "instead" not in direct_debit
        assert "bank transfer" in autopay and "bank transfer" in direct_debit


def test_the_demo_portal_users_carry_their_customers_names(demo):
    for username in ("customer", "alpenkunde"):
        user = User.objects.get(username=username)
        assert user.get_full_name() == Customer.objects.get(pk=user.customer_id).name


@pytest.fixture
def portal_me(home):
    me = CustomerFactory(
        partner=home,
        email="ona@example.org",
        street="Hauptstr. 1",
        postcode="10115",
        city="Berlin",
    )
    user = User.objects.create(username="ona", role="customer", partner=home, customer=me)
    client = Client()
    client.force_login(user)
    return me, client


def test_the_profile_keeps_what_the_invoices_are_addressed_to(portal_me):
    me, client = portal_me
    url = reverse("web:portal_profile")
    kept = {
        "email": "ona@example.org",
        "phone": "",
        "street": "Hauptstr. 1",
        "postcode": "10115",
        "city": "Berlin",
        "language": "en",
    }
    for name in ("email", "street", "postcode", "city"):
        response = client.post(url, {**kept, name: ""})
        assert response.status_code == 200, name
        assert "do not leave it empty" in response.content.decode(), name
    me.refresh_from_db()
    assert (me.email, me.street, me.postcode, me.city) == (
        "ona@example.org",
        "Hauptstr. 1",
        "10115",
        "Berlin",
    )
    saved = client.post(url, {**kept, "street": "Nebenweg 2", "phone": "030 1234"})
    assert saved.status_code == 302
    me.refresh_from_db()
    assert (me.street, me.phone) == ("Nebenweg 2", "030 1234")


def test_a_profile_without_an_email_can_still_be_saved_without_one(home):
    me = CustomerFactory(partner=home, email="", street="", postcode="", city="")
    user = User.objects.create(username="bo", role="customer", partner=home, customer=me)
    client = Client()
    client.force_login(user)
    response = client.post(
        reverse("web:portal_profile"),
        {"email": "", "phone": "0301", "street": "", "postcode": "", "city": "", "language": "en"},
    )
    assert response.status_code == 302
