"""Seeing usage (docs/usage.md, "Seeing it"): the chart on the service page and in the
portal, the top users list with its search, pages and CSV, and traffic per partner in the
reports — each for the operator, a partner (its own customers only) and the portal."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date

import pytest
import time_machine
from django.urls import reverse

from ispbill.accounts.models import Role
from ispbill.partners.models import PartnerMode
from ispbill.radius.models import UsageDay
from tests.factories import PartnerFactory
from tests.radius.builders import internet_customer
from tests.web.test_plan_changes import client_for

pytestmark = pytest.mark.django_db
GB = 10**9
TODAY = date(2026, 4, 20)


def used(service, day: date, down: int, up: int = 0) -> None:  # type: ignore[no-untyped-def]
    UsageDay.objects.create(
        partner_id=service.partner_id,
        customer=service.customer,
        service=service,
        day=day,
        bytes_in=up,
        bytes_out=down,
    )


@pytest.fixture
def world(home):
    """Hanna (operator's own), Wes (WISP), Ozzy (Othernet), with traffic in March and April."""
    wisp = PartnerFactory(name="WISP", mode=PartnerMode.PERCENTAGE)
    other = PartnerFactory(name="Othernet", mode=PartnerMode.PERCENTAGE)
    hanna, hs, _ = internet_customer("hanna", name="Hanna Home")
    wes, ws, _ = internet_customer("wes", partner=wisp, name="Wes Wireless")
    ozzy, os_, _ = internet_customer("ozzy", partner=other, name="Ozzy Outsider")
    ws.tariff.included_gb = 10
    ws.tariff.save()
    used(hs, date(2026, 4, 2), 5 * GB)
    used(ws, date(2026, 4, 3), 3 * GB, GB // 2)  # 3.50 GB
    used(ws, date(2026, 4, 4), 5 * GB)  # 8.50 GB in April
    used(ws, date(2026, 3, 31), 2 * GB)  # March
    used(os_, date(2026, 4, 5), 20 * GB)
    return {"wisp": wisp, "other": other, "hanna": hanna, "wes": wes, "ozzy": ozzy, "ws": ws}


def chart_data(body: str) -> dict:  # type: ignore[type-arg]
    found = re.search(r'<script id="usage-chart-data" type="application/json">(.*?)</script>', body)
    assert found, "the page carries no chart data"
    return json.loads(found.group(1))


@time_machine.travel(TODAY, tick=False)
@pytest.mark.parametrize("who", ["operator", "partner"])
def test_the_service_page_charts_this_and_last_month(world, who):
    if who == "operator":
        client = client_for("boss", Role.ADMIN)
    else:
        client = client_for("wisp", Role.PARTNER_ADMIN, partner=world["wisp"])
    body = client.get(reverse("web:service", kwargs={"service_id": world["ws"].pk})).content
    text = body.decode()
    data = chart_data(text)
    assert data["current_label"] == "April 2026" and data["previous_label"] == "March 2026"
    assert data["labels"][:3] == ["1", "2", "3"] and len(data["labels"]) == 31
    # Up to today (the 20th): 3 GB down and 0.5 GB up on the 3rd, 5 GB down on the 4th.
    assert len(data["download"]) == 20
    assert data["download"][2:4] == [3.0, 5.0] and data["upload"][2] == 0.5
    assert data["cumulative"][3] == 8.5 and data["cumulative"][-1] == 8.5
    assert data["previous_cumulative"][-1] == 2.0 and len(data["previous_cumulative"]) == 31
    assert data["included"] == [10] * 31
    # The text alternative: both months' tables, and the totals in words.
    assert "Figures of April 2026" in text and "Figures of March 2026" in text
    assert "April 2026: 8.50 GB of 10 GB included · March 2026: 2.00 GB" in text
    assert "web/usage.js" in text and "chart.umd.min.js" in text


@time_machine.travel(TODAY, tick=False)
def test_the_portal_charts_my_service_only(world):
    portal = client_for("wes", Role.CUSTOMER, partner=world["wisp"], customer=world["wes"])
    page = portal.get(reverse("web:portal_service_usage", kwargs={"service_id": world["ws"].pk}))
    assert page.status_code == 200
    assert chart_data(page.content.decode())["cumulative"][-1] == 8.5
    foreign = service_id_of(world["ozzy"])
    url = reverse("web:portal_service_usage", kwargs={"service_id": foreign})
    assert portal.get(url).status_code == 404


def service_id_of(customer) -> int:  # type: ignore[no-untyped-def]
    return customer.services.get().pk


def rows_of(body: str) -> list[str]:
    return re.findall(r'<td class="num"><strong>([^<]+)</strong>', body)


@time_machine.travel(TODAY, tick=False)
def test_the_operator_sees_every_partners_top_users(world):
    client = client_for("boss", Role.ADMIN)
    page = client.get(reverse("web:usage_top"))
    body = page.content.decode()
    assert page.status_code == 200
    # April 1–20, most first: Ozzy 20, Wes 8.50, Hanna 5 (March's 2 GB is outside).
    assert rows_of(body) == ["20.00 GB", "8.50 GB", "5.00 GB"]
    assert body.index("Ozzy Outsider") < body.index("Wes Wireless") < body.index("Hanna Home")
    # Search, a partner filter and a wider period.
    body = client.get(reverse("web:usage_top"), {"q": "wes"}).content.decode()
    assert rows_of(body) == ["8.50 GB"]
    body = client.get(reverse("web:usage_top"), {"partner": world["other"].pk}).content.decode()
    assert rows_of(body) == ["20.00 GB"]
    wide = {"start": "2026-03-01", "end": "2026-04-30"}
    assert rows_of(client.get(reverse("web:usage_top"), wide).content.decode())[1] == "10.50 GB"


@time_machine.travel(TODAY, tick=False)
def test_a_partner_sees_its_own_top_users_only_on_the_page_and_in_the_csv(world):
    client = client_for("wisp", Role.PARTNER_ADMIN, partner=world["wisp"])
    body = client.get(reverse("web:usage_top"), {"start": "2026-03-01"}).content.decode()
    assert rows_of(body) == ["10.50 GB"]
    assert "Wes Wireless" in body
    assert "Ozzy" not in body and "Hanna" not in body and "Othernet" not in body
    # Its partner filter does not exist: another partner's id changes nothing.
    other = {"start": "2026-03-01", "partner": world["other"].pk}
    body = client.get(reverse("web:usage_top"), other).content.decode()
    assert "Ozzy" not in body
    export = client.get(reverse("web:usage_top"), {"start": "2026-03-01", "csv": "1"})
    assert export["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert lines[0][:3] == ["service_id", "customer_reference", "customer_name"]
    assert len(lines) == 2 and lines[1][2] == "Wes Wireless"
    assert lines[1][-3:] == [str(GB // 2), str(10 * GB), str(10 * GB + GB // 2)]


@time_machine.travel(TODAY, tick=False)
def test_top_users_page_through_and_refuse_a_backwards_period(world, home):
    for n in range(30):
        _c, s, _ = internet_customer(f"bulk{n}", name=f"Bulk {n}")
        used(s, date(2026, 4, 10), (n + 1) * 10**6)
    client = client_for("boss", Role.ADMIN)
    first = client.get(reverse("web:usage_top")).content.decode()
    assert "Page 1 of 2 · 33 services" in first
    second = client.get(reverse("web:usage_top"), {"page": 2}).content.decode()
    assert len(rows_of(first)) + len(rows_of(second)) == 33
    bad = client.get(reverse("web:usage_top"), {"start": "2026-04-20", "end": "2026-04-01"})
    assert bad.status_code == 200 and "The period ends before it starts." in bad.content.decode()
    refused = client.get(reverse("web:usage_top"), {"start": "x", "csv": "1"})
    assert not refused["Content-Type"].startswith("text/csv")


def test_a_portal_customer_has_no_top_users(world):
    portal = client_for("wes", Role.CUSTOMER, partner=world["wisp"], customer=world["wes"])
    assert portal.get(reverse("web:usage_top")).status_code in (302, 403, 404)


@time_machine.travel(TODAY, tick=False)
def test_reports_show_traffic_per_partner_and_month(world):
    period = {"start": "2026-03-01", "end": "2026-04-30"}
    client = client_for("boss", Role.ADMIN)
    export = client.get(reverse("web:reports"), {**period, "csv": "usage"})
    lines = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert lines[0] == [
        "month",
        "partner",
        "services",
        "upload_bytes",
        "download_bytes",
        "total_bytes",
        "total_gb",
    ]
    home_name = world["hanna"].partner.name
    got = {(r[0], r[1]): (r[2], r[5], r[6]) for r in lines[1:]}
    assert got == {
        ("2026-03", "WISP"): ("1", str(2 * GB), "2.00"),
        ("2026-04", "WISP"): ("1", str(8 * GB + GB // 2), "8.50"),
        ("2026-04", "Othernet"): ("1", str(20 * GB), "20.00"),
        ("2026-04", home_name): ("1", str(5 * GB), "5.00"),
    }
    page = client.get(reverse("web:reports"), period).content.decode()
    assert "Traffic per partner and month" in page and "Othernet" in page

    partner = client_for("wisp", Role.PARTNER_ADMIN, partner=world["wisp"])
    export = partner.get(reverse("web:reports"), {**period, "csv": "usage"})
    lines = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert [r[1] for r in lines[1:]] == ["WISP", "WISP"]
    page = partner.get(reverse("web:reports"), period).content.decode()
    assert "Othernet" not in page and "Traffic per partner and month" in page
