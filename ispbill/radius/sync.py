"""Keeping FreeRADIUS's tables in step with billing.

Every change of a customer's status, a service's status or a tariff's speeds calls one of
``radius_sync_customers``, ``radius_sync_services`` or ``radius_sync_tariff`` inside the
transaction that made it. With the tables in ispbill's own database (the default) the rows
change in that same transaction: a rolled-back block leaves RADIUS untouched. With a separate
RADIUS database (``RADIUS_DATABASE_URL``) they change right after ispbill's commit, and
``ispbill radius-sync`` repairs any difference. Either way, once both are committed, the
sessions of the users whose rows changed are told by CoA or Disconnect (``coa.py``)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from django.db import transaction
from django.db.models import F, QuerySet

from ispbill.core.tenancy import system_scope
from ispbill.radius.attributes import (
    Access,
    CredentialData,
    PolicyData,
    Row,
    Table,
    blocked_group_rows,
    coa_attributes,
    credential_rows,
    service_access,
)
from ispbill.radius.models import (
    Nas,
    RadCheck,
    RadGroupReply,
    RadiusCredential,
    RadiusPolicy,
    RadNas,
    RadReply,
    RadUserGroup,
)
from ispbill.radius.routers import radius_alias, radius_separate
from ispbill.radius.tasks import radius_sessions_update_task

log = logging.getLogger(__name__)
BATCH = 1000


def radius_policy() -> RadiusPolicy:
    """The blocked-customer policy (one row, created with the defaults on first use)."""
    policy, _ = RadiusPolicy.objects.get_or_create(pk=1)
    return policy


def _policy_data(policy: RadiusPolicy) -> PolicyData:
    return PolicyData(
        blocked=policy.blocked,
        blocked_group=policy.blocked_group,
        blocked_pool=policy.blocked_pool,
        blocked_address_list=policy.blocked_address_list,
    )


def _credentials(qs: QuerySet[RadiusCredential]) -> list[RadiusCredential]:
    return list(qs.select_related("service__customer", "service__tariff").order_by("pk"))


def _access(cred: RadiusCredential) -> Access:
    service = cred.service
    return service_access(
        customer_status=service.customer.status,
        service_status=service.status,
        tariff_kind=service.tariff.kind,
    )


def _rows(cred: RadiusCredential, policy: PolicyData) -> tuple[Access, list[Row]]:
    tariff = cred.service.tariff
    data = CredentialData(
        username=cred.username,
        password=cred.password,
        kind=cred.kind,
        framed_ip=cred.framed_ip,
        download_kbps=tariff.download_kbps,
        upload_kbps=tariff.upload_kbps,
    )
    access = _access(cred)
    if access is Access.ACTIVE and cred.capped == "block":
        access = Access.BLOCKED
    elif access is Access.ACTIVE and cred.capped == "throttle":
        # The month's volume is used up (docs/usage.md): the tariff's reduced speeds.
        data = replace(
            data,
            download_kbps=tariff.throttle_download_kbps,
            upload_kbps=tariff.throttle_upload_kbps,
        )
    return access, credential_rows(data, access, policy)


def _current(alias: str, usernames: list[str]) -> dict[str, set[Row]]:
    out: dict[str, set[Row]] = defaultdict(set)
    for model, table in ((RadCheck, Table.CHECK), (RadReply, Table.REPLY)):
        for u, a, op, v in (
            model.objects.using(alias)
            .filter(username__in=usernames)
            .values_list("username", "attribute", "op", "value")
        ):
            out[u].add(Row(table, u, a, op, v))
    for u, g, p in (
        RadUserGroup.objects.using(alias)
        .filter(username__in=usernames)
        .values_list("username", "groupname", "priority")
    ):
        out[u].add(Row(Table.USERGROUP, u, g, "", str(p)))
    return out


def _delete_users(alias: str, usernames: list[str]) -> None:
    for model in (RadCheck, RadReply, RadUserGroup):
        model.objects.using(alias).filter(username__in=usernames).delete()


def _insert(alias: str, rows: Iterable[Row]) -> int:
    checks: list[RadCheck] = []
    replies: list[RadReply] = []
    groups: list[RadUserGroup] = []
    for r in rows:
        if r.table is Table.CHECK:
            checks.append(
                RadCheck(username=r.username, attribute=r.attribute, op=r.op, value=r.value)
            )
        elif r.table is Table.REPLY:
            replies.append(
                RadReply(username=r.username, attribute=r.attribute, op=r.op, value=r.value)
            )
        else:
            groups.append(
                RadUserGroup(username=r.username, groupname=r.attribute, priority=int(r.value))
            )
    RadCheck.objects.using(alias).bulk_create(checks, batch_size=BATCH)
    RadReply.objects.using(alias).bulk_create(replies, batch_size=BATCH)
    RadUserGroup.objects.using(alias).bulk_create(groups, batch_size=BATCH)
    return len(checks) + len(replies) + len(groups)


def _sync(creds: list[RadiusCredential]) -> list[str]:
    """Write the rows of ``creds`` where they differ; returns the usernames changed (when
    the RADIUS tables share ispbill's transaction; [] when they follow after commit)."""
    if not creds:
        return []
    policy = _policy_data(radius_policy())
    desired: dict[str, list[Row]] = {}
    access: dict[str, Access] = {}
    for cred in creds:
        access[cred.username], desired[cred.username] = _rows(cred, policy)
    for cred in creds:
        old = cred.provisioned_username
        if old and old != cred.username and old not in desired:
            desired[old], access[old] = [], Access.NONE
    renamed = [c.pk for c in creds if c.provisioned_username != c.username]
    if renamed:
        RadiusCredential.objects.filter(pk__in=renamed).update(provisioned_username=F("username"))

    def write() -> list[str]:
        alias = radius_alias()
        with transaction.atomic(using=alias):
            current = _current(alias, list(desired))
            changed = [u for u in desired if set(desired[u]) != current.get(u, set())]
            if changed:
                _delete_users(alias, changed)
                _insert(alias, (r for u in changed for r in desired[u]))
        log.info("radius.synced", extra={"users": len(desired), "changed": len(changed)})
        return changed

    def notify(changed: list[str]) -> None:
        if not changed:
            return

        payload = [
            {
                "username": u,
                "access": access[u].value,
                "attributes": coa_attributes(desired[u]),
            }
            for u in changed
        ]
        radius_sessions_update_task.delay(payload)

    if radius_separate():
        # Another database cannot join ispbill's transaction: follow its commit.
        transaction.on_commit(lambda: notify(write()))
        return []
    changed = write()
    transaction.on_commit(_later(notify, changed))
    return changed


def _later(fn: Callable[[list[str]], None], arg: list[str]) -> Callable[[], None]:
    return lambda: fn(arg)


def radius_sync_services(*, service_ids: Iterable[int]) -> list[str]:
    """Bring the RADIUS rows of these services in line with their status and tariff."""
    with system_scope():
        return _sync(
            _credentials(RadiusCredential.objects.filter(service_id__in=list(service_ids)))
        )


def radius_sync_customers(*, customer_ids: Iterable[int]) -> list[str]:
    """Bring the RADIUS rows of every service of these customers in line."""
    ids = list(customer_ids)
    if not ids:
        return []
    with system_scope():
        return _sync(_credentials(RadiusCredential.objects.filter(service__customer_id__in=ids)))


def radius_sync_tariff(*, tariff_id: int) -> list[str]:
    """A tariff's speeds changed: every service on it gets the new rate limit."""
    with system_scope():
        return _sync(_credentials(RadiusCredential.objects.filter(service__tariff_id=tariff_id)))


@dataclass
class RebuildResult:
    users: int
    rows: int
    group_rows: int
    nas: int


def radius_rebuild() -> RebuildResult:
    """Rebuild radcheck, radreply, radusergroup, radgroupreply and nas from ispbill, set-wise
    (one read of every credential, bulk inserts), in one transaction of the RADIUS database.
    These tables belong to ispbill: rows it does not know are removed. radacct is kept."""
    policy = _policy_data(radius_policy())
    with system_scope():
        creds = _credentials(RadiusCredential.objects.all())
    rows = [r for cred in creds for r in _rows(cred, policy)[1]]
    group_rows = blocked_group_rows(policy)
    nases = list(Nas.objects.all())
    alias = radius_alias()
    with transaction.atomic(using=alias):
        for model in (RadCheck, RadReply, RadUserGroup, RadGroupReply, RadNas):
            model.objects.using(alias).all().delete()
        count = _insert(alias, rows)
        RadGroupReply.objects.using(alias).bulk_create(
            [RadGroupReply(groupname=g, attribute=a, op=op, value=v) for g, a, op, v in group_rows]
        )
        RadNas.objects.using(alias).bulk_create([_rad_nas(n) for n in nases])
    with system_scope():
        RadiusCredential.objects.exclude(provisioned_username=F("username")).update(
            provisioned_username=F("username")
        )
    return RebuildResult(users=len(creds), rows=count, group_rows=len(group_rows), nas=len(nases))


def _rad_nas(nas: Nas) -> RadNas:
    return RadNas(
        nasname=nas.address,
        shortname=nas.name,
        type=nas.type,
        secret=nas.secret,
        description=nas.description or "ispbill",
    )


def radius_nas_sync(*, addresses: Iterable[str]) -> None:
    """Rewrite FreeRADIUS's ``nas`` rows for these addresses from ispbill's NAS list."""
    wanted = [a for a in set(addresses) if a]
    alias = radius_alias()

    def write() -> None:
        with transaction.atomic(using=alias):
            RadNas.objects.using(alias).filter(nasname__in=wanted).delete()
            RadNas.objects.using(alias).bulk_create(
                [_rad_nas(n) for n in Nas.objects.filter(address__in=wanted)]
            )

    if radius_separate():
        transaction.on_commit(write)
    else:
        write()
