"""The fail-closed scope: partner, customer and account dimensions."""

from __future__ import annotations

import pytest
from django.http import Http404
from django_scopes import ScopeError, scope
from django_scopes.state import state

from ispbill.core.tenancy import get_scoped_or_404, partner_scope, system_scope
from ispbill.customers.models import Customer
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import Partner
from ispbill.payments.models import Allocation
from tests.security.world import build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return build_world()


def test_query_without_a_scope_raises(world):
    token = state.set({})
    try:
        with pytest.raises(ScopeError):
            list(Customer.objects.all())
    finally:
        state.reset(token)


def test_partner_scope_sees_only_its_partner(world):
    with partner_scope(world.partner_a.pk):
        assert set(Customer.objects.values_list("partner_id", flat=True)) == {world.partner_a.pk}
        assert not Invoice.objects.filter(partner=world.partner_b).exists()
        with pytest.raises(Http404):
            get_scoped_or_404(Customer, pk=world.customer_b.pk)
        with pytest.raises(Http404):
            get_scoped_or_404(Partner, pk=world.partner_b.pk)
        assert get_scoped_or_404(Partner, pk=world.partner_a.pk) == world.partner_a


def test_customer_scope_reaches_only_its_customer_even_without_a_filter(world):
    with scope(partner=world.partner_a.pk, customer=world.customer_a1.pk, account=()):
        assert list(Customer.objects.all()) == [world.customer_a1]
        assert {i.customer_id for i in Invoice.objects.all()} <= {world.customer_a1.pk}
        # A model that cannot be tied to one customer shows nothing at all.
        assert not Allocation.objects.exists()
        with pytest.raises(Http404):
            get_scoped_or_404(Customer, pk=world.customer_a2.pk)
        with pytest.raises(Http404):
            get_scoped_or_404(Invoice.objects.all(), pk=world.object("invoicing.invoice", "A2").pk)


def test_partner_reads_invoices_of_its_account_but_may_not_change_them(world):
    home = Partner.objects.get(is_home=True)
    account = Customer.objects.create(partner=home, reference="ACC-A", name="Account of A")
    world.partner_a.account = account
    world.partner_a.save()
    invoice = Invoice.objects.get(pk=world.object("invoicing.invoice", "A").pk)
    with system_scope():
        account_invoice = Invoice.objects.get(pk=invoice.pk)
        account_invoice.pk = None
        account_invoice.partner = home
        account_invoice.issuer = home
        account_invoice.customer = account
        account_invoice.number = "ACC-1"
        account_invoice.save()
    other_home_customer = Customer.objects.create(partner=home, reference="H1", name="Home")
    with scope(partner=world.partner_a.pk, customer=None, account=(account.pk,)):
        assert get_scoped_or_404(Invoice, pk=account_invoice.pk) == account_invoice
        with pytest.raises(Http404):
            get_scoped_or_404(Invoice, pk=account_invoice.pk, for_write=True)
        # The account customer record itself and other home customers stay out of reach.
        assert not Customer.objects.filter(pk__in=[account.pk, other_home_customer.pk]).exists()


def test_get_scoped_or_404_refuses_unscoped_models(world):
    from ispbill.accounts.models import User

    with pytest.raises(TypeError):
        get_scoped_or_404(User, pk=1)


def test_get_scoped_or_404_bad_id_is_404(world):
    with pytest.raises(Http404):
        get_scoped_or_404(Customer, pk="not-a-number")
