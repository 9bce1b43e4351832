"""The Record payment page's customer picker (docs/payments.md, "Recording a payment by
hand"): a search asked as you type (htmx) or as a GET without JavaScript, at most 20 matches
as radio buttons, the chosen customer's id posted back and checked against the user's
customers; never a list of every customer."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client
from django.urls import reverse

from ispbill.accounts.models import Role, User
from ispbill.customers.models import Customer
from ispbill.partners.models import PartnerMode
from ispbill.payments.models import Payment
from tests.factories import CustomerFactory, PartnerFactory, home_partner, partner_with_account
from tests.security.test_every_form import _Forms

pytestmark = pytest.mark.django_db

PAGE = reverse("web:payment_new")
SEARCH = reverse("web:payment_customers")
RADIO = re.compile(r'<input type="radio" name="customer" value="(\d+)"( checked)?>')


def _client(username: str, role: str, partner=None) -> Client:  # type: ignore[no-untyped-def]
    user = User.objects.create(
        username=username, role=role, partner=partner, password=make_password(None)
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world():  # type: ignore[no-untyped-def]
    """Own-invoicing OwnNet (with an account the operator bills it through) and OtherNet;
    two customers called Olga, one of each; Alice of the home partner."""
    own = partner_with_account(name="OwnNet", mode=PartnerMode.OWN_INVOICING)
    other = PartnerFactory(name="OtherNet", mode=PartnerMode.OWN_INVOICING)
    return {
        "own": own,
        "olga": CustomerFactory(
            partner=own, reference="OWN-7", name="Olga Obermaier", email="olga@own.example"
        ),
        "oskar": CustomerFactory(
            partner=own, reference="OWN-8", name="Oskar Oswald", email="oskar@own.example"
        ),
        "otto": CustomerFactory(
            partner=other, reference="OTH-1", name="Olga Otherside", email="oo@other.example"
        ),
        "alice": CustomerFactory(
            partner=home_partner(), reference="H-1", name="Alice Home", email="a@home.example"
        ),
    }


def _radios(html: str) -> list[tuple[int, bool]]:
    return [(int(pk), bool(checked)) for pk, checked in RADIO.findall(html)]


def _search(client: Client, q: str, **extra: str) -> str:
    response = client.get(SEARCH, {"q": q, **extra}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.content.decode()


def _form(client: Client, url: str) -> dict[str, list[str]]:
    """The payment form's fields as the page fills them (what a browser posts unchanged)."""
    parser = _Forms(url)
    parser.feed(client.get(url).content.decode())
    (form,) = [f for f in parser.forms if f.action.endswith(url)]
    data: dict[str, list[str]] = {}
    for name, value in form.fields:
        data.setdefault(name, []).append(value)
    return data


def test_operator_search_finds_each_partners_customers_by_name_number_and_email(world):
    admin = _client("picker-admin", Role.ADMIN)
    olgas = _search(admin, "olga")
    assert {pk for pk, _ in _radios(olgas)} == {world["olga"].pk, world["otto"].pk}
    assert "2 customers match “olga”." in olgas
    # By customer number and by e-mail, any case.
    assert _radios(_search(admin, "oth-1")) == [(world["otto"].pk, False)]
    assert _radios(_search(admin, "OLGA@OWN")) == [(world["olga"].pk, False)]
    # The operator sees whose customer it is.
    assert "OtherNet" in olgas and "OwnNet" in olgas
    assert "No customer matches “nobody”." in _search(admin, "nobody")
    # Nothing typed: nothing listed.
    assert _radios(_search(admin, "")) == []


def test_partner_search_shows_its_own_customers_only(world):
    staff = _client("picker-own", Role.PARTNER_STAFF, world["own"])
    olgas = _search(staff, "olga")
    assert _radios(olgas) == [(world["olga"].pk, False)]
    assert "Otherside" not in olgas and "1 customer matches “olga”." in olgas
    # Another partner's customer by its number, the home partner's, and the account the
    # operator bills OwnNet through (a home partner customer): none of them.
    assert _radios(_search(staff, "OTH-1")) == []
    assert _radios(_search(staff, "Alice")) == []
    assert _radios(_search(staff, world["own"].account.reference)) == []
    # Named as the chosen one (?customer=): another partner's customer is not shown either.
    assert _radios(_search(staff, "", customer=str(world["otto"].pk))) == []


def test_chosen_customer_stays_checked_first_while_searching(world):
    admin = _client("picker-admin", Role.ADMIN)
    html = _search(admin, "olga", customer=str(world["alice"].pk))
    # Checked first, then the matches by name: Olga Obermaier before Olga Otherside.
    assert _radios(html) == [
        (world["alice"].pk, True),
        (world["olga"].pk, False),
        (world["otto"].pk, False),
    ]
    # The chosen customer among the matches is listed once, checked.
    html = _search(admin, "olga", customer=str(world["otto"].pk))
    assert sorted(_radios(html)) == sorted([(world["otto"].pk, True), (world["olga"].pk, False)])
    # The status line is swapped out of band into the page's live region.
    assert 'id="customer-status" hx-swap-oob="innerHTML"' in html


