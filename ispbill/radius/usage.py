"""Usage from FreeRADIUS accounting (docs/usage.md).

``usage_collect`` turns ``radacct`` into ``UsageDay`` rows set-based: one snapshot of the
sessions whose counters moved since they were last counted, one upsert of the per-day
deltas, one upsert of the per-session watermarks. Then the month's caps are applied
(throttle or block through the RADIUS rows, CoA after commit), caps of past months lifted,
and the overage of the month just closed charged once as a one-time charge.

Counters: FreeRADIUS stores ``acctinputoctets`` as ``Gigawords << 32 | Octets`` (its default
queries), so the columns already hold the full 64-bit session totals. A session's delta is
its total now minus the watermark and lands on the day (local date) of the update that
reported it: a session across midnight gives the part reported after midnight to the new
day. Reading the same accounting twice counts once: the watermark has caught up."""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BigIntegerField, F, OuterRef, Subquery, Sum
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from ispbill.catalog.models import Tariff
from ispbill.catalog.pricing import wholesale_price_minor
from ispbill.core.errors import DomainError
from ispbill.core.money import Money
from ispbill.partners.models import Partner, PartnerMode
from ispbill.radius.models import RadiusCredential, UsageDay, UsageOverage
from ispbill.radius.routers import radius_separate
from ispbill.radius.sync import radius_sync_services
from ispbill.subscriptions.models import Service
from ispbill.subscriptions.services import one_time_charge_record

log = logging.getLogger(__name__)
GB = 10**9
LOOKBACK_DAYS = 7  # stopped sessions older than this are not read again


class UsageSeparateDatabase(DomainError):
    """Usage needs radacct in ispbill's own database."""


@dataclass(frozen=True)
class UsageResult:
    sessions: int
    capped: int
    restored: int
    overage_charges: int


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _day_sql() -> tuple[str, list[str]]:
    ts = "COALESCE(r.acctstoptime, r.acctupdatetime, r.acctstarttime)"
    if connection.vendor == "postgresql":
        return f"CAST(({ts} AT TIME ZONE %s) AS date)", [settings.TIME_ZONE]
    # SQLite: Django and FreeRADIUS write UTC text; the day is the UTC day.
    return f"date({ts})", []


def _collect(now: datetime) -> int:
    """The set-based part: returns the number of sessions whose counters were counted."""
    day_sql, day_params = _day_sql()
    since = now - timedelta(days=LOOKBACK_DAYS)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SELECT pg_advisory_xact_lock(22022)")  # one collector at a time
        cur.execute("DROP TABLE IF EXISTS usage_snap")
        cur.execute(
            "CREATE TEMP TABLE usage_snap AS"  # noqa: S608 (day_sql is ours, not input)
            " SELECT r.acctuniqueid AS acctuniqueid, s.partner_id AS partner_id,"
            " s.customer_id AS customer_id,"
            f" c.service_id AS service_id, {day_sql} AS day,"
            " COALESCE(r.acctinputoctets, 0) AS total_in,"
            " COALESCE(r.acctoutputoctets, 0) AS total_out,"
            " COALESCE(w.bytes_in, 0) AS seen_in, COALESCE(w.bytes_out, 0) AS seen_out"
            " FROM radacct r"
            " JOIN radius_radiuscredential c ON c.username = r.username"
            " JOIN subscriptions_service s ON s.id = c.service_id"
            " LEFT JOIN radius_usagewatermark w ON w.acctuniqueid = r.acctuniqueid"
            " WHERE (r.acctstoptime IS NULL OR r.acctstoptime >= %s)"
            " AND (w.id IS NULL OR COALESCE(r.acctinputoctets, 0) <> w.bytes_in"
            " OR COALESCE(r.acctoutputoctets, 0) <> w.bytes_out)",
            [*day_params, since],
        )
        cur.execute("SELECT COUNT(*) FROM usage_snap")
        sessions = int(cur.fetchone()[0])
        # A counter that went down (NAS restarted the session's counting) adds nothing.
        cur.execute(
            "INSERT INTO radius_usageday"
            " (partner_id, customer_id, service_id, day, bytes_in, bytes_out)"
            " SELECT partner_id, customer_id, service_id, day,"
            " SUM(CASE WHEN total_in > seen_in THEN total_in - seen_in ELSE 0 END),"
            " SUM(CASE WHEN total_out > seen_out THEN total_out - seen_out ELSE 0 END)"
            " FROM usage_snap WHERE total_in > seen_in OR total_out > seen_out"
            " GROUP BY partner_id, customer_id, service_id, day"
            " ON CONFLICT (service_id, day) DO UPDATE SET"
            " bytes_in = radius_usageday.bytes_in + excluded.bytes_in,"
            " bytes_out = radius_usageday.bytes_out + excluded.bytes_out"
        )
        cur.execute(
            "INSERT INTO radius_usagewatermark (acctuniqueid, bytes_in, bytes_out)"
            " SELECT acctuniqueid, total_in, total_out FROM usage_snap WHERE true"
            " ON CONFLICT (acctuniqueid) DO UPDATE SET"
            " bytes_in = excluded.bytes_in, bytes_out = excluded.bytes_out"
        )
        cur.execute("DROP TABLE usage_snap")
    return sessions


