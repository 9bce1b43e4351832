"""RADIUS write services: credentials, NAS list, blocked policy. Each is one transaction
that also brings FreeRADIUS's tables in line (``sync.py``)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from ispbill.core.audit import audit_record
from ispbill.radius.attributes import normalise_mac
from ispbill.radius.models import CredentialKind, Nas, RadiusCredential, RadiusPolicy
from ispbill.radius.sync import radius_nas_sync, radius_policy, radius_rebuild, radius_sync_services
from ispbill.subscriptions.models import Service

CREDENTIAL_FIELDS = ("kind", "username", "password", "framed_ip")
NAS_FIELDS = ("name", "address", "secret", "coa_port", "type", "description")
POLICY_FIELDS = ("blocked", "blocked_group", "blocked_pool", "blocked_address_list")


def _clean_credential(cred: RadiusCredential) -> None:
    if cred.service.tariff.kind != "internet":
        raise ValidationError("RADIUS credentials belong to internet services only.")
    if cred.kind == CredentialKind.MAC:
        try:
            cred.username = normalise_mac(cred.username)
        except ValueError as exc:
            raise ValidationError(
                {"username": "Enter the MAC address as aa:bb:cc:dd:ee:ff."}
            ) from exc
    if cred.kind == CredentialKind.PPPOE and not cred.password:
        raise ValidationError({"password": "A PPPoE login needs a password."})
    cred.full_clean()


@transaction.atomic
def radius_credential_set(
    *, service: Service, actor: Any = None, **fields: Any
) -> RadiusCredential:
    """Create or change the RADIUS credential of an internet service."""
    unknown = set(fields) - set(CREDENTIAL_FIELDS)
    if unknown:
        raise ValueError(f"not credential fields: {sorted(unknown)}")
    cred = RadiusCredential.objects.select_for_update(no_key=True).filter(service=service).first()
    created = cred is None
    if cred is None:
        cred = RadiusCredential(partner_id=service.partner_id, service=service)
    before = {name: getattr(cred, name) for name in fields}
    for name, value in fields.items():
        setattr(cred, name, (value or None) if name == "framed_ip" else value)
    _clean_credential(cred)
    try:
        with transaction.atomic():
            cred.save()
    except IntegrityError as exc:
        # Another partner's login (invisible in this scope) may hold the name already.
        raise ValidationError({"username": "This user name is already in use."}) from exc
    changes = {
        name: {"before": before[name], "after": getattr(cred, name)}
        for name in fields
        if name != "password" and before[name] != getattr(cred, name)
    }
    if "password" in fields and before["password"] != cred.password:
        changes["password"] = {"before": "***", "after": "***"}
    audit_record(
        action="radius.credential_created" if created else "radius.credential_updated",
        obj=cred,
        actor=actor,
        changes=changes,
    )
    radius_sync_services(service_ids=[service.pk])
    return cred


@transaction.atomic
def nas_create(*, actor: Any = None, **fields: Any) -> Nas:
    nas = Nas(**{k: v for k, v in fields.items() if k in NAS_FIELDS})
    nas.full_clean()
    nas.save()
    audit_record(
        action="radius.nas_created",
        obj=nas,
        actor=actor,
        changes={"name": nas.name, "address": nas.address},
    )
    radius_nas_sync(addresses=[nas.address])
    return nas


@transaction.atomic
def nas_update(*, nas: Nas, actor: Any = None, **fields: Any) -> Nas:
    unknown = set(fields) - set(NAS_FIELDS)
    if unknown:
        raise ValueError(f"not NAS fields: {sorted(unknown)}")
    locked = Nas.objects.select_for_update().get(pk=nas.pk)
    old_address = locked.address
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.full_clean()
    locked.save()
    audit_record(
        action="radius.nas_updated",
        obj=locked,
        actor=actor,
        changes={k: ("***" if k == "secret" else v) for k, v in fields.items()},
    )
    radius_nas_sync(addresses=[old_address, locked.address])
    return locked


@transaction.atomic
def nas_delete(*, nas: Nas, actor: Any = None) -> None:
    address = nas.address
    audit_record(action="radius.nas_deleted", obj=nas, actor=actor, changes={"name": nas.name})
    nas.delete()
    radius_nas_sync(addresses=[address])


@transaction.atomic
def radius_policy_set(*, actor: Any = None, **fields: Any) -> RadiusPolicy:
    """Change what blocked customers get; every blocked user's rows follow at once."""
    unknown = set(fields) - set(POLICY_FIELDS)
    if unknown:
        raise ValueError(f"not policy fields: {sorted(unknown)}")
    policy = radius_policy()
    for name, value in fields.items():
        setattr(policy, name, value)
    policy.full_clean()
    policy.save()
    audit_record(action="radius.policy_updated", obj=policy, actor=actor, changes=fields)
    radius_rebuild()
    return policy
