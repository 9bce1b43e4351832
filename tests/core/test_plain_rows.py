"""``plain_rows``: the rows of ``values_list``, read straight from the cursor on PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest

from ispbill.core.bulk import plain_rows
from ispbill.subscriptions.models import SERVICE_ROW_FIELDS, Service
from tests.factories import CustomerFactory, ServiceFactory, TariffFactory

pytestmark = pytest.mark.django_db


def test_plain_rows_equal_django_values_list_including_joins_dates_and_nulls():
    fiber = TariffFactory(name="Fiber", price_minor=2990)
    c = CustomerFactory()
    ServiceFactory(customer=c, tariff=fiber, start_date=date(2026, 3, 5))
    ServiceFactory(
        customer=c,
        tariff=fiber,
        start_date=date(2026, 1, 31),
        end_date=date(2026, 6, 30),
        discount_bp=1000,
        discount_until=date(2026, 2, 28),
        price_override_minor=2500,
    )
    qs = Service.objects.filter(customer_id__any_in=[c.pk]).order_by("start_date", "pk")
    rows = plain_rows(qs, SERVICE_ROW_FIELDS)
    assert rows == list(qs.values_list(*SERVICE_ROW_FIELDS))
    assert [r[9] for r in rows] == [date(2026, 1, 31), date(2026, 3, 5)]  # dates, not text
    assert rows[1][6] is None and rows[0][6] == 2500
    assert rows[0][14:17] == ("Fiber", 1, 2990)  # the tariff's, through the join
    assert plain_rows(Service.objects.filter(pk__in=[]), SERVICE_ROW_FIELDS) == []
