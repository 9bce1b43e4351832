"""Usage from radacct rows written as FreeRADIUS writes them (its default queries store
``Gigawords << 32 | Octets``), with hand-worked numbers (docs/usage.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.db import connection
from pyrad import packet

from ispbill.billing.run import billing_run_start
from ispbill.invoicing.models import InvoiceLine
from ispbill.radius.models import RadiusCredential, UsageDay
from ispbill.radius.services import nas_create
from ispbill.radius.usage import overage_gigabytes, usage_collect
from ispbill.subscriptions.models import OneTimeCharge
from tests.radius.builders import attrs, internet_customer
from tests.radius.test_coa import NasListener

pytestmark = pytest.mark.django_db
GB = 10**9


def at(day: int, hour: int = 12, minute: int = 0, month: int = 4) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def acct(
    uid: str,
    *,
    username: str = "jane",
    octets_in: int = 0,
    octets_out: int = 0,
    gw_in: int = 0,
    gw_out: int = 0,
    start: datetime,
    update: datetime | None = None,
    stop: datetime | None = None,
) -> None:
    """Start (insert), Interim-Update or Stop (update) of one session, as FreeRADIUS."""
    total_in = (gw_in << 32) | octets_in
    total_out = (gw_out << 32) | octets_out
    totals = (total_in, total_out)
    with connection.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM radacct WHERE acctuniqueid = %s", [uid])
        if cur.fetchone()[0] == 0:
            cur.execute(
                "INSERT INTO radacct (acctsessionid, acctuniqueid, username, nasipaddress,"
                " framedipaddress, acctstarttime, acctupdatetime, acctstoptime,"
                " acctinputoctets, acctoutputoctets)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [uid, uid, username, "127.0.0.1", "100.64.0.7", start, update, stop, *totals],
            )
        else:
            cur.execute(
                "UPDATE radacct SET acctupdatetime = %s, acctstoptime = %s,"
                " acctinputoctets = %s, acctoutputoctets = %s WHERE acctuniqueid = %s",
                [update or stop, stop, total_in, total_out, uid],
            )


def days(service_id: int) -> dict[date, int]:
    return {u.day: u.bytes_in + u.bytes_out for u in UsageDay.objects.filter(service_id=service_id)}


def test_interim_then_stop_counts_the_session_total_once(home):
    _c, s, _cred = internet_customer("jane")
    acct("A", octets_out=GB, start=at(3, 10), update=at(3, 11))
    assert usage_collect(now=at(3, 11, 5)).sessions == 1
    assert days(s.pk) == {date(2026, 4, 3): GB}
    acct("A", octets_out=3 * GB, start=at(3, 10), stop=at(3, 14))
    usage_collect(now=at(3, 14, 5))
    assert days(s.pk) == {date(2026, 4, 3): 3 * GB}
    # The same accounting read again counts nothing more.
    assert usage_collect(now=at(3, 15)).sessions == 0
    assert days(s.pk) == {date(2026, 4, 3): 3 * GB}


def test_a_session_across_midnight_gives_each_day_its_delta(home):
    _c, s, _cred = internet_customer("jane")
    acct("M", octets_in=400_000_000, octets_out=GB, start=at(3, 22), update=at(3, 23, 50))
    usage_collect(now=at(3, 23, 55))
    acct("M", octets_in=500_000_000, octets_out=1_500_000_000, start=at(3, 22), stop=at(4, 0, 10))
    usage_collect(now=at(4, 0, 15))
    assert days(s.pk) == {date(2026, 4, 3): 1_400_000_000, date(2026, 4, 4): 600_000_000}
    day4 = UsageDay.objects.get(service=s, day=date(2026, 4, 4))
    assert (day4.bytes_in, day4.bytes_out) == (100_000_000, 500_000_000)


def test_gigawords_wrap_between_updates(home):
    _c, s, _cred = internet_customer("jane")
    acct("G", octets_out=4_000_000_000, start=at(5, 1), update=at(5, 2))
    usage_collect(now=at(5, 2, 1))
    # The 32-bit counter wrapped: Gigawords 1, Octets 500 000 000 → 4 794 967 296 in all.
    acct("G", gw_out=1, octets_out=500_000_000, start=at(5, 1), update=at(5, 3))
    usage_collect(now=at(5, 3, 1))
    assert days(s.pk) == {date(2026, 4, 5): 4_794_967_296}


def test_sessions_of_unknown_users_and_other_services_stay_apart(home):
    _c, s1, _ = internet_customer("jane")
    _c2, s2, _ = internet_customer("joe")
    acct("J1", username="jane", octets_out=GB, start=at(6), update=at(6, 13))
    acct("J2", username="joe", octets_out=2 * GB, start=at(6), update=at(6, 13))
    acct("X", username="stranger", octets_out=5 * GB, start=at(6), update=at(6, 13))
    usage_collect(now=at(6, 14))
    assert days(s1.pk) == {date(2026, 4, 6): GB}
    assert days(s2.pk) == {date(2026, 4, 6): 2 * GB}
    assert UsageDay.objects.count() == 2


def test_cap_reached_throttles_by_coa_and_the_new_month_restores(
    home, django_capture_on_commit_callbacks, settings
):
    settings.RADIUS_COA_TIMEOUT = 2
    listener = NasListener(secret=b"nas-secret")
    try:
        nas_create(name="bras1", address="127.0.0.1", secret="nas-secret", coa_port=listener.port)
        _c, s, cred = internet_customer("jane")
        s.tariff.included_gb = 10
        s.tariff.cap_action = "throttle"
        s.tariff.throttle_download_kbps = 1000
        s.tariff.throttle_upload_kbps = 500
        s.tariff.save()
        acct("C", octets_out=9 * GB, start=at(10), update=at(10, 13))
        with django_capture_on_commit_callbacks(execute=True):
            assert usage_collect(now=at(10, 14)).capped == 0
        assert listener.received == []
        acct("C", octets_out=10 * GB, start=at(10), update=at(12, 13))
        with django_capture_on_commit_callbacks(execute=True):
            assert usage_collect(now=at(12, 14)).capped == 1
        assert attrs("jane")["Mikrotik-Rate-Limit"] == "500k/1000k"
        coa = listener.received[-1]
        assert coa.verified and coa.code == packet.CoARequest
        assert coa.attributes["Mikrotik-Rate-Limit"] == ["500k/1000k"]
        assert coa.attributes["Acct-Session-Id"] == ["C"]
        # Still capped later in the month: no second message.
        with django_capture_on_commit_callbacks(execute=True):
            usage_collect(now=at(20, 14))
        assert len(listener.received) == 1
        # The first collection of May lifts it: the tariff's speeds again, by CoA.
        with django_capture_on_commit_callbacks(execute=True):
            assert usage_collect(now=at(1, 0, 30, month=5)).restored == 1
        assert attrs("jane")["Mikrotik-Rate-Limit"] == "10000k/50000k"
        assert listener.received[-1].attributes["Mikrotik-Rate-Limit"] == ["10000k/50000k"]
        cred.refresh_from_db()
        assert cred.capped == ""
    finally:
        listener.close()


def test_cap_with_block_rejects_the_user(home):
    _c, s, _cred = internet_customer("jane")
    s.tariff.included_gb = 1
    s.tariff.cap_action = "block"
    s.tariff.save()
    acct("B", octets_out=GB, start=at(10), update=at(10, 13))
    usage_collect(now=at(10, 14))
    assert attrs("jane") == {"Auth-Type": "Reject"}
    assert RadiusCredential.objects.get(service=s).capped == "block"


def test_started_gigabytes():
    assert overage_gigabytes(used=12_500_000_000, included_gb=10) == 3
    assert overage_gigabytes(used=11_000_000_000, included_gb=10) == 1
    assert overage_gigabytes(used=11_000_000_001, included_gb=10) == 2
    assert overage_gigabytes(used=10_000_000_000, included_gb=10) == 0


def test_overage_of_2_5_gb_at_2_00_is_billed_6_00_net_once(home):
    _c, s, _cred = internet_customer("jane")
    s.tariff.included_gb = 10
    s.tariff.overage_price_minor = 200
    s.tariff.save()
    acct("O", octets_in=500_000_000, octets_out=12 * GB, start=at(20), stop=at(28))
    usage_collect(now=at(28, 13))
    assert OneTimeCharge.objects.count() == 0  # April is not closed yet
    usage_collect(now=at(1, 0, 30, month=5))
    usage_collect(now=at(1, 1, 30, month=5))  # again: charged once
    charge = OneTimeCharge.objects.get()
    assert (charge.quantity, charge.unit_price_minor) == (3, 200)
    assert charge.description.startswith("Overage 3 GB × 2.00, 1–30 April 2026")
    assert charge.charge_date == date(2026, 4, 30)
    billing_run_start(run_date=date(2026, 5, 1))
    line = InvoiceLine.objects.get(description__startswith="Overage")
    assert (line.quantity, line.unit_price_minor, line.amount_minor) == (3, 200, 600)


def test_the_cli_collects(home, capsys):
    from ispbill.cli import main

    _c, s, _cred = internet_customer("jane")
    acct("K", octets_out=GB, start=at(3, 10), update=at(3, 11))
    assert main(["usage-collect"]) == 0
    assert "1 sessions counted" in capsys.readouterr().out
    assert days(s.pk) == {date(2026, 4, 3): GB}
