"""The customer portal: the provider by its legal name (never "Main"), its bank details and
payment QR code, an invoice page of the customer's own invoices only, a password change for
every user (audited, the session kept), and no API tokens for customers."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from ispbill.accounts.models import Role, User
from ispbill.billing.run import billing_run_start
from ispbill.core.models import AuditEvent
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import PartnerMode
from tests.factories import CustomerFactory, PartnerFactory, ServiceFactory, TariffFactory

pytestmark = pytest.mark.django_db


def _portal_client(customer) -> Client:
    client = Client()
    user = User.objects.create(
        username=f"portal-{customer.pk}",
        role=Role.CUSTOMER,
        partner_id=customer.partner_id,
        customer=customer,
    )
    user.set_password("old-Passw0rd!")
    user.save()
    client.force_login(user)
    return client


@pytest.fixture
def billed(home):
    home.name, home.legal_name = "Main", "Nordnetz Breitband GmbH"
    home.iban, home.bic = "DE89370400440532013000", "COBADEFF"
    home.save()
    own = PartnerFactory(
        name="Alp", legal_name="Alpenfunk Internet GmbH", mode=PartnerMode.OWN_INVOICING
    )
    own.iban = "DE02120300000000202051"
    own.save()
    mine = CustomerFactory(partner=home, reference="K-1")
    ServiceFactory(customer=mine, tariff=TariffFactory(price_minor=3000))
    theirs = CustomerFactory(partner=own, reference="A-1")
    ServiceFactory(
        customer=theirs, tariff=TariffFactory(partner=own, price_minor=2000), partner=own
    )
    billing_run_start(run_date=date(2026, 1, 1))
    return home, own, mine, theirs


def test_home_names_the_issuer_and_shows_how_to_pay(billed):
    _, _, mine, theirs = billed
    invoice = Invoice.objects.get(customer=mine)  # 30.00 + 19 % = 35.70
    page = _portal_client(mine).get(reverse("web:portal")).content.decode()
    assert "your provider: Nordnetz Breitband GmbH" in page
    assert '<span class="brand-name">Nordnetz Breitband GmbH</span>' in page
    text = re.sub(r"<[^>]+>", " ", page)  # what the page shows
    assert not re.search(r"\bMain\b", text)  # the home partner's internal name
    assert "DE89 3704 0044 0532 0130 00" in page and "COBADEFF" in page
    assert "€35.70" in page and f"K-1 {invoice.number}" in page  # amount and reference
    assert 'src="data:image/svg+xml;base64,' in page  # the Girocode
    assert "API tokens" not in page and reverse("web:password_change") in page

    # An own-invoicing partner's customer pays that partner.
    page = _portal_client(theirs).get(reverse("web:portal")).content.decode()
    assert "your provider: Alpenfunk Internet GmbH" in page
    assert "DE02 1203 0000 0000 2020 51" in page and "Nordnetz" not in page


def test_invoice_page_for_the_customers_own_invoices_only(billed):
    _, _, mine, theirs = billed
    own_invoice = Invoice.objects.get(customer=mine)
    foreign = Invoice.objects.get(customer=theirs)
    client = _portal_client(mine)
    page = client.get(reverse("web:portal_invoice", kwargs={"invoice_id": own_invoice.pk}))
    assert page.status_code == 200 and own_invoice.number in page.content.decode()
    assert "From Nordnetz Breitband GmbH" in page.content.decode()
    url = reverse("web:portal_invoice", kwargs={"invoice_id": foreign.pk})
    assert client.get(url).status_code == 404


def test_customers_have_no_api_tokens(billed):
    _, _, mine, _ = billed
    client = _portal_client(mine)
    assert client.get(reverse("web:api_tokens")).status_code == 403


def test_password_change_checks_audits_and_keeps_the_session(billed):
    _, _, mine, _ = billed
    client = _portal_client(mine)
    url = reverse("web:password_change")
    assert client.get(url).status_code == 200
    wrong = client.post(
        url,
        {"old_password": "nope", "new_password1": "Glasfaser-2026!", "new_password2": "x"},
    )
    assert wrong.status_code == 200 and "old_password" in wrong.context["form"].errors
    assert not AuditEvent.objects.filter(action="user.password_changed").exists()
    done = client.post(
        url,
        {
            "old_password": "old-Passw0rd!",
            "new_password1": "Glasfaser-2026!",
            "new_password2": "Glasfaser-2026!",
        },
    )
    assert done.status_code == 302 and done["Location"] == url
    user = User.objects.get(customer=mine)
    assert user.check_password("Glasfaser-2026!")
    event = AuditEvent.objects.get(action="user.password_changed")
    assert "Glasfaser" not in str(event.changes) and "old-Passw0rd" not in str(event.changes)
    assert client.get(reverse("web:portal")).status_code == 200  # still signed in


def test_staff_change_their_password_too(home):
    client = Client()
    user = User.objects.create(username="ops", role=Role.ADMIN)
    user.set_password("old-Passw0rd!")
    user.save()
    client.force_login(user)
    page = client.get(reverse("web:home")).content.decode()
    assert "Change password" in page
    response = client.post(
        reverse("web:password_change"),
        {
            "old_password": "old-Passw0rd!",
            "new_password1": "Another-Passw0rd-9",
            "new_password2": "Another-Passw0rd-9",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Another-Passw0rd-9")
