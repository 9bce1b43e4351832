"""Capabilities per role and partner mode (docs/domain.md, "Who may do what")."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from ispbill.accounts.models import Role, User
from ispbill.accounts.permissions import (
    CAPABILITIES,
    capabilities_for,
    require_capability,
    user_can,
)
from ispbill.partners.models import Partner, PartnerMode

# (role, mode) -> capabilities it must have and must not have.
EXPECTED = [
    (Role.ADMIN, None, {"partners.manage", "users.manage", "impersonate", "billing.run"}, set()),
    (Role.ACCOUNTANT, None, {"finance.write", "billing.run", "audit.read"}, {"users.manage"}),
    (
        Role.SUPPORT,
        None,
        {"customers.write", "finance.read"},
        {"finance.write", "billing.run", "impersonate", "audit.read"},
    ),
    (
        Role.PARTNER_ADMIN,
        PartnerMode.OWN_INVOICING,
        {"customers.write", "finance.write", "billing.run", "issuer.manage", "users.manage"},
        {"partners.manage", "impersonate", "commission.manage"},
    ),
    (
        Role.PARTNER_STAFF,
        PartnerMode.OWN_INVOICING,
        {"customers.write", "finance.write"},
        {"users.manage", "audit.read", "billing.run", "issuer.manage"},
    ),
    (
        Role.PARTNER_ADMIN,
        PartnerMode.PERCENTAGE,
        {"customers.write", "finance.read", "commission.read"},
        {"finance.write", "finance.pay", "billing.run", "issuer.manage"},
    ),
    (
        Role.PARTNER_ADMIN,
        PartnerMode.AGGREGATED,
        {"customers.write", "finance.read", "finance.pay"},
        {"finance.write", "billing.run", "commission.read"},
    ),
    (
        Role.CUSTOMER,
        PartnerMode.PERCENTAGE,
        {"portal.read", "portal.change_plan", "portal.topup"},
        {"customers.read", "finance.read", "audit.read"},
    ),
    (Role.PARTNER_ADMIN, PartnerMode.DIRECT, set(), {"customers.read"}),
]


@pytest.mark.parametrize(("role", "mode", "has", "lacks"), EXPECTED)
def test_capabilities_per_role_and_mode(role, mode, has, lacks):
    caps = capabilities_for(role, mode)
    assert has <= caps
    assert not (lacks & caps)
    assert caps <= set(CAPABILITIES)


def test_disabled_partner_keeps_reading_only():
    caps = capabilities_for(Role.PARTNER_ADMIN, PartnerMode.OWN_INVOICING, partner_active=False)
    assert "finance.read" in caps
    assert not {"customers.write", "finance.write", "users.manage"} & caps
    portal = capabilities_for(Role.CUSTOMER, PartnerMode.PERCENTAGE, partner_active=False)
    # Customers have no API tokens; changing plan needs an active partner.
    assert portal == {"portal.read"}


@pytest.mark.django_db
def test_user_can_follows_the_partner_mode():
    partner = Partner.objects.create(name="P", mode=PartnerMode.PERCENTAGE)
    user = User.objects.create(username="p", role=Role.PARTNER_ADMIN, partner=partner)
    assert user_can(user, "customers.write")
    assert not user_can(user, "finance.write")
    partner.mode = PartnerMode.OWN_INVOICING
    partner.save()
    assert user_can(user, "finance.write")
    user.is_active = False
    assert not user_can(user, "customers.read")


def test_unknown_capability_is_a_programming_error():
    with pytest.raises(ValueError):
        require_capability("customers.delete_everything")
    with pytest.raises(ValueError):
        capabilities_for(Role.ADMIN)  # fine
        user_can(None, "nope")


@pytest.mark.django_db
def test_decorator_answers_login_redirect_403_or_the_view():
    @require_capability("finance.write")
    def view(request):
        return HttpResponse("ok")

    assert view.required_capability == "finance.write"
    factory = RequestFactory()
    from django.contrib.auth.models import AnonymousUser
    from django.core.exceptions import PermissionDenied

    request = factory.get("/x")
    request.user = AnonymousUser()
    assert view(request).status_code == 302
    support = User.objects.create(username="s", role=Role.SUPPORT)
    request = factory.get("/x")
    request.user = support
    with pytest.raises(PermissionDenied):
        view(request)
    accountant = User.objects.create(username="a", role=Role.ACCOUNTANT)
    request = factory.get("/x")
    request.user = accountant
    assert view(request).content == b"ok"
