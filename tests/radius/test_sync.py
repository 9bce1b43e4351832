"""FreeRADIUS's tables follow billing: status changes, service changes, tariff speeds."""

from __future__ import annotations

from datetime import date

import pytest

from ispbill.billing.run import billing_run_start
from ispbill.catalog.services import tariff_update
from ispbill.core.money import Money
from ispbill.customers.models import Customer
from ispbill.customers.services import customer_status_set
from ispbill.dunning.services import dunning_run
from ispbill.payments.services import payment_record
from ispbill.radius.models import RadCheck, RadGroupReply, RadNas, RadReply, RadUserGroup
from ispbill.radius.services import (
    nas_create,
    nas_delete,
    nas_update,
    radius_credential_set,
    radius_policy_set,
)
from ispbill.radius.sync import radius_rebuild, radius_sync_customers
from ispbill.subscriptions.services import service_update
from tests.radius.builders import attrs, internet_customer, rows

pytestmark = pytest.mark.django_db


def status(c):
    return Customer.objects.get(pk=c.pk).status


def test_active_customer_gets_password_and_rate_limit(home):
    internet_customer("jane")
    assert attrs("jane") == {
        "Cleartext-Password": "pw-jane",
        "Mikrotik-Rate-Limit": "10000k/50000k",
        "WISPr-Bandwidth-Max-Up": "10000000",
        "WISPr-Bandwidth-Max-Down": "50000000",
    }


def test_dunning_blocks_with_reject_and_payment_brings_the_rate_limit_back(home):
    c, _s, _cred = internet_customer("jane")
    billing_run_start(run_date=date(2026, 4, 1))  # 35.70 due 15 April
    dunning_run(today=date(2026, 4, 26))
    assert status(c) == "blocked"
    assert attrs("jane") == {"Auth-Type": "Reject"}
    payment_record(
        customer=c, amount=Money.parse("35.70", "EUR"), on=date(2026, 4, 27), reference="P1"
    )
    assert status(c) == "active"
    assert attrs("jane")["Mikrotik-Rate-Limit"] == "10000k/50000k"
    assert "Auth-Type" not in attrs("jane")


def test_blocked_pool_policy_puts_the_user_in_the_blocked_group(home):
    radius_policy_set(blocked="pool", blocked_pool="unpaid", blocked_address_list="payment")
    c, _s, _cred = internet_customer("jane")
    customer_status_set(customer=c, status="blocked")
    assert attrs("jane") == {"Cleartext-Password": "pw-jane", "blocked": "1"}
    assert set(
        RadGroupReply.objects.filter(groupname="blocked").values_list("attribute", "value")
    ) == {("Framed-Pool", "unpaid"), ("Mikrotik-Address-List", "payment")}
    customer_status_set(customer=c, status="active")
    assert not RadUserGroup.objects.filter(username="jane").exists()


def test_inactive_customer_and_stopped_service_are_removed(home):
    c, s, _cred = internet_customer("jane")
    customer_status_set(customer=c, status="inactive")
    assert rows("jane") == set()
    customer_status_set(customer=c, status="active")
    assert attrs("jane")["Cleartext-Password"] == "pw-jane"
    service_update(service=s, end_date=date(2026, 5, 31), status="stopped")
    assert rows("jane") == set()


def test_paused_service_is_blocked(home):
    _c, s, _cred = internet_customer("jane")
    service_update(service=s, status="paused")
    assert attrs("jane") == {"Auth-Type": "Reject"}
    service_update(service=s, status="active")
    assert "Mikrotik-Rate-Limit" in attrs("jane")


def test_tariff_speed_change_reaches_every_service_on_it(home):
    _c, s, _cred = internet_customer("jane")
    tariff_update(tariff=s.tariff, download_kbps=100000, upload_kbps=20000)
    assert attrs("jane")["Mikrotik-Rate-Limit"] == "20000k/100000k"


def test_renamed_login_leaves_no_rows_behind(home):
    _c, s, _cred = internet_customer("jane")
    radius_credential_set(service=s, username="jane2")
    assert rows("jane") == set()
    assert attrs("jane2")["Cleartext-Password"] == "pw-jane"


