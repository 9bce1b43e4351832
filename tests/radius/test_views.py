"""The RADIUS screens: a customer's network page, a service's credential, NAS and policy."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client
from django.urls import reverse

from ispbill.accounts.models import Role, User
from ispbill.radius.models import Nas, RadiusCredential, RadiusPolicy
from tests.radius.builders import attrs, internet_customer, live_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    user = User.objects.create(
        username="radmin", role=Role.ADMIN, is_staff=True, password=make_password(None)
    )
    client = Client()
    client.force_login(user)
    return client


def test_customer_network_page_shows_rows_sessions_and_traffic(home, admin_client):
    c, _s, _cred = internet_customer("jane")
    live_session("jane", nas_ip="192.0.2.1", session="S9")
    response = admin_client.get(reverse("web:radius_customer", kwargs={"customer_id": c.pk}))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Mikrotik-Rate-Limit" in body and "10000k/50000k" in body
    assert "pw-jane" not in body  # passwords are masked
    assert "online" in body and "100.64.0.7" in body


def test_credential_form_creates_and_provisions(home, admin_client):
    from datetime import date

    from tests.billing.builders import customer, service, tariff

    c = customer()
    s = service(c, tariff(kind="internet", download_kbps=8000, upload_kbps=2000), date(2026, 4, 1))
    url = reverse("web:radius_service_credential", kwargs={"service_id": s.pk})
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"kind": "pppoe", "username": "bob", "password": ""})
    assert response.status_code == 200 and "needs a password" in response.content.decode()
    response = admin_client.post(url, {"kind": "pppoe", "username": "bob", "password": "pw"})
    assert response.status_code == 302
    assert RadiusCredential.objects.get(service=s).username == "bob"
    assert attrs("bob")["Mikrotik-Rate-Limit"] == "2000k/8000k"


def test_nas_and_policy_screens(home, admin_client):
    url = reverse("web:radius_nas_list")
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(
        url,
        {
            "name": "bras1",
            "address": "192.0.2.10",
            "secret": "s",
            "coa_port": 3799,
            "type": "mikrotik",
        },
    )
    assert response.status_code == 302
    nas = Nas.objects.get(name="bras1")
    edit = reverse("web:radius_nas_edit", kwargs={"nas_id": nas.pk})
    assert admin_client.get(edit).status_code == 200
    response = admin_client.post(
        reverse("web:radius_policy"),
        {"blocked": "pool", "blocked_group": "blocked", "blocked_pool": "unpaid"},
    )
    assert response.status_code == 302
    assert RadiusPolicy.objects.get(pk=1).blocked_pool == "unpaid"
    admin_client.post(reverse("web:radius_nas_delete", kwargs={"nas_id": nas.pk}))
    assert not Nas.objects.exists()