def test_page_lists_at_most_twenty_of_sixty_customers(world):
    for n in range(60):
        CustomerFactory(partner=home_partner(), reference=f"B{n:02d}", name=f"Bulk {n:02d}")
    admin = _client("picker-admin", Role.ADMIN)
    page = admin.get(PAGE).content.decode()
    # No search yet: no customer at all on the page (it used to be a <select> of every one).
    assert "Bulk" not in page and _radios(page) == []
    assert "<select" in page  # the method only
    assert page.count("<option") == len(Payment._meta.get_field("method").choices)
    # A search matching all 60 lists the first 20 by name and says there are more.
    for html in (admin.get(PAGE, {"q": "bulk"}).content.decode(), _search(admin, "bulk")):
        assert len(_radios(html)) == 20
        assert [f"Bulk {n:02d}" for n in range(20)] == re.findall(r"Bulk \d\d", html)
        assert "More than 20 customers match “bulk”" in html
    # The htmx answer is small: 20 rows, not 60.
    assert len(_search(admin, "bulk")) < 8000


def test_no_javascript_search_and_preselected_customer(world):
    admin = _client("picker-admin", Role.ADMIN)
    page = admin.get(PAGE, {"customer": world["olga"].pk}).content.decode()
    # The link of a customer's page (?customer=) shows that customer, chosen.
    assert _radios(page) == [(world["olga"].pk, True)]
    assert "Chosen: Olga Obermaier." in page
    # The search is a GET form of its own to this page; its controls carry form= so the
    # payment form does not post them.
    assert f'<form id="customer-search" method="get" action="{PAGE}"' in page
    assert 'name="q" form="customer-search"' in page
    assert 'type="submit" form="customer-search"' in page
    searched = admin.get(PAGE, {"q": "Oswald"}).content.decode()
    assert _radios(searched) == [(world["oskar"].pk, False)]
    assert 'value="Oswald"' in searched
    # Ids that are not ids, an unknown one, another partner's for a partner: nothing chosen.
    for value in ("²", "12abc", "9" * 30, "999999999"):
        response = admin.get(PAGE, {"customer": value})
        assert response.status_code == 200 and _radios(response.content.decode()) == []
    staff = _client("picker-own", Role.PARTNER_STAFF, world["own"])
    response = staff.get(PAGE, {"customer": world["otto"].pk})
    assert response.status_code == 200 and _radios(response.content.decode()) == []


@pytest.mark.parametrize("role", [Role.ADMIN, Role.ACCOUNTANT])
def test_operator_posts_the_form_as_the_page_fills_it(world, role):
    client = _client(f"picker-{role}", role)
    url = f"{PAGE}?customer={world['otto'].pk}"
    data = _form(client, url)
    assert data["customer"] == [str(world["otto"].pk)]
    assert "q" not in data  # the search's field belongs to the search form
    response = client.post(url, {**data, "amount": "12.34", "reference": f"PICK-{role}"})
    assert response.status_code == 302
    assert response["Location"] == reverse("web:customer", kwargs={"customer_id": world["otto"].pk})
    payment = Payment.objects.get(reference=f"PICK-{role}")
    assert (payment.customer_id, payment.amount_minor) == (world["otto"].pk, 1234)


def test_partner_user_posts_for_its_customer_and_is_refused_anothers(world):
    staff = _client("picker-own", Role.PARTNER_STAFF, world["own"])
    # Searched without JavaScript, picked, posted.
    url = f"{PAGE}?q=Obermaier"
    data = _form(staff, url)
    assert "customer" not in data  # nothing is checked until the user picks
    data["customer"] = [str(world["olga"].pk)]
    response = staff.post(url, {**data, "amount": "5.00", "reference": "PICK-OWN"})
    assert response.status_code == 302
    assert Payment.objects.get(reference="PICK-OWN").customer_id == world["olga"].pk
    # Another partner's customer, the home partner's, OwnNet's own account, an unknown id,
    # a number too large for the database and no number: a form error, nothing written.
    foreign = [world["otto"].pk, world["alice"].pk, world["own"].account_id]
    before = Payment.objects.count()
    for value in [*map(str, foreign), "999999999", "9" * 25, "x'<", ""]:
        response = staff.post(url, {**data, "customer": value, "amount": "5.00"})
        assert response.status_code == 200, value
        errors = response.context["form"].errors
        assert list(errors) == ["customer"], (value, errors)
        html = response.content.decode()
        assert 'id="id_customer_error"' in html
        if value:
            assert "not one of your customers" in html.replace("&#x27;", "'")
        else:
            assert "Choose the account the payment is for" in html
    assert Payment.objects.count() == before
    assert not Payment.objects.filter(customer_id__in=foreign).exists()


def test_form_error_keeps_the_chosen_customer_checked(world):
    staff = _client("picker-own", Role.PARTNER_STAFF, world["own"])
    data = _form(staff, f"{PAGE}?customer={world['oskar'].pk}")
    response = staff.post(PAGE, {**data, "amount": "-1"})
    assert response.status_code == 200 and "amount" in response.context["form"].errors
    assert _radios(response.content.decode()) == [(world["oskar"].pk, True)]


def test_who_may_search(world):
    # The picker is the payment form's: finance.write (support and percentage partners
    # record no payments); signed out, the sign-in page.
    support = _client("picker-support", Role.SUPPORT)
    assert support.get(SEARCH, {"q": "olga"}).status_code == 403
    city = partner_with_account(name="CityNet", mode=PartnerMode.PERCENTAGE)
    reseller = _client("picker-city", Role.PARTNER_ADMIN, city)
    assert reseller.get(SEARCH, {"q": "olga"}).status_code == 403
    assert Client().get(SEARCH, {"q": "olga"}).status_code == 302
    assert Customer.objects.count() == 6  # 4 customers and 2 partner accounts
