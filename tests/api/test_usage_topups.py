"""POST/GET /services/{id}/topups and the tariff's top-up, alert and rollover settings through
the API (docs/usage.md, docs/api.md)."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine

from ispbill.accounts.models import Role
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import PartnerMode
from ispbill.radius.models import RadiusCredential, UsageDay, UsageTopUp
from tests.api.conftest import api_for, make_user
from tests.billing.builders import tax
from tests.factories import PartnerFactory
from tests.radius.builders import internet_customer

pytestmark = pytest.mark.django_db
GB = 10**9


def _capped(username: str, **kw):  # type: ignore[no-untyped-def]
    c, s, cred = internet_customer(username, **kw)
    t = s.tariff
    t.included_gb, t.cap_action = 50, "block"
    t.topup_gb, t.topup_price_minor = 10, 500
    t.save()
    return c, s, cred


@time_machine.travel(date(2026, 4, 20), tick=False)
def test_buy_a_top_up_lifts_the_block(home):
    c, s, cred = _capped("jane")
    UsageDay.objects.create(
        partner=home, customer=c, service=s, day=date(2026, 4, 3), bytes_out=55 * GB
    )
    cred.capped, cred.capped_month = "block", date(2026, 4, 1)
    cred.save()
    api = api_for(make_user("ops", Role.ADMIN))
    got = api.post(f"/services/{s.pk}/topups", {"packs": 1})
    assert got.status == 201, got.body
    assert got.body["gigabytes"] == 10 and got.body["packs"] == 1
    assert got.body["net"]["amount"] == "5.00"
    assert got.body["cap_lifted"] is True and got.body["invoice_id"] is None
    assert got.body["allowance_bytes"] == 60 * GB
    assert got.body["month"] == "2026-04-01" and got.body["channel"] == "api"
    cred.refresh_from_db()
    assert cred.capped == ""
    usage = api.get(f"/services/{s.pk}/usage")
    assert usage.body["allowance_bytes"] == 60 * GB and usage.body["topup_gb"] == 10
    listed = api.get(f"/services/{s.pk}/topups")
    assert listed.status == 200 and [t["gigabytes"] for t in listed.body] == [10]


@time_machine.travel(date(2026, 4, 20), tick=False)
def test_invoice_now_and_refusals(home):
    _c, s, _cred = _capped("jane")
    api = api_for(make_user("ops", Role.ADMIN))
    got = api.post(f"/services/{s.pk}/topups", {"packs": 2, "invoice_now": True})
    assert got.status == 201, got.body
    invoice = Invoice.objects.get(pk=got.body["invoice_id"])
    assert (invoice.net_minor, invoice.tax_minor) == (1000, 190)
    # The same Idempotency-Key again: the first answer, nothing bought twice.
    again = api.post(
        f"/services/{s.pk}/topups",
        {"packs": 2, "invoice_now": True},
        key="topup-1",
    )
    replay = api.post(
        f"/services/{s.pk}/topups",
        {"packs": 2, "invoice_now": True},
        key="topup-1",
    )
    assert again.status == replay.status == 201 and again.body == replay.body
    assert UsageTopUp.objects.count() == 2
    assert api.post(f"/services/{s.pk}/topups", {"packs": 0}).status == 422
    assert api.post(f"/services/{s.pk}/topups", {"packs": 101}).status == 422
    _c2, plain, _ = internet_customer("joe")
    refused = api.post(f"/services/{plain.pk}/topups", {"packs": 1})
    assert refused.status == 422 and refused.body["code"] == "topup"
    assert UsageTopUp.objects.count() == 2


@time_machine.travel(date(2026, 4, 20), tick=False)
def test_a_partner_tops_up_only_its_own_customers(home):
    reseller = PartnerFactory(mode=PartnerMode.PERCENTAGE)
    _c, own, _ = _capped("joe", partner=reseller)
    _c2, foreign, _ = _capped("jane")
    api = api_for(make_user("resel", Role.PARTNER_ADMIN, partner=reseller))
    assert api.post(f"/services/{own.pk}/topups", {"packs": 1}).status == 201
    assert api.post(f"/services/{foreign.pk}/topups", {"packs": 1}).status == 404
    assert api.get(f"/services/{foreign.pk}/topups").status == 404
    assert list(UsageTopUp.objects.values_list("service_id", flat=True)) == [own.pk]
    # An accountant reads but buys nothing.
    reader = api_for(make_user("acc", Role.ACCOUNTANT))
    assert reader.post(f"/services/{own.pk}/topups", {"packs": 1}).status == 403
    assert RadiusCredential.objects.count() == 2


def test_tariff_top_up_alerts_and_rollover_through_the_api(home):
    api = api_for(make_user("ops", Role.ADMIN))
    created = api.post(
        "/tariffs",
        {
            "name": "Capped 50",
            "price": "25.00",
            "tax_rate_id": tax(home).pk,
            "download_kbps": 50000,
            "upload_kbps": 10000,
            "included_gb": 50,
            "cap_action": "throttle",
            "throttle_download_kbps": 1000,
            "throttle_upload_kbps": 500,
            "topup_gb": 10,
            "topup_price": "5.00",
            "usage_alerts": "100,80",
            "rollover": True,
        },
    )
    assert created.status == 201, created.body
    body = created.body
    assert (body["topup_gb"], body["topup_price"]["amount"]) == (10, "5.00")
    assert (body["usage_alerts"], body["rollover"]) == ("80,100", True)
    tid = body["id"]
    assert api.patch(f"/tariffs/{tid}", {"usage_alerts": "eighty"}).status == 422
    assert api.patch(f"/tariffs/{tid}", {"topup_price": "-1"}).status == 422
    off = api.patch(f"/tariffs/{tid}", {"topup_gb": 0, "usage_alerts": ""})
    assert off.status == 200, off.body
    assert (off.body["topup_gb"], off.body["topup_price"], off.body["usage_alerts"]) == (
        None,
        None,
        "",
    )
