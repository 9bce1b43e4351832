"""An internet customer with a PPPoE credential, and reads of what FreeRADIUS would see."""

from __future__ import annotations

from datetime import date

from django.db import connections
from django.utils import timezone

from ispbill.customers.models import Customer
from ispbill.radius.attributes import Row, Table
from ispbill.radius.models import RadAcct, RadCheck, RadiusCredential, RadReply, RadUserGroup
from ispbill.radius.routers import radius_alias
from ispbill.radius.services import radius_credential_set
from ispbill.subscriptions.models import Service
from tests.billing.builders import customer, service, tariff


def internet_customer(
    username: str = "jane", *, down: int = 50000, up: int = 10000, price: int = 3000, **kw
) -> tuple[Customer, Service, RadiusCredential]:
    c = customer(**kw)
    s = service(
        c,
        tariff(price=price, kind="internet", download_kbps=down, upload_kbps=up),
        date(2026, 4, 1),
    )
    cred = radius_credential_set(
        service=s, kind="pppoe", username=username, password="pw-" + username
    )
    return c, s, cred


def rows(username: str) -> set[Row]:
    out: set[Row] = set()
    for model, table in ((RadCheck, Table.CHECK), (RadReply, Table.REPLY)):
        for a, op, v in model.objects.filter(username=username).values_list(
            "attribute", "op", "value"
        ):
            out.add(Row(table, username, a, op, v))
    for g, p in RadUserGroup.objects.filter(username=username).values_list("groupname", "priority"):
        out.add(Row(Table.USERGROUP, username, g, "", str(p)))
    return out


def attrs(username: str) -> dict[str, str]:
    return {r.attribute: r.value for r in rows(username)}


def live_session(username: str, nas_ip: str = "127.0.0.1", session: str = "S1") -> RadAcct:
    """A radacct row as FreeRADIUS writes it at Accounting-Start (only its columns set)."""
    with connections[radius_alias()].cursor() as cursor:
        cursor.execute(
            "INSERT INTO radacct (acctsessionid, acctuniqueid, username, nasipaddress,"
            " framedipaddress, acctstarttime, acctinputoctets, acctoutputoctets)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                session,
                f"u-{username}-{session}",
                username,
                nas_ip,
                "100.64.0.7",
                timezone.now(),
                1000,
                5000,
            ],
        )
    return RadAcct.objects.get(acctuniqueid=f"u-{username}-{session}")
