import pytest
from django.urls import reverse

from ispbill.accounts.models import Role, User
from ispbill.demo import DEMO_PASSWORD, demo_load

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("web:home"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_login_then_home_lists_partners_and_customers(client):
    demo_load()
    assert client.login(username="admin", password=DEMO_PASSWORD)
    response = client.get(reverse("web:home"))
    html = response.content.decode()
    assert response.status_code == 200
    for name in ("Main", "CityNet Resellers", "Alpenfunk", "WISP Verbund"):
        assert name in html
    assert "150 customers" in html or "customers" in html


def test_home_search_filters_customers(client):
    demo_load()
    client.login(username="admin", password=DEMO_PASSWORD)
    from ispbill.customers.models import Customer

    target = Customer.objects.order_by("id")[5]
    html = client.get(reverse("web:home"), {"q": target.reference}).content.decode()
    assert target.name in html
    assert "1 customers" in html


def test_partner_user_sees_only_its_partner(client):
    demo_load()
    client.login(username="citynet", password=DEMO_PASSWORD)
    html = client.get(reverse("web:home")).content.decode()
    assert "CityNet Resellers" in html
    assert "Alpenfunk" not in html
    assert User.objects.get(username="citynet").role == Role.PARTNER_ADMIN


def test_health_is_public(client):
    assert client.get("/health/").json() == {"status": "ok"}
