"""Audit trail shared by every domain package."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from ispbill.core.tenancy import PartnerScopedManager


class AuditEvent(models.Model):
    """One write: who, what, before/after of changed fields, when, from where.

    Written in the same transaction as the change it records; never modified."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(
        max_length=150, blank=True, help_text="'system', a username, ..."
    )
    action = models.CharField(max_length=60, db_index=True)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=40)
    partner = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    changes = models.JSONField(default=dict, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)

    # Partner administrators read their partner's events; events without a partner
    # (operator-level) are visible in the all-partners scope only.
    objects = PartnerScopedManager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["partner", "-id"]),
            models.Index(fields=["actor", "-id"]),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"
