"""Every form field's ``aria-describedby`` (Django writes ``<id>_helptext`` for its help
text and ``<id>_error`` for its errors) names elements that are in the page, so a screen
reader reads a field's help and errors with it. Checked on real form pages, as shown and
as posted back with errors, for the operator and a partner user."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from ispbill.customers.models import Customer
from ispbill.partners.models import Partner

from .conftest import signed_in

pytestmark = pytest.mark.django_db

IDS = re.compile(r'\sid="([^"]+)"')
DESCRIBED = re.compile(r'aria-describedby="([^"]+)"')


def _described(html: str) -> list[str]:
    """The ids the page's aria-describedby attributes name, each present in the page."""
    ids = set(IDS.findall(html))
    named = [i for value in DESCRIBED.findall(html) for i in value.split()]
    missing = sorted(set(named) - ids)
    assert not missing, missing
    return named


def test_help_and_errors_of_form_fields_are_found_by_their_ids(demo):
    home = Partner.objects.get(is_home=True)
    customer = Customer.objects.filter(partner=home).order_by("pk").first()
    admin = signed_in("admin")
    named: list[str] = []
    for url in (
        reverse("web:customer_new"),
        reverse("web:partner_edit", kwargs={"partner_id": home.pk}),
        reverse("web:tariff_new"),
        reverse("web:payment_new"),
        reverse("web:service_new", kwargs={"customer_id": customer.pk}),
    ):
        response = admin.get(url)
        assert response.status_code == 200, url
        named += _described(response.content.decode())
    # Posted back without a name: the errors are described too (an empty POST is a GET).
    response = admin.post(reverse("web:customer_new"), {"city": "Leipzig"})
    assert response.status_code == 200
    errors = _described(response.content.decode())
    assert "id_name_error" in errors
    # The partner's "E-mail invoices when issued" help, among others.
    assert "id_email_invoices_on_issue_helptext" in named
    assert any(i.endswith("_helptext") for i in named) and len(named) > 10

    partner = signed_in("alpenfunk")
    response = partner.get(reverse("web:customer_new"))
    assert response.status_code == 200
    response = partner.post(reverse("web:customer_new"), {"city": "Leipzig"})
    assert response.status_code == 200
    assert "id_name_error" in _described(response.content.decode())
