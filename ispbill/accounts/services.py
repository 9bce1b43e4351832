"""Account services: API tokens. Each write records an audit event in its transaction."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from ispbill.accounts.models import ApiToken, User
from ispbill.core.audit import audit_record

TOKEN_MARK = "ispb"


def _digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _split(plaintext: str) -> tuple[str, str] | None:
    parts = plaintext.split("_")
    if len(parts) != 3 or parts[0] != TOKEN_MARK or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def api_token_create(
    *,
    user: User,
    name: str,
    expires_at: datetime | None = None,
    actor: Any = None,
    remote_addr: str | None = None,
) -> tuple[ApiToken, str]:
    """A new token for ``user``: the row and the plaintext, which is never stored or shown
    again. The plaintext is ``ispb_<prefix>_<secret>``; the prefix identifies it in lists."""
    name = name.strip()
    if not name:
        raise ValueError("Give the token a name, so it can be recognised and revoked later.")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValueError("The expiry date must be in the future.")
    with transaction.atomic():
        while True:
            prefix = secrets.token_hex(4)
            if not ApiToken.objects.filter(prefix=prefix).exists():
                break
        plaintext = f"{TOKEN_MARK}_{prefix}_{secrets.token_urlsafe(32).replace('_', '-')}"
        token = ApiToken.objects.create(
            user=user,
            name=name[:100],
            prefix=prefix,
            secret_hash=_digest(plaintext),
            expires_at=expires_at,
        )
        audit_record(
            action="api_token.create",
            obj=token,
            actor=actor or user,
            partner_id=user.partner_id,
            changes={"name": token.name, "prefix": prefix, "expires_at": expires_at},
            remote_addr=remote_addr,
        )
    return token, plaintext


def api_token_revoke(
    *, token: ApiToken, actor: Any = None, remote_addr: str | None = None
) -> ApiToken:
    """Revoke a token at once; revoking twice changes nothing."""
    with transaction.atomic():
        locked = ApiToken.objects.select_for_update(no_key=True).get(pk=token.pk)
        if locked.revoked_at is None:
            locked.revoked_at = timezone.now()
            locked.save(update_fields=["revoked_at"])
            audit_record(
                action="api_token.revoke",
                obj=locked,
                actor=actor or locked.user,
                partner_id=locked.user.partner_id,
                changes={"name": locked.name, "prefix": locked.prefix},
                remote_addr=remote_addr,
            )
    return locked


def api_token_authenticate(plaintext: str) -> ApiToken | None:
    """The usable token matching ``plaintext`` (its user active), else None."""
    parts = _split(plaintext.strip())
    if parts is None:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=parts[0]).first()
    if token is None or not hmac.compare_digest(token.secret_hash, _digest(plaintext.strip())):
        return None
    now = timezone.now()
    if not token.is_usable(now) or not token.user.is_active:
        return None
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def api_token_list(*, user: User) -> list[ApiToken]:
    """A user's own tokens, newest first."""
    return list(ApiToken.objects.filter(user=user))


USER_FIELDS = ("email", "first_name", "last_name", "role", "is_active")


def _user_check(user: User) -> None:
    from ispbill.accounts.models import OPERATOR_ROLES, PARTNER_ROLES, Role
    from ispbill.core.errors import DomainValidationError
    from ispbill.core.validation import model_validate

    fields: dict[str, str] = {}
    if user.role not in Role.values:
        fields["role"] = "Choose " + ", ".join(Role.values) + "."
    elif user.role in OPERATOR_ROLES and user.partner_id is not None:
        fields["partner_id"] = "Operator staff belong to no partner."
    elif user.role in PARTNER_ROLES and (user.partner_id is None or user.customer_id):
        fields["partner_id"] = "Partner staff need a partner (and no customer)."
    elif user.role == Role.CUSTOMER and (user.partner_id is None or user.customer_id is None):
        fields["customer_id"] = "A portal user needs the customer it belongs to."
    if fields:
        raise DomainValidationError.for_fields(fields)
    model_validate(user, exclude=["password", "partner", "customer"])


def user_create(
    *,
    username: str,
    role: str,
    email: str = "",
    partner: Any = None,
    customer: Any = None,
    first_name: str = "",
    last_name: str = "",
    actor: Any = None,
) -> User:
    """A user without a password: it sets one through "forgot password", or works with API
    tokens only."""
    from ispbill.core.errors import DomainValidationError

    with transaction.atomic():
        username = username.strip()
        if User.objects.filter(username__iexact=username).exists():
            raise DomainValidationError.for_fields(
                {"username": f"The user name {username!r} is taken."}, code="duplicate"
            )
        if customer is not None and partner is None:
            partner = customer.partner
        if customer is not None and customer.partner_id != getattr(partner, "pk", None):
            raise DomainValidationError.for_fields(
                {"customer_id": "The customer belongs to another partner."}
            )
        user = User(
            username=username,
            role=role,
            email=email.strip(),
            partner=partner,
            customer=customer,
            first_name=first_name.strip(),
            last_name=last_name.strip(),
        )
        user.set_unusable_password()
        _user_check(user)
        user.save()
        audit_record(
            action="user.created",
            obj=user,
            actor=actor,
            partner_id=user.partner_id,
            changes={"username": username, "role": role, "email": user.email},
        )
    return user


def user_update(*, user: User, actor: Any = None, **changes: Any) -> User:
    """Change a user's details, role or active flag (a deactivated user's tokens stop
    working at once)."""
    from ispbill.core.validation import field_values, reject_unknown, values_diff

    reject_unknown(changes, USER_FIELDS)
    with transaction.atomic():
        locked = User.objects.select_for_update(no_key=True).get(pk=user.pk)
        before = field_values(locked, changes)
        for name, value in changes.items():
            setattr(locked, name, value.strip() if isinstance(value, str) else value)
        _user_check(locked)
        diff = values_diff(before, field_values(locked, changes))
        if diff:
            locked.save(update_fields=list(changes))
            audit_record(
                action="user.updated",
                obj=locked,
                actor=actor,
                partner_id=locked.partner_id,
                changes=diff,
            )
    return locked