def usage_totals(*, service_ids: list[int] | None, start: date, end: date) -> dict[int, int]:
    """Bytes (in + out) per service between two days, both included."""
    qs = UsageDay.objects.filter(day__gte=start, day__lte=end)
    if service_ids is not None:
        qs = qs.filter(service_id__in=service_ids)
    return {
        row["service_id"]: int(row["total"])
        for row in qs.values("service_id").annotate(total=Sum(F("bytes_in") + F("bytes_out")))
    }


def _month_used(*, start: date, end: date, ref: str = "service_id") -> Coalesce:
    """The bytes (in + out) of the outer row's service between two days: a correlated
    subquery, so a filter on it keeps only the services over their volume in SQL."""
    total = (
        UsageDay.objects.filter(service_id=OuterRef(ref), day__gte=start, day__lte=end)
        .values("service_id")
        .annotate(total=Sum(F("bytes_in") + F("bytes_out")))
        .values("total")
    )
    return Coalesce(Subquery(total, output_field=BigIntegerField()), 0)


def _volume(included_gb: str) -> Any:
    """A tariff's included GB in bytes, as a 64-bit number (GB × 10^9 overflows integer)."""
    return Cast(included_gb, BigIntegerField()) * GB


def _caps(today: date) -> tuple[int, int]:
    """Cap this month's over-volume services; lift caps of past months. CoA follows."""
    start = month_start(today)
    changed: list[int] = []
    restored = 0
    for cred in RadiusCredential.objects.select_for_update().filter(
        capped__gt="", capped_month__lt=start
    ):
        cred.capped, cred.capped_month = "", None
        cred.save(update_fields=["capped", "capped_month"])
        changed.append(cred.service_id)
        restored += 1
    # Only the credentials whose month total reached the volume come back from the
    # database (the total summed there, per service, on the (service, day) index).
    over = (
        RadiusCredential.objects.filter(
            service__tariff__included_gb__isnull=False, service__tariff__cap_action__gt=""
        )
        .exclude(capped_month=start)
        .annotate(used=_month_used(start=start, end=today))
        .filter(used__gte=_volume("service__tariff__included_gb"))
        .select_related("service__tariff")
        .order_by("pk")
    )
    capped = 0
    for cred in over:
        cred.capped, cred.capped_month = cred.service.tariff.cap_action, start
        cred.save(update_fields=["capped", "capped_month"])
        changed.append(cred.service_id)
        capped += 1
    if changed:
        radius_sync_services(service_ids=changed)
    return capped, restored


