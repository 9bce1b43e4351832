"""Usage from FreeRADIUS accounting (docs/usage.md).

``usage_collect`` turns ``radacct`` into ``UsageDay`` rows set-based: one snapshot of the
sessions whose counters moved since they were last counted, one upsert of the per-day
deltas, one upsert of the per-session watermarks. Then the month's caps are applied
(throttle or block through the RADIUS rows, CoA after commit), caps of past months lifted,
and the overage of the month just closed charged once as a one-time charge.

The month's **allowance** of a service is its tariff's included volume, plus what rolled
over from the month before (``UsageRollover``, tariffs with rollover), plus the top-ups
bought for the month (``UsageTopUp``, ``radius/topups.py``); caps, overage and alert
thresholds all compare the month's traffic with it.

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
from django.db.models import BigIntegerField, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from ispbill.catalog.models import Tariff, alert_percents
from ispbill.catalog.pricing import wholesale_price_minor
from ispbill.core.errors import DomainError
from ispbill.core.money import Money
from ispbill.customers.models import Customer
from ispbill.invoicing.models import EmailDelivery, EmailKind
from ispbill.invoicing.sending import (
    email_deliveries_queue,
    email_delivery_new,
    issuer_email_envelope,
)
from ispbill.partners.models import Partner, PartnerMode
from ispbill.radius.models import (
    RadiusCredential,
    UsageAlert,
    UsageDay,
    UsageOverage,
    UsageRollover,
    UsageTopUp,
)
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
    rollovers: int = 0
    alerts: int = 0


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


ServiceIds = list[int] | QuerySet[Any, Any]


def usage_totals(*, service_ids: ServiceIds | None, start: date, end: date) -> dict[int, int]:
    """Bytes (in + out) per service between two days, both included."""
    qs = UsageDay.objects.filter(day__gte=start, day__lte=end)
    if service_ids is not None:
        qs = qs.filter(service_id__in=service_ids)
    return {
        row["service_id"]: int(row["total"])
        for row in qs.values("service_id").annotate(total=Sum(F("bytes_in") + F("bytes_out")))
    }


def usage_allowances(*, services: ServiceIds, start: date) -> dict[int, int]:
    """Bytes allowed in the month beginning ``start`` for each service whose tariff has an
    included volume: included + rolled over into the month + the month's top-ups. Three
    queries, whatever the number of services."""
    included = dict(
        Service.objects.filter(pk__in=services, tariff__included_gb__isnull=False).values_list(
            "pk", "tariff__included_gb"
        )
    )
    allowance = {pk: (gb or 0) * GB for pk, gb in included.items()}
    for service_id, carried in UsageRollover.objects.filter(
        month=start, service_id__in=services
    ).values_list("service_id", "bytes"):
        if service_id in allowance:
            allowance[service_id] += carried
    for row in (
        UsageTopUp.objects.filter(month=start, service_id__in=services)
        .values("service_id")
        .annotate(gb=Sum("gigabytes"))
    ):
        if row["service_id"] in allowance:
            allowance[row["service_id"]] += int(row["gb"]) * GB
    return allowance


def rollover_bytes(*, included: int, used: int, carried_in: int) -> int:
    """Unused included volume to carry into the next month (docs/usage.md): what rolled in
    is used first and lapses at the month's end (one month deep); of the included volume,
    what was not used carries, at most the included volume itself. Bytes."""
    used_of_included = max(0, used - carried_in)
    return min(included, max(0, included - used_of_included))


def usage_rollover(*, month: date) -> int:
    """Write the rollover into ``month`` (any day in it) of every service whose tariff rolls
    over, once per service and month (zero included); returns how many were written."""
    start = month_start(month)
    prev_start = month_start(start - timedelta(days=1))
    prev_end = start - timedelta(days=1)
    services = (
        Service.objects.filter(
            tariff__rollover=True, tariff__included_gb__isnull=False, start_date__lt=start
        )
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=start))
        .exclude(pk__in=UsageRollover.objects.filter(month=start).values("service_id"))
    )
    rows = list(services.values_list("pk", "partner_id", "customer_id", "tariff__included_gb"))
    if not rows:
        return 0
    ids = services.values("pk")
    used = usage_totals(service_ids=ids, start=prev_start, end=prev_end)
    carried_in = dict(
        UsageRollover.objects.filter(month=prev_start, service_id__in=ids).values_list(
            "service_id", "bytes"
        )
    )
    UsageRollover.objects.bulk_create(
        [
            UsageRollover(
                partner_id=partner_id,
                customer_id=customer_id,
                service_id=pk,
                month=start,
                bytes=rollover_bytes(
                    included=(included_gb or 0) * GB,
                    used=used.get(pk, 0),
                    carried_in=carried_in.get(pk, 0),
                ),
            )
            for pk, partner_id, customer_id, included_gb in rows
        ],
        ignore_conflicts=True,
    )
    return len(rows)


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
    over = list(
        RadiusCredential.objects.filter(
            service__tariff__included_gb__isnull=False, service__tariff__cap_action__gt=""
        )
        .exclude(capped_month=start)
        .annotate(used=_month_used(start=start, end=today))
        .filter(used__gte=_volume("service__tariff__included_gb"))
        .select_related("service__tariff")
        .order_by("pk")
    )
    # Over the included volume; capped when over the allowance (included + rolled over +
    # top-ups, which only the services over their included volume need).
    allowances = usage_allowances(services=[c.service_id for c in over], start=start)
    capped = 0
    for cred in over:
        if cred.used < allowances.get(cred.service_id, 0):
            continue
        cred.capped, cred.capped_month = cred.service.tariff.cap_action, start
        cred.save(update_fields=["capped", "capped_month"])
        changed.append(cred.service_id)
        capped += 1
    if changed:
        radius_sync_services(service_ids=changed)
    return capped, restored


def overage_gigabytes(*, used: int, included_gb: int, extra: int = 0) -> int:
    """Started GB over the included volume (plus ``extra`` bytes: rollover and top-ups):
    2.5 GB over → 3."""
    over = used - included_gb * GB - extra
    return 0 if over <= 0 else -(-over // GB)


def _month_label(start: date, end: date) -> str:
    return f"{start.day}–{end.day} {start.strftime('%B %Y')}"


def usage_price_minor(*, retail_minor: int, partner: Partner) -> tuple[int, bool]:
    """The unit price of a usage charge (a started GB over the volume, a top-up pack) for a
    customer of ``partner``, and whether it is a partner price.

    An aggregated partner's sub-customers are billed to the partner's account, so their
    usage is charged at the partner's price: the partner's discount off the tariff's price,
    rounded half up to the minor unit per unit (docs/usage.md, "Aggregated partners");
    everyone else pays the tariff's price."""
    if partner.mode != PartnerMode.AGGREGATED:
        return retail_minor, False
    price = wholesale_price_minor(
        retail_minor=retail_minor, partner_price_minor=None, discount_bp=partner.discount_bp
    )
    return price, True


