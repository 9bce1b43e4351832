"""Users and their roles (DOMAIN.md "Who may do what")."""

from __future__ import annotations

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
