"""Adding a service to a customer from its page (the form posts, the service exists)."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from ispbill.catalog.models import Tariff
from ispbill.customers.models import Customer
from ispbill.demo import DEMO_PASSWORD, demo_load
from ispbill.partners.models import Partner
from ispbill.subscriptions.models import Service

pytestmark = pytest.mark.django_db


def test_operator_adds_a_service_with_a_discount_and_sees_field_errors():
    demo_load()
    client = Client()
    assert client.login(username="admin", password=DEMO_PASSWORD)
    home = Partner.objects.get(is_home=True)
    customer = Customer.objects.filter(partner=home).order_by("pk").first()
    assert customer is not None
    tariff = Tariff.objects.filter(partner=home, is_active=True).order_by("pk").first()
    assert tariff is not None
    url = reverse("web:service_new", kwargs={"customer_id": customer.pk})
    assert client.get(url).status_code == 200
    before = Service.objects.filter(customer=customer).count()

    bad = client.post(url, {"tariff": tariff.pk, "start_date": "", "quantity": 0})
    assert bad.status_code == 200
    assert Service.objects.filter(customer=customer).count() == before

    response = client.post(
        url,
        {
            "tariff": tariff.pk,
            "start_date": "2026-06-01",
            "quantity": 2,
            "description": "Office line",
            "price_override": "",
            "discount_percent": "10",
            "discount_until": "2026-08-31",
        },
    )
    assert response.status_code == 302
    service = Service.objects.get(customer=customer, description="Office line")
    assert (service.tariff_id, service.start_date, service.quantity) == (
        tariff.pk,
        date(2026, 6, 1),
        2,
    )
    assert service.discount_bp == 1000 and service.discount_until == date(2026, 8, 31)