def overage_price_minor(*, tariff: Tariff, partner: Partner) -> tuple[int, bool]:
    """The unit price of one started GB over the volume, and whether it is a partner price
    (``usage_price_minor``)."""
    return usage_price_minor(retail_minor=tariff.overage_price_minor or 0, partner=partner)


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
    # Over the included volume; billed for what is over the allowance (docs/usage.md).
    allowances = usage_allowances(services=list(totals), start=start)
    partners = {p.pk: p for p in Partner.objects.all()}
    made = 0
    for service in services:
        tariff = service.tariff
        included = tariff.included_gb or 0
        gigabytes = overage_gigabytes(
            used=totals.get(service.pk, 0),
            included_gb=included,
            extra=allowances.get(service.pk, included * GB) - included * GB,
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


def _gb_text(value: int) -> str:
    return f"{(Decimal(value) / GB).quantize(Decimal('0.01'))} GB"


def _alert_text(
    *,
    customer: Customer,
    service: Service,
    percent: int,
    used: int,
    allowance: int,
    start: date,
    cap_action: str,
    url: str,
) -> tuple[str, str]:
    """Subject and body of a usage alert, in the customer's language."""
    name = service.description or service.tariff.name
    end = month_end(start)
    used_text, allowance_text = _gb_text(used), _gb_text(allowance)
    if customer.language == "de":
        subject = f"Sie haben {percent} % Ihres Datenvolumens verbraucht ({name})"
        after = {
            "throttle": "Ist es aufgebraucht, wird die Geschwindigkeit bis zum Monatsende "
            "reduziert.",
            "block": "Ist es aufgebraucht, wird der Zugang bis zum Monatsende gesperrt.",
        }.get(cap_action, "")
        body = (
            f"Guten Tag {customer.name},\n\n"
            f"Ihr Dienst {name} hat vom {start:%d.%m.%Y} bis heute {used_text} von "
            f"{allowance_text} verbraucht ({percent} %). Das Volumen gilt bis "
            f"{end:%d.%m.%Y}.\n{after}\n\n"
            f"Zusätzliches Volumen können Sie im Kundenportal kaufen: {url}\n"
        )
    else:
        subject = f"You have used {percent} % of your data volume ({name})"
        after = {
            "throttle": "When it is used up, your speed is reduced until the end of the month.",
            "block": "When it is used up, your access is blocked until the end of the month.",
        }.get(cap_action, "")
        body = (
            f"Hello {customer.name},\n\n"
            f"your service {name} has used {used_text} of {allowance_text} since "
            f"{start:%d %B %Y} ({percent} %). The volume runs until {end:%d %B %Y}.\n"
            f"{after}\n\n"
            f"You can buy extra volume in the customer portal: {url}\n"
        )
    return subject, body


def usage_alerts_send(*, today: date) -> int:
    """E-mail the customers whose service crossed an alert threshold of its tariff this month
    (docs/usage.md). Each threshold is recorded once per service and month (``UsageAlert``,
    unique), so repeated collections send nothing more; crossing several thresholds at once
    sends one e-mail, of the highest. Returns the number of e-mails queued."""
    start = month_start(today)
    alerting = Service.objects.filter(
        tariff__included_gb__isnull=False,
        pk__in=UsageDay.objects.filter(day__gte=start, day__lte=today).values("service_id"),
    ).exclude(tariff__usage_alerts="")
    ids = alerting.values("pk")
    totals = usage_totals(service_ids=ids, start=start, end=today)
    allowances = usage_allowances(services=ids, start=start)
    sent: dict[int, set[int]] = {}
    for service_id, percent in UsageAlert.objects.filter(
        month=start, service_id__in=ids
    ).values_list("service_id", "percent"):
        sent.setdefault(service_id, set()).add(percent)
    crossed: dict[int, list[int]] = {}
    for pk, thresholds in alerting.values_list("pk", "tariff__usage_alerts"):
        used, allowance = totals.get(pk, 0), allowances.get(pk, 0)
        if allowance <= 0:
            continue
        new = [
            p
            for p in alert_percents(thresholds)
            if used * 100 >= p * allowance and p not in sent.get(pk, set())
        ]
        if new:
            crossed[pk] = new
    if not crossed:
        return 0
    services = Service.objects.filter(pk__in=list(crossed)).select_related("tariff", "customer")
    partners = {p.pk: p for p in Partner.objects.all()}
    home = next((p for p in partners.values() if p.is_home), None)
    alerts: list[UsageAlert] = []
    deliveries: list[EmailDelivery] = []
    base = str(getattr(settings, "PUBLIC_URL", "") or "http://localhost:8000").rstrip("/")
    url = f"{base}/portal/"
    for service in services:
        used, allowance = totals.get(service.pk, 0), allowances[service.pk]
        for percent in crossed[service.pk]:
            alerts.append(
                UsageAlert(
                    partner_id=service.partner_id,
                    customer_id=service.customer_id,
                    service=service,
                    month=start,
                    percent=percent,
                    used_bytes=used,
                    allowance_bytes=allowance,
                )
            )
        customer = service.customer
        if not customer.email:
            continue  # recorded as alerted: there is no address
        percent = max(crossed[service.pk])
        partner = partners[customer.partner_id]
        own = partner.mode in (PartnerMode.DIRECT, PartnerMode.OWN_INVOICING)
        issuer = partner if own or home is None else home
        subject, body = _alert_text(
            customer=customer,
            service=service,
            percent=percent,
            used=used,
            allowance=allowance,
            start=start,
            cap_action=service.tariff.cap_action,
            url=url,
        )
        envelope = issuer_email_envelope(issuer)
        deliveries.append(
            email_delivery_new(
                key=f"usage-alert:{service.pk}:{start.isoformat()}:{percent}",
                kind=EmailKind.OTHER,
                partner_id=service.partner_id,
                issuer_id=issuer.pk,
                customer_id=customer.pk,
                to=customer.email,
                from_email=envelope.from_email,
                reply_to=envelope.reply_to,
                subject=subject,
                body=envelope.body(body),
            )
        )
    UsageAlert.objects.bulk_create(alerts, ignore_conflicts=True)
    return len(email_deliveries_queue(deliveries))


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
    rollovers = usage_rollover(month=today)
    capped, restored = _caps(today)
    previous = month_start(today) - timedelta(days=1)
    charges = usage_overage_charge(month=previous)
    alerts = usage_alerts_send(today=today)
    result = UsageResult(sessions, capped, restored, charges, rollovers, alerts)
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
    # The service was found in the caller's scope; its credential has no customer field
    # (the portal's customer scope reads none), so it is read by the service.
    cred = RadiusCredential._base_manager.filter(service_id=service.pk).first()
    rolled = (
        UsageRollover.objects.filter(service=service, month=start)
        .values_list("bytes", flat=True)
        .first()
        or 0
    )
    topups = list(UsageTopUp.objects.filter(service=service, month=start).order_by("created_at"))
    topup_gb = sum(t.gigabytes for t in topups)
    allowance = None if included is None else included * GB + rolled + topup_gb * GB
    return {
        "start": start,
        "end": month_end(today),
        "used_bytes": used,
        "included_gb": included,
        "used_gb": (Decimal(used) / GB).quantize(Decimal("0.01")),
        "rollover_bytes": rolled,
        "topup_gb": topup_gb,
        "topups": topups,
        "allowance_bytes": allowance,
        "capped": cred.capped if cred and cred.capped_month == start else "",
        "days": days,
    }