def test_rolled_back_block_leaves_radius_untouched(home):
    c, _s, _cred = internet_customer("jane")
    before = rows("jane")
    with pytest.raises(RuntimeError):
        from django.db import transaction

        with transaction.atomic():
            customer_status_set(customer=c, status="blocked")
            assert attrs("jane") == {"Auth-Type": "Reject"}
            raise RuntimeError("abort")
    assert rows("jane") == before


def test_aggregated_partner_cascade_blocks_sub_customers(home):
    from ispbill.partners.models import PartnerMode
    from tests.factories import partner_with_account

    partner = partner_with_account(mode=PartnerMode.AGGREGATED, block_subcustomers=True)
    _c, _s, _cred = internet_customer("sub1", partner=partner)
    customer_status_set(customer=partner.account, status="blocked")
    from ispbill.customers.services import partner_subcustomers_cascade

    partner_subcustomers_cascade([partner.account_id], "blocked")
    assert attrs("sub1") == {"Auth-Type": "Reject"}


def test_unchanged_rows_are_not_rewritten(home):
    c, _s, _cred = internet_customer("jane")
    ids = set(RadCheck.objects.values_list("id", flat=True))
    assert radius_sync_customers(customer_ids=[c.pk]) == []
    assert set(RadCheck.objects.values_list("id", flat=True)) == ids


def test_rebuild_from_scratch(home):
    internet_customer("jane")
    c2, _s, _cred = internet_customer("joe")
    Customer.objects.filter(pk=c2.pk).update(status="blocked")  # behind ispbill's back
    RadReply.objects.create(username="stranger", attribute="Session-Timeout", value="1")
    nas_create(name="bras1", address="192.0.2.10", secret="nas-secret")
    result = radius_rebuild()
    assert result.users == 2 and result.nas == 1
    assert attrs("joe") == {"Auth-Type": "Reject"}
    assert attrs("jane")["Mikrotik-Rate-Limit"] == "10000k/50000k"
    assert not RadReply.objects.filter(username="stranger").exists()
    assert list(RadNas.objects.values_list("nasname", "shortname", "secret")) == [
        ("192.0.2.10", "bras1", "nas-secret")
    ]


def test_nas_list_is_mirrored_into_the_nas_table(home):
    nas = nas_create(name="bras1", address="192.0.2.10", secret="s1", type="mikrotik")
    nas = nas_update(nas=nas, address="192.0.2.11", secret="s2")
    assert list(RadNas.objects.values_list("nasname", "secret", "type")) == [
        ("192.0.2.11", "s2", "mikrotik")
    ]
    nas_delete(nas=nas)
    assert not RadNas.objects.exists()


def test_credential_rules(home):
    from django.core.exceptions import ValidationError

    from tests.billing.builders import customer, service, tariff

    c = customer()
    s = service(c, tariff(kind="internet", download_kbps=1000, upload_kbps=1000), date(2026, 4, 1))
    with pytest.raises(ValidationError):
        radius_credential_set(service=s, kind="pppoe", username="x", password="")
    cred = radius_credential_set(service=s, kind="mac", username="AA-BB-CC-DD-EE-FF")
    assert cred.username == "aa:bb:cc:dd:ee:ff"
    assert attrs("aa:bb:cc:dd:ee:ff")["Auth-Type"] == "Accept"
    other = service(c, tariff(kind="recurring"), date(2026, 4, 1))
    with pytest.raises(ValidationError):
        radius_credential_set(service=other, kind="pppoe", username="y", password="p")


def test_a_login_taken_by_another_partner_is_refused_in_the_users_words(home):
    from django.core.exceptions import ValidationError

    from ispbill.core.tenancy import partner_scope
    from ispbill.partners.models import PartnerMode
    from tests.billing.builders import customer, service, tariff
    from tests.factories import PartnerFactory

    internet_customer("jane")
    other = PartnerFactory(mode=PartnerMode.OWN_INVOICING)
    c = customer(other)
    s = service(c, tariff(other, kind="internet", download_kbps=1, upload_kbps=1), date(2026, 4, 1))
    with partner_scope(other.pk), pytest.raises(ValidationError) as exc:
        radius_credential_set(service=s, kind="pppoe", username="jane", password="x")
    assert "already in use" in str(exc.value)
