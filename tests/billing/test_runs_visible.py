"""Which billing runs and commission statements a user may see: one selector each
(billing.selectors.billing_runs_visible, commission.selectors.commission_statements_visible),
asked by the web and the API alike. Operator staff see all; a partner's staff only its
own; a customer's portal none."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client
from django.urls import reverse
from django_scopes import scope

from ispbill.accounts.models import Role, User
from ispbill.billing.models import BillingRun
from ispbill.billing.selectors import billing_runs_visible
from ispbill.commission.selectors import commission_statements_visible
from ispbill.partners.models import CommissionStatement, PartnerMode
from tests.factories import CustomerFactory, PartnerFactory

pytestmark = pytest.mark.django_db
PASSWORD = "runs rule 24"


@pytest.fixture
def world():
    a = PartnerFactory(name="Reseller A", mode=PartnerMode.OWN_INVOICING)
    b = PartnerFactory(name="Reseller B", mode=PartnerMode.OWN_INVOICING)
    runs = {
        "operator": BillingRun.objects.create(run_date=date(2026, 3, 1)),
        "a": BillingRun.objects.create(run_date=date(2026, 3, 2), scope_partner=a),
        "b": BillingRun.objects.create(run_date=date(2026, 3, 3), scope_partner=b),
    }
    statements = {
        key: CommissionStatement.objects.create(
            partner=p, period_start=date(2026, 2, 1), period_end=date(2026, 2, 28), currency="EUR"
        )
        for key, p in (("a", a), ("b", b))
    }
    staff = User.objects.create(username="a-admin", role=Role.PARTNER_ADMIN, partner=a)
    staff.set_password(PASSWORD)
    staff.save()
    return {"a": a, "b": b, "runs": runs, "statements": statements}


def test_the_selectors_follow_the_scope(world):
    a, runs, statements = world["a"], world["runs"], world["statements"]
    assert set(billing_runs_visible()) == set(runs.values())  # tests run in the operator's
    assert set(commission_statements_visible()) == set(statements.values())
    with scope(partner=a.pk, customer=None, account=()):
        assert list(billing_runs_visible()) == [runs["a"]]
        assert list(commission_statements_visible()) == [statements["a"]]
    customer = CustomerFactory(partner=a)
    with scope(partner=a.pk, customer=customer.pk, account=()):
        assert not billing_runs_visible().exists()
        assert not commission_statements_visible().exists()


def test_web_and_api_show_a_partner_the_same_runs(world):
    client = Client()
    assert client.login(username="a-admin", password=PASSWORD)
    runs = world["runs"]
    api = client.get("/api/v1/billing-runs", {"limit": 100}).json()["items"]
    assert [r["id"] for r in api] == [runs["a"].pk]
    mine = reverse("web:billing_run", kwargs={"run_id": runs["a"].pk})
    assert client.get(mine).status_code == 200
    for other in (runs["operator"], runs["b"]):
        assert client.get(f"/api/v1/billing-runs/{other.pk}").status_code == 404
        url = reverse("web:billing_run", kwargs={"run_id": other.pk})
        assert client.get(url).status_code == 404
