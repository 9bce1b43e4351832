"""GET /services/{id}/usage and the tariff's usage rule through the API (docs/usage.md)."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine

from ispbill.accounts.models import Role
from ispbill.radius.models import UsageDay
from tests.api.conftest import api_for, make_user
from tests.billing.builders import tax
from tests.factories import PartnerFactory
from tests.radius.builders import internet_customer

pytestmark = pytest.mark.django_db


@time_machine.travel(date(2026, 4, 20), tick=False)
def test_service_usage_this_month(home):
    _c, s, _cred = internet_customer("jane")
    s.tariff.included_gb = 10
    s.tariff.save()
    UsageDay.objects.create(
        partner=home, customer=s.customer, service=s, day=date(2026, 4, 3), bytes_in=1, bytes_out=2
    )
    UsageDay.objects.create(
        partner=home, customer=s.customer, service=s, day=date(2026, 3, 31), bytes_out=99
    )
    api = api_for(make_user("ops", Role.ADMIN))
    got = api.get(f"/services/{s.pk}/usage")
    assert got.status == 200, got.body
    assert got.body["used_bytes"] == 3
    assert got.body["included_gb"] == 10
    assert got.body["start"] == "2026-04-01" and got.body["end"] == "2026-04-30"
    assert got.body["days"] == [{"day": "2026-04-03", "bytes_in": 1, "bytes_out": 2}]

    other = PartnerFactory()
    outsider = api_for(make_user("resel", Role.PARTNER_ADMIN, partner=other))
    assert outsider.get(f"/services/{s.pk}/usage").status == 404


def test_tariff_usage_rule_through_the_api(home):
    api = api_for(make_user("ops", Role.ADMIN))
    created = api.post(
        "/tariffs",
        {
            "name": "Capped 100",
            "price": "25.00",
            "tax_rate_id": tax(home).pk,
            "download_kbps": 100000,
            "upload_kbps": 20000,
            "included_gb": 100,
            "cap_action": "throttle",
            "throttle_download_kbps": 1000,
            "throttle_upload_kbps": 500,
            "overage_price": "2.00",
        },
    )
    assert created.status == 201, created.body
    assert created.body["included_gb"] == 100
    assert created.body["cap_action"] == "throttle"
    assert created.body["overage_price"]["amount"] == "2.00"
    bad = api.patch(f"/tariffs/{created.body['id']}", {"throttle_download_kbps": 0})
    assert bad.status == 422
    ok = api.patch(f"/tariffs/{created.body['id']}", {"cap_action": "block"})
    assert ok.status == 200 and ok.body["cap_action"] == "block"
