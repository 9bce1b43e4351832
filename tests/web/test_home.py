import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("web:home"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_health_is_public(client):
    assert client.get("/health/").json() == {"status": "ok"}