def overage_gigabytes(*, used: int, included_gb: int) -> int:
    """Started GB over the included volume: 2.5 GB over → 3."""
    over = used - included_gb * GB
    return 0 if over <= 0 else -(-over // GB)


def _month_label(start: date, end: date) -> str:
    return f"{start.day}–{end.day} {start.strftime('%B %Y')}"


def overage_price_minor(*, tariff: Tariff, partner: Partner) -> tuple[int, bool]:
    """The unit price of one started GB over the volume, and whether it is a partner price.

    An aggregated partner's sub-customers are billed to the partner's account, so their
    overage is charged at the partner's price: the partner's discount off the tariff's
    overage price, rounded half up to the minor unit per GB (docs/usage.md, "Aggregated
    partners"); everyone else pays the tariff's overage price."""
    retail = tariff.overage_price_minor or 0
    if partner.mode != PartnerMode.AGGREGATED:
        return retail, False
    price = wholesale_price_minor(
        retail_minor=retail, partner_price_minor=None, discount_bp=partner.discount_bp
    )
    return price, True


def usage_overage_charge(*, month: date) -> int:
    """Charge the overage of ``month`` (any day in it) once per service; returns how many."""
    start, end = month_start(month), month_end(month)
    services = list(
        Service.objects.filter(
            tariff__included_gb__isnull=False, tariff__overage_price_minor__isnull=False
        )
        .exclude(pk__in=UsageOverage.objects.filter(month=start).values("service_id"))
        .annotate(used=_month_used(start=start, end=end, ref="pk"))
        .filter(used__gt=_volume("tariff__included_gb"))
        .select_related("tariff", "customer")
        .order_by("pk")
    )
    totals = {s.pk: s.used for s in services}
    partners = {p.pk: p for p in Partner.objects.all()}
    made = 0
    for service in services:
        tariff = service.tariff
        gigabytes = overage_gigabytes(
            used=totals.get(service.pk, 0), included_gb=tariff.included_gb or 0
        )
        if not gigabytes:
            continue
        price, wholesale = overage_price_minor(tariff=tariff, partner=partners[service.partner_id])
        unit = Money.from_minor(price, partners[tariff.partner_id].currency).amount
        at = " partner price" if wholesale else ""
        charge = one_time_charge_record(
            customer=service.customer,
            description=(
                f"Overage {gigabytes} GB ×{at} {unit:.2f}, {_month_label(start, end)}"
                f" ({service.tariff.name})"
            )[:200],
            quantity=gigabytes,
            unit_price_minor=price,
            tax_rate=tariff.tax_rate,
            charge_date=end,
            service=service,
        )
        UsageOverage.objects.create(
            partner_id=service.partner_id,
            service=service,
            month=start,
            gigabytes=gigabytes,
            charge=charge,
        )
        made += 1
    return made


@transaction.atomic
def usage_collect(*, now: datetime | None = None) -> UsageResult:
    """Count new accounting, apply caps, charge last month's overage (idempotent)."""
    if radius_separate():
        raise UsageSeparateDatabase(
            "Usage collection reads radacct in ispbill's own database; "
            "RADIUS_DATABASE_URL points elsewhere."
        )
    now = now or timezone.now()
    today = timezone.localdate(now)
    sessions = _collect(now)
    capped, restored = _caps(today)
    previous = month_start(today) - timedelta(days=1)
    charges = usage_overage_charge(month=previous)
    result = UsageResult(sessions, capped, restored, charges)
    log.info("usage.collected", extra=result.__dict__)
    return result


def usage_month(service: Service, *, today: date | None = None) -> dict[str, object]:
    """This month's usage of a service: used, included, and the per-day rows."""
    today = today or timezone.localdate()
    start = month_start(today)
    days = list(
        UsageDay.objects.filter(service=service, day__gte=start, day__lte=month_end(today))
        .order_by("day")
        .values("day", "bytes_in", "bytes_out")
    )
    used = sum(d["bytes_in"] + d["bytes_out"] for d in days)
    included = service.tariff.included_gb
    cred = RadiusCredential.objects.filter(service=service).first()
    return {
        "start": start,
        "end": month_end(today),
        "used_bytes": used,
        "included_gb": included,
        "used_gb": (Decimal(used) / GB).quantize(Decimal("0.01")),
        "capped": cred.capped if cred and cred.capped_month == start else "",
        "days": days,
    }
