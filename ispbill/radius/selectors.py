"""Reads of FreeRADIUS's accounting (radacct) for ispbill's services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Sum

from ispbill.radius.models import RadAcct, RadCheck, RadiusCredential, RadReply, RadUserGroup
from ispbill.radius.routers import radius_alias


@dataclass(frozen=True)
class Session:
    session_id: str
    nas_ip: str
    framed_ip: str
    start: datetime | None
    stop: datetime | None
    seconds: int
    upload_bytes: int  # what the customer sent: Acct-Input-Octets, seen from the NAS
    download_bytes: int
    terminate_cause: str

    @property
    def is_live(self) -> bool:
        return self.stop is None

    @property
    def duration(self) -> str:
        """1d 02:03:04, or 02:03:04 under a day."""
        days, rest = divmod(self.seconds, 86400)
        hours, rest = divmod(rest, 3600)
        clock = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
        return f"{days}d {clock}" if days else clock


@dataclass(frozen=True)
class Traffic:
    sessions: list[Session]
    upload_bytes: int
    download_bytes: int


def radius_sessions(*, username: str, limit: int = 50) -> Traffic:
    """The latest sessions of one RADIUS user and its traffic over all recorded sessions."""
    qs = RadAcct.objects.using(radius_alias()).filter(username=username)
    totals = qs.aggregate(up=Sum("acctinputoctets"), down=Sum("acctoutputoctets"))
    sessions = [
        Session(
            session_id=r.acctsessionid,
            nas_ip=str(r.nasipaddress),
            framed_ip=str(r.framedipaddress or ""),
            start=r.acctstarttime,
            stop=r.acctstoptime,
            seconds=r.acctsessiontime or 0,
            upload_bytes=r.acctinputoctets or 0,
            download_bytes=r.acctoutputoctets or 0,
            terminate_cause=r.acctterminatecause or "",
        )
        for r in qs.order_by("-acctstarttime", "-radacctid")[:limit]
    ]
    return Traffic(
        sessions=sessions, upload_bytes=totals["up"] or 0, download_bytes=totals["down"] or 0
    )


def radius_provisioned(*, username: str) -> list[tuple[str, str, str, str]]:
    """The rows FreeRADIUS holds for a user now: (table, attribute, op, value)."""
    alias = radius_alias()
    rows: list[tuple[str, str, str, str]] = []
    for model, table in ((RadCheck, "radcheck"), (RadReply, "radreply")):
        for a, op, v in (
            model.objects.using(alias)
            .filter(username=username)
            .order_by("id")
            .values_list("attribute", "op", "value")
        ):
            rows.append((table, a, op, "***" if a.endswith("-Password") else v))
    for g, p in (
        RadUserGroup.objects.using(alias)
        .filter(username=username)
        .values_list("groupname", "priority")
    ):
        rows.append(("radusergroup", g, "", str(p)))
    return rows


def radius_credentials_of_customer(*, customer_id: int) -> list[RadiusCredential]:
    return list(
        RadiusCredential.objects.filter(service__customer_id=customer_id)
        .select_related("service__tariff")
        .order_by("pk")
    )
