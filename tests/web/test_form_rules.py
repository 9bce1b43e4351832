"""The web forms refuse what the API and the CSV import refuse, by the same validators
(ispbill/core/validators.py): dates out of 2000-01-01..2100-12-31, payment terms over 365
days, payments dated ahead; each form posted (as its page fills it) by every role that sees
it, nothing written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from ispbill.customers.models import Customer
from ispbill.payments.models import Payment
from ispbill.subscriptions.models import Service
from tests.api.test_input_limits import _form_fields

from .conftest import signed_in

pytestmark = pytest.mark.django_db

RANGE = "Give a date between 2000-01-01 and 2100-12-31."


def _post(client, url, data):
    response = client.post(url, data)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def test_forms_refuse_what_the_api_refuses(demo):
    customers = {
        "admin": Customer.objects.filter(partner__is_home=True),
        "support": Customer.objects.filter(partner__is_home=True),
        "citynet": Customer.objects.filter(partner__name="CityNet Resellers"),
        "alpenfunk": Customer.objects.filter(partner__name="Alpenfunk"),
    }
    for username, qs in customers.items():
        client = signed_in(username)
        customer = qs.order_by("pk").first()
        # Add service: a start date in 1999 (327 catch-up invoices) is refused.
        url = reverse("web:service_new", kwargs={"customer_id": customer.pk})
        data = _form_fields(client, url, url)
        before = Service.objects.count()
        html = _post(client, url, {**data, "start_date": "1999-01-01"})
        assert RANGE in html, username
        html = _post(client, url, {**data, "start_date": "2101-01-01"})
        assert RANGE in html, username
        assert Service.objects.count() == before

        # New customer: payment terms of 999999999 days are refused (the API's 365).
        url = reverse("web:customer_new")
        data = _form_fields(client, url, url)
        if "payment_due_days" in data:
            before = Customer.objects.count()
            data = {**data, "reference": f"RULE-{username}", "name": "Rita Regel"}
            html = _post(client, url, {**data, "payment_due_days": "999999999"})
            assert "less than or equal to 365" in html, username
            html = _post(client, url, {**data, "payment_due_days": "366"})
            assert "less than or equal to 365" in html, username
            assert Customer.objects.count() == before


def test_record_payment_refuses_dates_out_of_range_and_ahead(demo):
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    for username, partner in (
        ("admin", {"partner__is_home": True}),
        ("accountant", {"partner__is_home": True}),
        ("alpenfunk", {"partner__name": "Alpenfunk"}),
    ):
        client = signed_in(username)
        url = reverse("web:payment_new")
        account = Customer.objects.filter(**partner).order_by("pk").first()
        data = {
            **_form_fields(client, url, url),
            "customer": account.pk,
            "amount": "10.00",
            "reference": f"RULE-{username}",
        }
        before = Payment.objects.count()
        assert RANGE in _post(client, url, {**data, "date": "1900-01-01"}), username
        assert "give today's date or an earlier one" in _post(
            client, url, {**data, "date": "2099-01-01"}
        ).replace("&#x27;", "'"), username
        assert "earlier one" in _post(client, url, {**data, "date": tomorrow})
        assert Payment.objects.count() == before
        ok = client.post(url, {**data, "date": timezone.localdate().isoformat()})
        assert ok.status_code == 302, (username, ok.content.decode()[-3000:])
        assert Payment.objects.count() == before + 1
