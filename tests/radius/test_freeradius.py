"""End to end with Debian's FreeRADIUS: it reads the tables ispbill keeps, from the test
database, and answers radclient as the network would."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection

from ispbill.billing.run import billing_run_start
from ispbill.core.money import Money
from ispbill.customers.models import Customer
from ispbill.dunning.services import dunning_run
from ispbill.payments.services import payment_record
from ispbill.radius.services import radius_policy_set
from tests.radius.builders import internet_customer
from tests.radius.freeradius import freeradius_binary, freeradius_running, radclient_auth

pytestmark = [
    # The flush after the test keeps the home partner: post_migrate recreates it.
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not freeradius_binary(), reason="FreeRADIUS is missing: run scripts/ensure-services.sh"
    ),
]


@pytest.fixture
def radius(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip(
            "FreeRADIUS reads the test database with its PostgreSQL driver: "
            "run with DATABASE_URL=postgres://..."
        )
    with freeradius_running(tmp_path, db=connection.settings_dict) as server:
        yield server


def test_active_blocked_and_paid_again_as_freeradius_answers(radius, home):
    c, _s, _cred = internet_customer("jane", down=50000, up=10000)
    answer = radclient_auth(radius, "jane", "pw-jane")
    assert answer.code == "Access-Accept", answer.output
    assert answer.attributes["Mikrotik-Rate-Limit"] == "10000k/50000k"
    assert answer.attributes["WISPr-Bandwidth-Max-Down"] == "50000000"
    assert radclient_auth(radius, "jane", "wrong").code == "Access-Reject"

    billing_run_start(run_date=date(2026, 4, 1))  # due 15 April, blocked after 10 days
    dunning_run(today=date(2026, 4, 26))
    assert Customer.objects.get(pk=c.pk).status == "blocked"
    answer = radclient_auth(radius, "jane", "pw-jane")
    assert answer.code == "Access-Reject", answer.output

    payment_record(
        customer=c, amount=Money.parse("35.70", "EUR"), on=date(2026, 4, 27), reference="P1"
    )
    answer = radclient_auth(radius, "jane", "pw-jane")
    assert answer.code == "Access-Accept", answer.output
    assert answer.attributes["Mikrotik-Rate-Limit"] == "10000k/50000k"


def test_blocked_pool_policy_as_freeradius_answers(radius, home):
    radius_policy_set(blocked="pool", blocked_pool="unpaid", blocked_address_list="payment")
    c, _s, _cred = internet_customer("joe", down=20000, up=5000)
    from ispbill.customers.services import customer_status_set

    customer_status_set(customer=c, status="blocked")
    answer = radclient_auth(radius, "joe", "pw-joe")
    assert answer.code == "Access-Accept", answer.output
    assert answer.attributes.get("Framed-Pool") == "unpaid", answer.output
    assert answer.attributes.get("Mikrotik-Address-List") == "payment", answer.output
    assert "Mikrotik-Rate-Limit" not in answer.attributes
    customer_status_set(customer=c, status="active")
    answer = radclient_auth(radius, "joe", "pw-joe")
    assert answer.code == "Access-Accept"
    assert answer.attributes["Mikrotik-Rate-Limit"] == "5000k/20000k"
    assert "Framed-Pool" not in answer.attributes


def test_accounting_through_freeradius_is_counted_with_gigawords(radius, home):
    """radclient → FreeRADIUS's sql accounting → radacct → usage_collect: a Start, an
    Interim-Update at 1 GB down, a Stop at 4 GiB + 500 MB down (Gigawords 1)."""
    from ispbill.radius.models import UsageDay
    from ispbill.radius.usage import usage_collect
    from tests.radius.freeradius import radclient_acct

    _c, s, _cred = internet_customer("jane")
    session = {
        "User-Name": "jane",
        "Acct-Session-Id": "E2E1",
        "NAS-IP-Address": "127.0.0.1",
        "NAS-Port": 1,
        "Framed-IP-Address": "100.64.0.9",
    }
    assert radclient_acct(radius, {**session, "Acct-Status-Type": "Start"}) == (
        "Accounting-Response"
    ), radius.log_text()[-3000:]
    interim = {
        **session,
        "Acct-Status-Type": "Interim-Update",
        "Acct-Session-Time": 600,
        "Acct-Input-Octets": 100_000_000,
        "Acct-Output-Octets": 1_000_000_000,
    }
    assert radclient_acct(radius, interim) == "Accounting-Response"
    usage_collect()
    stop = {
        **session,
        "Acct-Status-Type": "Stop",
        "Acct-Session-Time": 1200,
        "Acct-Input-Octets": 200_000_000,
        "Acct-Output-Octets": 500_000_000,
        "Acct-Output-Gigawords": 1,
    }
    assert radclient_acct(radius, stop) == "Accounting-Response"
    usage_collect()
    usage_collect()  # read twice: counted once
    rows = list(UsageDay.objects.filter(service=s))
    assert sum(r.bytes_in for r in rows) == 200_000_000
    assert sum(r.bytes_out for r in rows) == (1 << 32) + 500_000_000
