"""Account services: users and API tokens. Each write records an audit event in its
transaction.

Who may manage which users is decided here, not only in the forms and API handlers that
call these services: operator staff (and background work) manage every user; in a
partner's scope -- a partner administrator, or an operator administrator viewing as a
partner -- only that partner's staff and portal users, and never operator staff."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from ispbill.accounts.models import OPERATOR_ROLES, PARTNER_ROLES, ApiToken, Role, User
from ispbill.core.audit import audit_record
from ispbill.core.errors import DomainValidationError, NotAllowed
from ispbill.core.tenancy import current_customer_id, current_partner_ids
from ispbill.core.validation import field_values, model_validate, reject_unknown, values_diff

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
        raise DomainValidationError.for_fields(
            {"name": "Give the token a name, so it can be recognised and revoked later."}
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise DomainValidationError.for_fields(
            {"expires_at": "The expiry date must be in the future."}
        )
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
# Roles a partner's scope may give: its own staff and its customers' portal users.
PARTNER_SCOPE_ROLES = frozenset({*PARTNER_ROLES, Role.CUSTOMER})


def users_managed_partner_ids(actor: Any = None) -> list[int] | None:
    """The partners whose users may be managed in the open scope by ``actor``: None for
    all (operator staff, background work), else a list (empty for portal users).

    The open tenant scope decides (it is a partner's while an operator administrator views
    as that partner); a partner user as actor narrows it to its own partner in any case."""
    if current_customer_id() is not None:
        return []
    partners = current_partner_ids()
    role = getattr(actor, "role", None)
    if role is not None and role not in OPERATOR_ROLES:
        own = getattr(actor, "partner_id", None)
        mine = [own] if role in PARTNER_ROLES and own is not None else []
        partners = mine if partners is None else [p for p in partners if p in mine]
    return partners


def users_manageable(*, actor: Any = None) -> QuerySet[User]:
    """The users ``actor`` may see and manage in the open scope."""
    partners = users_managed_partner_ids(actor)
    if partners is None:
        return User.objects.all()
    return User.objects.filter(partner_id__in=partners)


def _user_check(user: User) -> None:
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


def _role_in_scope(role: str | None, partners: list[int] | None) -> None:
    if partners is not None and role is not None and role not in PARTNER_SCOPE_ROLES:
        raise NotAllowed("A partner administrator creates partner staff and portal users only.")


def _user_in_scope(user: User, partners: list[int] | None) -> None:
    if partners is not None and user.partner_id not in partners:
        raise NotAllowed("This user is not one of your partner's users.")


def user_create(
    *,
    username: str,
    role: str,
    email: str = "",
    partner: Any = None,
    customer: Any = None,
    first_name: str = "",
    last_name: str = "",
    password: str | None = None,
    actor: Any = None,
) -> User:
    """A new user. Without ``password`` it has none: it sets one through the emailed link
    (``user_password_link_send``, or "forgot password"), or works with API tokens only.

    In a partner's scope only partner staff and portal users of that partner are created:
    another role is refused (``NotAllowed``), another partner is unknown."""
    partners = users_managed_partner_ids(actor)
    _role_in_scope(role, partners)
    with transaction.atomic():
        username = username.strip()
        if User.objects.filter(username__iexact=username).exists():
            raise DomainValidationError.for_fields(
                {"username": f"The user name {username!r} is taken."}, code="duplicate"
            )
        if customer is not None and partner is None:
            partner = customer.partner
        if partners is not None and getattr(partner, "pk", None) not in partners:
            raise DomainValidationError.for_fields({"partner_id": "No such partner."})
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
        if password:
            try:
                validate_password(password, user)
            except ValidationError as exc:
                text = " ".join(exc.messages)
                raise DomainValidationError.for_fields({"password": text}) from exc
            user.set_password(password)
        user.save()
        audit_record(
            action="user.created",
            obj=user,
            actor=actor,
            partner_id=user.partner_id,
            changes={
                "username": username,
                "role": role,
                "email": user.email,
                "password": "set" if password else "none",
            },
        )
    return user


def user_update(*, user: User, actor: Any = None, **changes: Any) -> User:
    """Change a user's details, role or active flag (a deactivated user's tokens stop
    working at once). In a partner's scope only that partner's users, never to an operator
    role; nobody disables themselves or changes their own role."""
    reject_unknown(changes, USER_FIELDS)
    partners = users_managed_partner_ids(actor)
    _role_in_scope(changes.get("role"), partners)
    with transaction.atomic():
        locked = User.objects.select_for_update(no_key=True).get(pk=user.pk)
        _user_in_scope(locked, partners)
        if getattr(actor, "pk", None) == locked.pk:
            if changes.get("is_active") is False:
                raise DomainValidationError.for_fields(
                    {"is_active": "You cannot disable your own account."}
                )
            if "role" in changes and changes["role"] != locked.role:
                raise DomainValidationError.for_fields(
                    {"role": "You cannot change your own role; ask another administrator."}
                )
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


def user_password_link_send(*, user: User, site_url: str, actor: Any = None) -> str:
    """Email ``user`` a link to choose a password (the password-reset confirmation page; it
    works once and expires after PASSWORD_RESET_TIMEOUT), after commit. Returns the
    address. In a partner's scope only to that partner's users."""
    _user_in_scope(user, users_managed_partner_ids(actor))
    address = user.email.strip()
    if not address:
        raise DomainValidationError.for_fields(
            {"email": "The user has no email address to send the link to."}
        )
    if not user.is_active:
        raise DomainValidationError.for_fields(
            {"is_active": "The user is disabled; enable it before sending a link."}
        )
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    hours = max(1, int(settings.PASSWORD_RESET_TIMEOUT) // 3600)
    body = (
        f"Hello {user.get_full_name() or user.username},\n\n"
        f'an ispbill account "{user.username}" is ready for you. Choose your password here '
        f"(the link works once and expires within {hours} hour{'s' if hours != 1 else ''}):\n\n"
        f"{site_url.rstrip('/')}{path}\n\n"
        "Afterwards sign in with your user name and that password.\n"
    )
    message = EmailMessage(subject="Your ispbill account", body=body, to=[address])
    with transaction.atomic():
        audit_record(
            action="user.password_link_sent",
            obj=user,
            actor=actor,
            partner_id=user.partner_id,
            changes={"to": address},
        )
        transaction.on_commit(message.send)
    return address


def user_password_change(*, user: User, old_password: str, new_password: str) -> User:
    """A signed-in user changes their own password: the old one must match and the new one
    pass the password validators; audited without either password."""
    if not user.check_password(old_password):
        raise DomainValidationError.for_fields(
            {"old_password": "Your old password was entered incorrectly. Enter it again."}
        )
    try:
        validate_password(new_password, user)
    except ValidationError as exc:
        raise DomainValidationError.for_fields({"new_password1": " ".join(exc.messages)}) from exc
    with transaction.atomic():
        locked = User.objects.select_for_update(no_key=True).get(pk=user.pk)
        locked.set_password(new_password)
        locked.save(update_fields=["password"])
        audit_record(
            action="user.password_changed",
            obj=locked,
            actor=locked,
            partner_id=locked.partner_id,
            changes={},
        )
    user.password = locked.password
    return locked
