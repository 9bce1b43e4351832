"""A plan change's speeds reach FreeRADIUS's tables on the effective day, in the change's
transaction, and the live sessions get a CoA with them after the commit."""

from __future__ import annotations

from datetime import date

import pytest
from pyrad import packet

from ispbill.billing.plan_changes import plan_change_request, plan_changes_apply_due
from ispbill.radius.services import nas_create
from tests.billing.builders import tariff
from tests.radius.builders import attrs, internet_customer, live_session
from tests.radius.test_coa import nas_listener  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def test_change_today_rewrites_the_rate_limit_and_sends_a_coa(
    home,
    nas_listener,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    nas_create(name="bras1", address="127.0.0.1", secret="nas-secret", coa_port=nas_listener.port)
    _c, s, _cred = internet_customer("jane")
    live_session("jane")
    fast = tariff(price=4500, kind="internet", download_kbps=100000, upload_kbps=20000)
    assert attrs("jane")["Mikrotik-Rate-Limit"] == "10000k/50000k"
    with django_capture_on_commit_callbacks(execute=True):
        plan_change_request(
            service=s, tariff=fast, effective=date(2026, 4, 10), today=date(2026, 4, 10)
        )
    assert attrs("jane")["Mikrotik-Rate-Limit"] == "20000k/100000k"
    assert attrs("jane")["WISPr-Bandwidth-Max-Down"] == "100000000"
    assert len(nas_listener.received) == 1
    coa = nas_listener.received[0]
    assert coa.verified and coa.code == packet.CoARequest
    assert coa.attributes["Mikrotik-Rate-Limit"] == ["20000k/100000k"]
    assert coa.attributes["User-Name"] == ["jane"]


def test_scheduled_change_keeps_the_old_speeds_until_its_day(
    home, django_capture_on_commit_callbacks
):
    _c, s, _cred = internet_customer("jane")
    fast = tariff(price=4500, kind="internet", download_kbps=100000, upload_kbps=20000)
    plan_change_request(service=s, tariff=fast, effective=date(2026, 5, 1), today=date(2026, 4, 10))
    assert attrs("jane")["Mikrotik-Rate-Limit"] == "10000k/50000k"
    plan_changes_apply_due(on=date(2026, 4, 30))
    assert attrs("jane")["Mikrotik-Rate-Limit"] == "10000k/50000k"
    plan_changes_apply_due(on=date(2026, 5, 1))
    assert attrs("jane")["Mikrotik-Rate-Limit"] == "20000k/100000k"


def test_a_preview_leaves_radius_alone(home, django_capture_on_commit_callbacks):
    from ispbill.billing.plan_changes import plan_change_preview

    _c, s, _cred = internet_customer("jane")
    fast = tariff(price=4500, kind="internet", download_kbps=100000, upload_kbps=20000)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        plan_change_preview(
            service=s, tariff=fast, effective=date(2026, 4, 10), today=date(2026, 4, 10)
        )
    assert callbacks == []
    assert attrs("jane")["Mikrotik-Rate-Limit"] == "10000k/50000k"
