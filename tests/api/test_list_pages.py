"""Pages of lists: the count stops past a limit, and a partner's invoice list (its own and
its account's invoices) pages in one order whichever way the database reads it."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from ispbill.api import schemas
from ispbill.customers.models import Customer
from ispbill.invoicing.models import Invoice
from tests.api.conftest import Billed, Seed


def test_the_count_is_exact_up_to_the_limit_past_the_offset(
    seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Five customers; counting stops 2 past the offset.
    for ref in ("X-1", "X-2"):
        Customer.objects.create(partner=seed.home, reference=ref, name=ref)
    assert Customer.objects.count() == 5
    monkeypatch.setattr(schemas, "COUNT_LIMIT", 2)
    api = seed.admin

    def counted(**query: int) -> tuple[int, bool, int]:
        body = api.get("/customers", sort="id", **query).body
        return body["count"], body["count_exact"], len(body["items"])

    assert counted(limit=1) == (2, False, 1)
    assert counted(limit=1, offset=1) == (3, False, 1)
    assert counted(limit=2, offset=2) == (4, False, 2)
    assert counted(limit=1, offset=3) == (5, True, 1)  # 5 <= 3 + 2: counted to the end
    assert counted(limit=10) == (5, True, 5)  # a short page tells the count
    assert counted(limit=2, offset=4) == (5, True, 1)
    assert counted(limit=2, offset=9) == (5, True, 0)


def test_a_partner_pages_through_its_own_and_its_account_invoices(billed: Billed) -> None:
    seed = billed.seed
    account = Customer.objects.create(partner=seed.home, reference="P-CITY", name="CityNet")
    seed.citynet.account = account
    seed.citynet.save()
    # The operator's invoices to the partner's account, dated around CityNet's own ones.
    for n, day in enumerate((date(2026, 1, 15), date(2026, 3, 1), date(2026, 2, 1))):
        Invoice.objects.create(
            partner=seed.home,
            issuer=seed.home,
            customer=account,
            kind="one_off",
            number=f"ACC-{n}",
            issue_date=day,
            due_date=day,
            currency="EUR",
            net_minor=1000,
            tax_minor=190,
            total_minor=1190,
        )
    expected = list(
        Invoice.objects.filter(Q(partner=seed.citynet) | Q(customer=account))
        .order_by("-issue_date", "-id")
        .values_list("id", flat=True)
    )
    assert len(expected) == len(billed.bob_invoices) + 3
    api = seed.citynet_admin
    for limit in (1, 2, len(expected)):
        seen: list[int] = []
        for offset in range(0, len(expected) + 1, limit):
            with CaptureQueriesContext(connection) as queries:
                body = api.get("/invoices", sort="-issue_date", limit=limit, offset=offset).body
            assert (body["count"], body["count_exact"]) == (len(expected), True)
            seen += [item["id"] for item in body["items"]]
            union = any("UNION ALL" in q["sql"] for q in queries.captured_queries)
            # PostgreSQL reads the two parts each in index order; SQLite the OR as it is.
            assert union == (connection.vendor == "postgresql")
        assert seen == expected, limit
    # Filtered: only the account's invoices are one-off ones.
    one_off = api.get("/invoices", kind="one_off", sort="issue_date").body
    assert [i["number"] for i in one_off["items"]] == ["ACC-0", "ACC-2", "ACC-1"]
    # The operator reads without a partner scope: every invoice.
    everything = seed.admin.get("/invoices", limit=200).body
    assert everything["count"] == Invoice.objects.count()
