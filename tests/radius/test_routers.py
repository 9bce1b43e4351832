"""RADIUS_DATABASE_URL: FreeRADIUS's tables on the ``radius`` alias, ispbill's own nowhere else."""

from __future__ import annotations

import pytest

from ispbill.customers.models import Customer
from ispbill.radius import routers
from ispbill.radius.models import Nas, RadAcct, RadCheck, RadiusCredential

ROUTER = routers.RadiusRouter()


def test_default_everything_in_ispbills_database():
    assert routers.radius_alias() == "default" and not routers.radius_separate()
    assert ROUTER.db_for_write(RadCheck) == "default"
    assert ROUTER.db_for_read(Customer) is None
    assert ROUTER.allow_migrate("default", "radius", freeradius=True) is True


@pytest.fixture
def separate(monkeypatch):
    monkeypatch.setattr(routers, "radius_alias", lambda: routers.RADIUS_ALIAS)


def test_separate_database_gets_only_freeradius_tables(separate):
    assert ROUTER.db_for_read(RadAcct) == "radius"
    assert ROUTER.db_for_write(RadCheck) == "radius"
    for model in (RadiusCredential, Nas, Customer):
        assert ROUTER.db_for_write(model) is None
    assert ROUTER.allow_migrate("radius", "radius", freeradius=True) is True
    assert ROUTER.allow_migrate("default", "radius", freeradius=True) is False
    assert ROUTER.allow_migrate("radius", "radius", model_name="nas") is False
    assert ROUTER.allow_migrate("radius", "customers", model_name="customer") is False
    assert ROUTER.allow_migrate("default", "customers", model_name="customer") is None


@pytest.mark.django_db
def test_separate_database_rows_follow_after_commit(
    home, monkeypatch, django_capture_on_commit_callbacks
):
    """Another database cannot share ispbill's transaction: its rows are written on commit."""
    from ispbill.customers.services import customer_status_set
    from ispbill.radius import sync
    from tests.radius.builders import attrs, internet_customer

    monkeypatch.setattr(sync, "radius_separate", lambda: True)
    with django_capture_on_commit_callbacks(execute=True):
        c, _s, _cred = internet_customer("jane")
    assert "Mikrotik-Rate-Limit" in attrs("jane")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        customer_status_set(customer=c, status="blocked")
    assert "Mikrotik-Rate-Limit" in attrs("jane")  # not yet: ispbill has not committed
    for callback in callbacks:
        callback()
    assert attrs("jane") == {"Auth-Type": "Reject"}
