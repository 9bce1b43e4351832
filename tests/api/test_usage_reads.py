"""GET /usage/top and GET /usage/partners (docs/api.md, docs/usage.md): the operator's token
sees every partner, a partner's token its own services only."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine

from ispbill.accounts.models import Role
from tests.api.conftest import api_for, make_user
from tests.web.test_usage_seeing import GB, TODAY, world  # noqa: F401 (the fixture)

pytestmark = pytest.mark.django_db


@time_machine.travel(TODAY, tick=False)
def test_top_users_for_the_operator_and_a_partner(world):  # noqa: F811
    ops = api_for(make_user("ops", Role.ADMIN))
    got = ops.get("/usage/top")
    assert got.status == 200, got.body
    assert [r["total_bytes"] for r in got.body["items"]] == [20 * GB, 8 * GB + GB // 2, 5 * GB]
    wes = got.body["items"][1]
    assert wes["customer_name"] == "Wes Wireless" and wes["partner_name"] == "WISP"
    assert wes["customer_id"] == world["wes"].pk and wes["service_id"] == world["ws"].pk
    assert (wes["upload_bytes"], wes["download_bytes"]) == (GB // 2, 8 * GB)
    assert (wes["username"], wes["included_gb"]) == ("wes", 10)
    assert got.body["count"] == 3
    assert ops.get("/usage/top", q="ozzy").body["count"] == 1
    paged = ops.get("/usage/top", limit=1, offset=1)
    assert [r["customer_name"] for r in paged.body["items"]] == ["Wes Wireless"]
    march = ops.get("/usage/top", start="2026-03-01", end="2026-03-31")
    assert [r["total_bytes"] for r in march.body["items"]] == [2 * GB]

    partner = api_for(make_user("wisp", Role.PARTNER_ADMIN, partner=world["wisp"]))
    mine = partner.get("/usage/top", start="2026-03-01")
    assert [r["customer_name"] for r in mine.body["items"]] == ["Wes Wireless"]
    assert mine.body["items"][0]["total_bytes"] == 10 * GB + GB // 2
    # Another partner's id as a filter finds nothing of it.
    assert partner.get("/usage/top", partner_id=world["other"].pk).body["items"] == []
    assert b"Ozzy" not in partner.get("/usage/top", q="ozzy").raw


@time_machine.travel(TODAY, tick=False)
def test_a_backwards_or_too_long_period_is_a_422(world):  # noqa: F811
    ops = api_for(make_user("ops", Role.ADMIN))
    bad = ops.get("/usage/top", start="2026-04-20", end="2026-04-01")
    assert bad.status == 422 and "end" in str(bad.body)
    assert ops.get("/usage/partners", start="2025-01-01", end="2026-04-01").status == 422
    assert ops.get("/usage/top", start="not-a-day").status == 422


@time_machine.travel(TODAY, tick=False)
def test_usage_per_partner_and_month(world):  # noqa: F811
    ops = api_for(make_user("ops", Role.ADMIN))
    got = ops.get("/usage/partners", start="2026-03-01", end="2026-04-30")
    assert got.status == 200, got.body
    rows = {(r["month"], r["partner_name"]): r for r in got.body["items"]}
    home_name = world["hanna"].partner.name
    assert set(rows) == {
        ("2026-03-01", "WISP"),
        ("2026-04-01", "WISP"),
        ("2026-04-01", "Othernet"),
        ("2026-04-01", home_name),
    }
    april = rows[("2026-04-01", "WISP")]
    assert (april["services"], april["upload_bytes"], april["download_bytes"]) == (
        1,
        GB // 2,
        8 * GB,
    )
    assert april["total_bytes"] == 8 * GB + GB // 2
    partner = api_for(make_user("wisp", Role.PARTNER_ADMIN, partner=world["wisp"]))
    mine = partner.get("/usage/partners", start="2026-03-01", end="2026-04-30")
    assert {r["partner_name"] for r in mine.body["items"]} == {"WISP"}
    assert date.fromisoformat(mine.body["start"]) == date(2026, 3, 1)


def test_a_customer_token_reads_no_top_users(world):  # noqa: F811
    portal = api_for(make_user("wes", Role.CUSTOMER, partner=world["wisp"], customer=world["wes"]))
    assert portal.get("/usage/top").status == 403
    assert portal.get("/usage/partners").status == 403


@time_machine.travel(TODAY, tick=False)
def test_a_services_usage_of_the_previous_month(world):  # noqa: F811
    ops = api_for(make_user("ops", Role.ADMIN))
    march = ops.get(f"/services/{world['ws'].pk}/usage", month="2026-03-15")
    assert march.status == 200, march.body
    assert (march.body["start"], march.body["end"]) == ("2026-03-01", "2026-03-31")
    assert march.body["used_bytes"] == 2 * GB
    assert ops.get(f"/services/{world['ws'].pk}/usage").body["used_bytes"] == 8 * GB + GB // 2
    partner = api_for(make_user("other", Role.PARTNER_ADMIN, partner=world["other"]))
    assert partner.get(f"/services/{world['ws'].pk}/usage", month="2026-03-15").status == 404
