"""Audit log (sign-ins, browsing, partner isolation) and "view as partner"."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from ispbill.accounts.models import Role, User
from ispbill.core.audit import audit_record
from ispbill.core.models import AuditEvent
from ispbill.customers.models import Customer
from ispbill.partners.models import Partner, PartnerMode

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery"


@pytest.fixture
def people():
    a = Partner.objects.create(name="Alpha Net", mode=PartnerMode.OWN_INVOICING)
    b = Partner.objects.create(name="Beta Net", mode=PartnerMode.PERCENTAGE)
    Customer.objects.create(partner=a, reference="A-1", name="Alice Alpha")
    Customer.objects.create(partner=b, reference="B-1", name="Bob Beta")
    users = {
        "admin": User.objects.create(username="root", role=Role.ADMIN),
        "support": User.objects.create(username="help", role=Role.SUPPORT),
        "a_admin": User.objects.create(username="alpha", role=Role.PARTNER_ADMIN, partner=a),
        "a_staff": User.objects.create(username="alpha2", role=Role.PARTNER_STAFF, partner=a),
    }
    for user in users.values():
        user.set_password(PASSWORD)
        user.save()
    return a, b, users


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_login_logout_and_failed_login_are_recorded(people):
    client = Client()
    client.post(reverse("login"), {"username": "alpha", "password": "wrong"})
    client.post(reverse("login"), {"username": "nobody", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "alpha", "password": PASSWORD})
    assert response.status_code == 302
    client.post(reverse("logout"))
    events = list(AuditEvent.objects.order_by("id").values_list("action", "actor_label"))
    assert events == [
        ("auth.login_failed", "alpha"),
        ("auth.login_failed", "nobody"),
        ("auth.login", "alpha"),
        ("auth.logout", "alpha"),
    ]
    alpha_events = AuditEvent.objects.filter(partner=people[0])
    assert alpha_events.count() == 3
    assert all(e.remote_addr == "127.0.0.1" for e in alpha_events)
    assert PASSWORD not in str(list(AuditEvent.objects.values_list("changes", flat=True)))


def test_operator_browses_and_filters_the_audit_log(people):
    a, b, users = people
    for i in range(60):
        audit_record(action="customer.update", obj=a, actor=users["a_admin"], changes={"i": i})
    audit_record(action="invoice.issue", obj=b, actor="system")
    client = _client(users["admin"])
    html = client.get(reverse("web:audit_log")).content.decode()
    assert "invoice.issue" in html and "Page 1 of 2" in html
    html = client.get(reverse("web:audit_log"), {"partner": b.pk}).content.decode()
    assert "invoice.issue" in html and "customer.update" not in html.split("<tbody>")[1]
    html = client.get(reverse("web:audit_log"), {"action": "customer", "page": 2}).content.decode()
    assert "Page 2 of 2" in html
    html = client.get(reverse("web:audit_log"), {"actor": "system"}).content.decode()
    assert "1 events" in html
    html = client.get(reverse("web:audit_log"), {"since": "2000-01-01", "until": "2000-01-02"})
    assert "0 events" in html.content.decode()


def test_partner_admin_sees_only_its_partners_events(people):
    a, b, users = people
    audit_record(action="own.thing", obj=a, actor="x")
    audit_record(action="beta.secret", obj=b, actor="y")
    audit_record(action="operator.thing", obj=users["admin"], actor="z")
    html = _client(users["a_admin"]).get(reverse("web:audit_log"), {"partner": b.pk}).content
    assert b"own.thing" in html
    assert b"beta.secret" not in html and b"operator.thing" not in html
    assert b"Beta Net" not in html


@pytest.mark.parametrize("role", ["support", "a_staff"])
def test_roles_without_audit_read_are_refused(people, role):
    assert _client(people[2][role]).get(reverse("web:audit_log")).status_code == 403


def test_view_as_partner_is_logged_scoped_and_shown(people):
    a, _b, users = people
    client = _client(users["admin"])
    response = client.post(reverse("web:view_as_start", kwargs={"partner_id": a.pk}))
    assert response.status_code == 302
    html = client.get(reverse("web:customers")).content.decode()
    assert "Viewing as Alpha Net" in html and "Stop viewing as Alpha Net" in html
    assert "Alice Alpha" in html and "Bob Beta" not in html
    me = client.get("/api/v1/me").json()
    assert me["impersonating"] is True and me["partner_id"] == a.pk
    assert me["role"] == "partner_admin" and "impersonate" not in me["capabilities"]
    # While viewing as a partner, operator-only screens are closed.
    assert client.get(reverse("web:view_as_list")).status_code == 403
    client.post(reverse("web:view_as_stop"))
    html = client.get(reverse("web:customers")).content.decode()
    assert "Viewing as" not in html and "Bob Beta" in html
    actions = list(
        AuditEvent.objects.filter(action__startswith="impersonation")
        .order_by("id")
        .values_list("action", "actor_label", "partner_id")
    )
    assert actions == [
        ("impersonation.start", "root", a.pk),
        ("impersonation.stop", "root", a.pk),
    ]


def test_only_operator_administrators_may_view_as(people):
    a, _b, users = people
    for role in ("support", "a_admin"):
        client = _client(users[role])
        url = reverse("web:view_as_start", kwargs={"partner_id": a.pk})
        assert client.post(url).status_code == 403
    assert not AuditEvent.objects.filter(action="impersonation.start").exists()


def test_view_as_the_home_partner_or_a_missing_one_is_404(people):
    client = _client(people[2]["admin"])
    home = Partner.objects.get(is_home=True)
    for partner_id in (home.pk, 99999):
        url = reverse("web:view_as_start", kwargs={"partner_id": partner_id})
        assert client.post(url).status_code == 404


def test_a_view_as_session_is_ignored_for_non_administrators(people):
    a, _b, users = people
    client = _client(users["support"])
    session = client.session
    session["ispbill_view_as_partner"] = a.pk
    session.save()
    me = client.get("/api/v1/me").json()
    assert me["role"] == "support" and me["impersonating"] is False
