"""Which tariffs a partner offers and may sell: one rule (ispbill.catalog.selectors), asked
by the web service form, the web and API tariff lists and the service API alike
(docs/domain.md, "Catalog").

The world: the operator's tariffs Shared (made available to reseller A), Private (to
nobody) and Withdrawn (available to A, no longer sold); reseller B's own tariff Own-B, which
B marked available to A (only operator tariffs are shared: A must not see it)."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from ispbill.accounts.models import Role, User
from ispbill.catalog.selectors import tariff_sellable, tariffs_offered, tariffs_sellable
from ispbill.partners.models import PartnerMode
from ispbill.subscriptions.models import Service
from tests.factories import CustomerFactory, PartnerFactory, TariffFactory, home_partner

pytestmark = pytest.mark.django_db
PASSWORD = "tariff rule 24"


@pytest.fixture
def world():
    home = home_partner()
    a = PartnerFactory(name="Reseller A", mode=PartnerMode.PERCENTAGE)
    b = PartnerFactory(name="Reseller B", mode=PartnerMode.OWN_INVOICING)
    shared = TariffFactory(name="Shared")
    shared.available_to.set([a])
    private = TariffFactory(name="Private")
    withdrawn = TariffFactory(name="Withdrawn", is_active=False)
    withdrawn.available_to.set([a])
    own_b = TariffFactory(name="Own-B", partner=b)
    own_b.available_to.set([a])
    customer = CustomerFactory(partner=a)
    staff = User.objects.create(username="a-staff", role=Role.PARTNER_ADMIN, partner=a)
    staff.set_password(PASSWORD)
    staff.save()
    return {
        "home": home,
        "a": a,
        "b": b,
        "shared": shared,
        "private": private,
        "withdrawn": withdrawn,
        "own_b": own_b,
        "customer": customer,
    }


def names(qs) -> set[str]:
    return {t.name for t in qs}


def test_the_rule(world):
    a, b, home = world["a"], world["b"], world["home"]
    assert names(tariffs_offered(partner_ids=[a.pk])) == {"Shared", "Withdrawn"}
    assert names(tariffs_sellable(partner=a)) == {"Shared"}
    assert names(tariffs_sellable(partner=b)) == {"Own-B"}
    assert names(tariffs_sellable(partner=home)) == {"Shared", "Private"}
    customer = world["customer"]
    assert tariff_sellable(customer=customer, tariff_id=world["shared"].pk) == world["shared"]
    assert tariff_sellable(customer=customer, tariff_id=world["private"].pk) is None
    assert tariff_sellable(customer=customer, tariff_id=world["own_b"].pk) is None
    # Withdrawn is A's (its services name it), so the service refuses it with its message.
    assert tariff_sellable(customer=customer, tariff_id=world["withdrawn"].pk) is not None


def _client() -> Client:
    client = Client()
    assert client.login(username="a-staff", password=PASSWORD)
    return client


def test_the_web_service_form_offers_what_the_partner_may_sell(world):
    client = _client()
    customer = world["customer"]
    url = reverse("web:service_new", kwargs={"customer_id": customer.pk})
    form = client.get(url).content.decode()
    assert "Shared" in form
    assert "Private" not in form and "Own-B" not in form and "Withdrawn" not in form

    refused = client.post(url, {"tariff": world["own_b"].pk, "start_date": "2026-06-01"})
    assert refused.status_code == 200
    assert not Service.objects.filter(customer=customer).exists()

    done = client.post(
        url, {"tariff": world["shared"].pk, "start_date": "2026-06-01", "quantity": 1}
    )
    assert done.status_code == 302
    service = Service.objects.get(customer=customer)
    assert (service.tariff_id, service.start_date) == (world["shared"].pk, date(2026, 6, 1))


def test_the_web_and_api_tariff_lists_agree(world):
    client = _client()
    page = client.get(reverse("web:tariffs")).content.decode()
    assert "Shared" in page and "Withdrawn" in page
    assert "Own-B" not in page and "Private" not in page
    listed = client.get("/api/v1/tariffs", {"limit": 100}).json()["items"]
    assert {t["name"] for t in listed} == {"Shared", "Withdrawn"}
