"""Sign-in events in the audit log: logins, logouts and failed logins."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from ispbill.core.audit import audit_record, client_address


@receiver(user_logged_in, dispatch_uid="ispbill_audit_login")
def _audit_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_record(
        action="auth.login",
        obj=user,
        actor=user,
        partner_id=getattr(user, "partner_id", None),
        remote_addr=client_address(request),
    )


@receiver(user_logged_out, dispatch_uid="ispbill_audit_logout")
def _audit_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is None or not getattr(user, "pk", None):
        return
    audit_record(
        action="auth.logout",
        obj=user,
        actor=user,
        partner_id=getattr(user, "partner_id", None),
        remote_addr=client_address(request),
    )


@receiver(user_login_failed, dispatch_uid="ispbill_audit_login_failed")
def _audit_login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    # Only the name tried is kept; Django has already masked the password.
    username = str(credentials.get("username", ""))[:150]
    user = get_user_model()._default_manager.filter(username=username).first()
    audit_record(
        action="auth.login_failed",
        obj=user,
        object_type="accounts.user",
        object_id="",
        actor=username or "anonymous",
        partner_id=getattr(user, "partner_id", None),
        changes={"username": username},
        remote_addr=client_address(request) if request is not None else None,
    )
