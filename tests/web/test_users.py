"""The users screen: list, create, edit, disable; partner administrators manage only their
partner's staff and portal users, and the services refuse anything else."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.hashers import make_password
from django.core import mail
from django.test import Client
from django.urls import reverse

from ispbill.accounts.models import Role, User
from ispbill.accounts.services import user_create, user_update
from ispbill.core.errors import DomainValidationError, NotAllowed
from ispbill.core.models import AuditEvent
from ispbill.core.tenancy import partner_scope
from ispbill.customers.models import Customer
from ispbill.demo import DEMO_PASSWORD
from ispbill.partners.models import Partner

from .conftest import signed_in

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Kiel-Fibre-2026!"


def citynet() -> Partner:
    return Partner.objects.get(name="CityNet Resellers")


def alpenfunk() -> Partner:
    return Partner.objects.get(name="Alpenfunk")


def create_form(**fields: str) -> dict[str, str]:
    data = {
        "username": "",
        "email": "",
        "first_name": "",
        "last_name": "",
        "role": Role.SUPPORT,
        "partner": "",
        "customer": "",
        "password_mode": "set",
        "password": NEW_PASSWORD,
        "password_again": NEW_PASSWORD,
    }
    data.update(fields)
    return data


def test_operator_lists_searches_and_filters_users(demo):
    client = signed_in("admin")
    html = client.get(reverse("web:users")).content.decode()
    for name in ("admin", "citynet", "alpenfunk", "customer"):
        assert f">{name}</a>" in html
    assert 'for="q"' in html and 'for="role"' in html and 'for="partner"' in html
    html = client.get(reverse("web:users"), {"q": "alpen"}).content.decode()
    assert ">alpenfunk</a>" in html and ">citynet</a>" not in html
    html = client.get(reverse("web:users"), {"role": Role.ACCOUNTANT}).content.decode()
    assert ">accountant</a>" in html and ">admin</a>" not in html
    html = client.get(reverse("web:users"), {"partner": citynet().pk}).content.decode()
    assert ">citynet</a>" in html and ">alpenfunk</a>" not in html
    html = client.get(reverse("web:users"), {"partner": "none", "sort": "-username"}).content
    assert b">support</a>" in html and b">citynet</a>" not in html
    # The API tokens page and the navigation lead to the users screen.
    assert reverse("web:users") in client.get(reverse("web:api_tokens")).content.decode()
    nav = client.get(reverse("web:home")).content.decode()
    assert f'href="{reverse("web:users")}"' in nav


def test_operator_creates_staff_with_an_initial_password(demo):
    client = signed_in("admin")
    response = client.post(
        reverse("web:user_new"),
        create_form(username="nina", email="nina@nordnetz.example", role=Role.ACCOUNTANT),
    )
    assert response.status_code == 302 and response["Location"] == reverse("web:users")
    user = User.objects.get(username="nina")
    assert user.role == Role.ACCOUNTANT and user.partner_id is None
    assert user.check_password(NEW_PASSWORD)
    event = AuditEvent.objects.get(action="user.created", object_id=str(user.pk))
    assert event.actor_label == "admin" and event.changes["password"] == "set"
    assert NEW_PASSWORD not in str(event.changes)
    assert Client().login(username="nina", password=NEW_PASSWORD)


def test_operator_creates_partner_staff_with_a_password_link(
    demo, django_capture_on_commit_callbacks
):
    client = signed_in("admin")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("web:user_new"),
            create_form(
                username="kai",
                email="kai@citynet.example",
                role=Role.PARTNER_STAFF,
                partner=str(citynet().pk),
                password_mode="link",
                password="",
                password_again="",
            ),
        )
    assert response.status_code == 302
    user = User.objects.get(username="kai")
    assert user.partner_id == citynet().pk and not user.has_usable_password()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["kai@citynet.example"]
    link = re.search(r"https?://\S+", mail.outbox[0].body)
    assert link is not None
    # The link opens the page that sets the password (Django redirects to the token-less URL).
    answer = Client().get(link.group(0), follow=True)
    assert answer.status_code == 200 and b'name="new_password1"' in answer.content
    assert AuditEvent.objects.filter(action="user.password_link_sent", object_id=str(user.pk))


def test_create_shows_errors_next_to_the_fields(demo):
    client = signed_in("admin")
    url = reverse("web:user_new")
    cases = [
        (create_form(username="x1", role=Role.PARTNER_STAFF), "Choose the partner"),
        (
            create_form(username="x2", role=Role.SUPPORT, partner=str(citynet().pk)),
            "Operator staff belong to no partner",
        ),
        (create_form(username="admin"), "is taken"),
        (create_form(username="has space"), "without spaces"),
        (create_form(username="x3", password_again="other"), "The two passwords differ"),
        (create_form(username="x4", password="password", password_again="password"), "common"),
        (
            create_form(username="x5", password_mode="link", password="", password_again=""),
            "give an address",
        ),
        (create_form(username="x6", role=Role.CUSTOMER), "Give the customer number"),
        (create_form(username="x7", role=Role.CUSTOMER, customer="nope"), "No customer"),
    ]
    before = User.objects.count()
    for data, message in cases:
        response = client.post(url, data)
        assert response.status_code == 200, data
        html = response.content.decode()
        assert message in html, (data, message)
        assert "has-error" in html or 'class="notice bad"' in html
    assert User.objects.count() == before


def test_portal_access_from_the_customer_page(demo):
    client = signed_in("admin")
    customer = Customer.objects.filter(partner=alpenfunk()).order_by("pk").first()
    detail = client.get(reverse("web:customer", kwargs={"customer_id": customer.pk}))
    start = reverse("web:user_new") + f"?customer={customer.pk}"
    assert start in detail.content.decode().replace("&amp;", "&")
    form = client.get(start).content.decode()
    assert f'value="{customer.reference}"' in form
    response = client.post(
        reverse("web:user_new"),
        create_form(username="portal1", role=Role.CUSTOMER, customer=customer.reference),
    )
    assert response.status_code == 302
    user = User.objects.get(username="portal1")
    assert user.customer_id == customer.pk and user.partner_id == alpenfunk().pk


def test_edit_disable_and_enable(demo):
    client = signed_in("admin")
    target = User.objects.get(username="support")
    url = reverse("web:user_edit", kwargs={"user_id": target.pk})
    page = client.get(url).content.decode()
    assert "data-confirm" in page and "Disable user" in page and 'for="id_email"' in page
    bad = client.post(url, {"email": "not-an-email", "role": Role.SUPPORT})
    assert bad.status_code == 200 and "valid email" in bad.content.decode()
    done = client.post(url, {"email": "sina@nordnetz.example", "role": Role.ACCOUNTANT})
    assert done.status_code == 302
    target.refresh_from_db()
    assert target.email == "sina@nordnetz.example" and target.role == Role.ACCOUNTANT
    # An operator user cannot be turned into partner staff from the form.
    wrong = client.post(url, {"email": "", "role": Role.PARTNER_ADMIN})
    assert wrong.status_code == 200 and "Select a valid choice" in wrong.content.decode()

    toggle = reverse("web:user_toggle", kwargs={"user_id": target.pk})
    assert client.get(toggle).status_code == 405
    response = client.post(toggle, follow=True)
    assert "is disabled" in response.content.decode()
    target.refresh_from_db()
    assert not target.is_active
    assert not Client().login(username="support", password=DEMO_PASSWORD)
    assert AuditEvent.objects.filter(action="user.updated", object_id=str(target.pk)).count() == 2
    client.post(toggle)
    target.refresh_from_db()
    assert target.is_active


def test_nobody_disables_themselves(demo):
    client = signed_in("admin")
    me = User.objects.get(username="admin")
    page = client.get(reverse("web:user_edit", kwargs={"user_id": me.pk})).content.decode()
    assert "Disable user" not in page and 'name="role"' not in page
    response = client.post(reverse("web:user_toggle", kwargs={"user_id": me.pk}), follow=True)
    assert "cannot disable your own account" in response.content.decode()
    me.refresh_from_db()
    assert me.is_active


def test_partner_admin_manages_only_its_own_users(demo):
    staff = User.objects.create(
        username="cityhelper",
        role=Role.PARTNER_STAFF,
        partner=citynet(),
        password=make_password(DEMO_PASSWORD),
    )
    client = signed_in("citynet")
    html = client.get(reverse("web:users")).content.decode()
    assert ">citynet</a>" in html and ">cityhelper</a>" in html
    assert ">admin</a>" not in html and ">alpenfunk</a>" not in html
    assert 'name="partner"' not in html  # no partner filter in a partner's panel
    for other in ("admin", "alpenfunk", "customer"):
        pk = User.objects.get(username=other).pk
        assert client.get(reverse("web:user_edit", kwargs={"user_id": pk})).status_code == 404
        assert client.post(reverse("web:user_toggle", kwargs={"user_id": pk})).status_code == 404
    assert User.objects.get(username="alpenfunk").is_active

    url = reverse("web:user_new")
    form = client.get(url).content.decode()
    assert 'value="admin"' not in form and 'name="partner"' not in form
    before = User.objects.count()
    # An operator role is not offered and refused when posted anyway.
    refused = client.post(url, create_form(username="evil", role=Role.ADMIN))
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    # Another partner's customer is unknown here.
    other_customer = Customer.objects.filter(partner=alpenfunk()).first()
    refused = client.post(
        url,
        create_form(username="evil2", role=Role.CUSTOMER, customer=other_customer.reference),
    )
    assert refused.status_code == 200 and "No customer has this number" in refused.content.decode()
    assert User.objects.count() == before
    # A partner named in the request is ignored: the user is always the panel's partner's.
    made = client.post(
        url,
        create_form(username="cityhelper2", role=Role.PARTNER_STAFF, partner=str(alpenfunk().pk)),
    )
    assert made.status_code == 302
    assert User.objects.get(username="cityhelper2").partner_id == citynet().pk
    # Partner staff have no users screen.
    staff_client = Client()
    staff_client.force_login(staff)
    assert staff_client.get(reverse("web:users")).status_code == 403


def test_services_refuse_what_a_partner_scope_may_not_do(demo):
    city_admin = User.objects.get(username="citynet")
    other_admin = User.objects.get(username="alpenfunk")
    with partner_scope(citynet().pk):
        with pytest.raises(NotAllowed):
            user_create(username="evil", role=Role.ADMIN, actor=city_admin)
        with pytest.raises(DomainValidationError) as exc:
            user_create(
                username="evil", role=Role.PARTNER_STAFF, partner=alpenfunk(), actor=city_admin
            )
        assert "partner_id" in exc.value.fields
        with pytest.raises(NotAllowed):
            user_update(user=other_admin, is_active=False, actor=city_admin)
        helper = user_create(
            username="ok", role=Role.PARTNER_STAFF, partner=citynet(), actor=city_admin
        )
        with pytest.raises(NotAllowed):
            user_update(user=helper, role=Role.SUPPORT, actor=city_admin)
    # A partner user as actor is narrowed to its partner even outside a request scope.
    with pytest.raises(DomainValidationError):
        user_create(username="evil", role=Role.PARTNER_STAFF, partner=alpenfunk(), actor=city_admin)
    assert not User.objects.filter(username="evil").exists()
    other_admin.refresh_from_db()
    assert other_admin.is_active
