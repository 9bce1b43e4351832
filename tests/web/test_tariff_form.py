"""The tariff form: bad input is a form error, never a server error, and nothing is written."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from ispbill.accounts.models import Role, User
from ispbill.catalog.models import Tariff
from ispbill.partners.models import PartnerMode
from tests.billing.builders import tariff, tax
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(home) -> Client:  # type: ignore[no-untyped-def]
    User.objects.create_user(username="ops", password="a-long-test-password", role=Role.ADMIN)
    client = Client()
    assert client.login(username="ops", password="a-long-test-password")
    return client


def _post(reseller_ids: list[str], home) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "name": "Fiber 25",
        "kind": "internet",
        "tax_rate": tax(home).pk,
        "period_months": 1,
        "download_kbps": 25000,
        "upload_kbps": 5000,
        "price": "29.90",
        "available_to": reseller_ids,
        "is_active": "on",
    }


@pytest.mark.parametrize(
    "bad", ["1" * 25, "9223372036854775808", "-9223372036854775809", "12abc", "1e3"]
)
@pytest.mark.parametrize("page", ["new", "edit"])
def test_a_reseller_id_out_of_range_is_a_form_error(admin_client, home, bad, page):  # type: ignore[no-untyped-def]
    """A 25-digit reseller id overflowed the database's integer (HTTP 500, OverflowError on
    SQLite); it is an invalid choice like any id that names no reseller."""
    reseller = PartnerFactory(mode=PartnerMode.PERCENTAGE)
    existing = tariff(home, price=1990)
    url = (
        reverse("web:tariff_new")
        if page == "new"
        else reverse("web:tariff_edit", kwargs={"tariff_id": existing.pk})
    )
    before = list(Tariff.objects.order_by("pk").values())
    response = admin_client.post(url, _post([str(reseller.pk), bad], home))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["available_to"]
    assert "valid" in str(errors["available_to"])
    assert list(Tariff.objects.order_by("pk").values()) == before


def test_a_good_reseller_list_saves(admin_client, home):  # type: ignore[no-untyped-def]
    reseller = PartnerFactory(mode=PartnerMode.PERCENTAGE)
    response = admin_client.post(reverse("web:tariff_new"), _post([str(reseller.pk)], home))
    assert response.status_code == 302
    created = Tariff.objects.get(name="Fiber 25")
    assert created.price_minor == 2990
    assert list(created.available_to.values_list("pk", flat=True)) == [reseller.pk]


def test_a_price_raise_past_a_services_line_limit_is_a_form_error(admin_client, home):  # type: ignore[no-untyped-def]
    """A service of quantity 1,000 on the tariff: 10,000,000.00 EUR is the largest price
    (x 1,000 = 10,000,000,000.00, the line limit); 10,000,000.01 is a form error beside the
    price, nothing saved."""
    from datetime import date

    from ispbill.core.models import AuditEvent
    from tests.billing.builders import customer, service

    existing = tariff(home, price=1990)
    service(customer(), existing, date(2026, 4, 1), quantity=1000)
    url = reverse("web:tariff_edit", kwargs={"tariff_id": existing.pk})
    post = {**_post([], home), "name": existing.name, "tax_rate": existing.tax_rate_id}
    events = AuditEvent.objects.count()
    response = admin_client.post(url, {**post, "price": "10000000.01"})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["price"] and "quantity 1,000" in str(errors["price"])
    existing.refresh_from_db()
    assert existing.price_minor == 1990 and AuditEvent.objects.count() == events
    assert admin_client.post(url, {**post, "price": "10000000.00"}).status_code == 302
    existing.refresh_from_db()
    assert existing.price_minor == 1_000_000_000
