"""Reading usage (docs/usage.md, "Seeing it"): a service's daily traffic of this and the
previous month for its chart, the top users of a period, traffic per partner and month.

Each is one aggregate query over ``UsageDay`` (GROUP BY), read in the open scope: a partner's
users see their own partner's services, a customer its own (``PartnerScopedManager``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from ispbill.radius.models import UsageDay
from ispbill.radius.usage import GB, month_end, month_start
from ispbill.subscriptions.models import Service

# Columns of the top-users list, its CSV and the API, in this order.
TOP_COLUMNS = [
    "service_id",
    "customer_reference",
    "customer_name",
    "partner_name",
    "service_description",
    "tariff_name",
    "username",
    "included_gb",
    "upload_bytes",
    "download_bytes",
    "total_bytes",
]
PARTNER_COLUMNS = [
    "month",
    "partner_name",
    "services",
    "upload_bytes",
    "download_bytes",
    "total_bytes",
]


def _gb(value: int) -> float:
    """Bytes as GB for a chart's axis (display only; stored figures stay in bytes)."""
    return round(value / GB, 3)


def _period(service: Service, start: date, end: date) -> dict[str, Any]:
    rows = {
        r["day"]: r
        for r in UsageDay.objects.filter(service=service, day__gte=start, day__lte=end).values(
            "day", "bytes_in", "bytes_out"
        )
    }
    days = []
    running = 0
    day = start
    while day <= end:
        r = rows.get(day, {"bytes_in": 0, "bytes_out": 0})
        running += r["bytes_in"] + r["bytes_out"]
        up, down = r["bytes_in"], r["bytes_out"]
        days.append({"day": day, "bytes_in": up, "bytes_out": down, "cumulative": running})
        day += timedelta(days=1)
    return {"start": start, "end": end, "days": days, "total": running}


def usage_chart(service: Service, *, today: date | None = None) -> dict[str, Any]:
    """This month's and last month's traffic per day (download, upload, running total) and
    the included volume: the figures of the service's usage chart and of its tables."""
    today = today or timezone.localdate()
    start = month_start(today)
    previous_start = month_start(start - timedelta(days=1))
    current = _period(service, start, month_end(today))
    previous = _period(service, previous_start, start - timedelta(days=1))
    included = service.tariff.included_gb
    length = max(len(current["days"]), len(previous["days"]))
    # Today and the days before it: the running total stops at today (the future is blank).
    shown = [d for d in current["days"] if d["day"] <= today]
    chart = {
        "labels": [str(n) for n in range(1, length + 1)],
        "current_label": start.strftime("%B %Y"),
        "previous_label": previous_start.strftime("%B %Y"),
        "download": [_gb(d["bytes_out"]) for d in shown],
        "upload": [_gb(d["bytes_in"]) for d in shown],
        "cumulative": [_gb(d["cumulative"]) for d in shown],
        "previous_cumulative": [_gb(d["cumulative"]) for d in previous["days"]],
        "included": [included] * length if included else [],
    }
    return {
        "current": current,
        "previous": previous,
        "included_gb": included,
        "chart": chart,
        "periods": [
            {"label": chart["current_label"], "data": current},
            {"label": chart["previous_label"], "data": previous},
        ],
    }


def usage_top(
    *, start: date, end: date, q: str = "", partner_id: int | None = None
) -> QuerySet[Any]:
    """The services with most traffic between two days (both included), most first: rows of
    ``service_id``, ``upload_bytes``, ``download_bytes``, ``total_bytes`` grouped by the
    service alone (``top_details`` adds the names of a page's rows in one query). ``q``
    finds a customer's name or number, the service's description or its RADIUS User-Name."""
    qs = UsageDay.objects.filter(day__gte=start, day__lte=end)
    if partner_id is not None:
        qs = qs.filter(partner_id=partner_id)
    if q:
        qs = qs.filter(
            Q(customer__name__icontains=q)
            | Q(customer__reference__icontains=q)
            | Q(service__description__icontains=q)
            | Q(service__radius_credential__username__icontains=q)
        )
    return (
        qs.values("service_id")
        .annotate(
            upload_bytes=Sum("bytes_in"),
            download_bytes=Sum("bytes_out"),
            total_bytes=Sum(F("bytes_in") + F("bytes_out")),
        )
        .order_by("-total_bytes", "service_id")
    )


DETAIL_CHUNK = 2000  # ids per query when a whole list (an export) gets its names


def top_details(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``usage_top`` rows with the customer, partner, service, tariff and login of each, read
    in one query per ``DETAIL_CHUNK`` rows (in the open scope, like the rows)."""
    rows = list(rows)
    details: dict[int, dict[str, Any]] = {}
    ids = [r["service_id"] for r in rows]
    for at in range(0, len(ids), DETAIL_CHUNK):
        for d in Service.objects.filter(pk__in=ids[at : at + DETAIL_CHUNK]).values(
            "pk",
            "customer_id",
            "customer__reference",
            "customer__name",
            "partner__name",
            "description",
            "tariff__name",
            "tariff__included_gb",
            "radius_credential__username",
        ):
            details[d["pk"]] = {
                "customer_id": d["customer_id"],
                "customer_reference": d["customer__reference"],
                "customer_name": d["customer__name"],
                "partner_name": d["partner__name"],
                "service_description": d["description"],
                "tariff_name": d["tariff__name"],
                "included_gb": d["tariff__included_gb"],
                "username": d["radius_credential__username"],
            }
    return [{**r, **details[r["service_id"]]} for r in rows if r["service_id"] in details]


def top_row(row: dict[str, Any]) -> list[Any]:
    return [row[c] if row[c] is not None else "" for c in TOP_COLUMNS]


def usage_per_partner(*, start: date, end: date) -> list[dict[str, Any]]:
    """Traffic per partner and month between two days (both included): services with
    traffic, bytes in (upload), out (download), total; by month, then partner name."""
    rows = (
        UsageDay.objects.filter(day__gte=start, day__lte=end)
        .annotate(month=TruncMonth("day"))
        .values("month", "partner_id", "partner__name")
        .annotate(
            services=Count("service_id", distinct=True),
            up=Sum("bytes_in"),
            down=Sum("bytes_out"),
        )
    )
    out = []
    for r in rows:
        month = r["month"]
        month = month.date() if hasattr(month, "date") else month
        out.append(
            {
                "month": date(month.year, month.month, 1),
                "partner_id": r["partner_id"],
                "partner_name": r["partner__name"],
                "services": int(r["services"]),
                "upload_bytes": int(r["up"] or 0),
                "download_bytes": int(r["down"] or 0),
                "total_bytes": int(r["up"] or 0) + int(r["down"] or 0),
            }
        )
    out.sort(key=lambda r: (r["month"], r["partner_name"]))
    return out
