"""Users and their roles (docs/domain.md, "Who may do what")."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q


class Role(models.TextChoices):
    ADMIN = "admin", "Operator administrator"
    ACCOUNTANT = "accountant", "Operator accountant"
    SUPPORT = "support", "Operator support"
    PARTNER_ADMIN = "partner_admin", "Partner administrator"
    PARTNER_STAFF = "partner_staff", "Partner staff"
    CUSTOMER = "customer", "Customer (portal)"


OPERATOR_ROLES = frozenset({Role.ADMIN, Role.ACCOUNTANT, Role.SUPPORT})
PARTNER_ROLES = frozenset({Role.PARTNER_ADMIN, Role.PARTNER_STAFF})


class User(AbstractUser):
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.SUPPORT)
    partner = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(
                        role__in=["admin", "accountant", "support"],
                        partner__isnull=True,
                        customer__isnull=True,
                    )
                    | Q(
                        role__in=["partner_admin", "partner_staff"],
                        partner__isnull=False,
                        customer__isnull=True,
                    )
                    | Q(role="customer", partner__isnull=False, customer__isnull=False)
                ),
                name="user_role_scope_consistent",
            )
        ]

    @property
    def is_operator(self) -> bool:
        return self.role in OPERATOR_ROLES

    @property
    def scope_partner_id(self) -> int | None:
        return self.partner_id


class ApiToken(models.Model):
    """A bearer token for the REST API, acting with its user's role and scope.

    Only a SHA-256 digest of the token is stored: tokens are 256-bit random strings, so a
    fast hash is enough, and the plaintext is shown once at creation and never again."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=16, unique=True, help_text="Public part of the token, shown in lists"
    )
    secret_hash = models.CharField(max_length=64, help_text="SHA-256 hex digest of the token")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, at: Any) -> bool:
        """Not revoked and not expired at ``at``."""
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > at
