"""The attribute mapping: pure, from a credential, its access and the policy to rows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ispbill.radius.attributes import (
    Access,
    CredentialData,
    PolicyData,
    Row,
    Table,
    blocked_group_rows,
    credential_rows,
    normalise_mac,
    rate_limit_attributes,
    service_access,
)

REJECT = PolicyData("reject", "blocked", "blocked-pool", "blocked")
POOL = PolicyData("pool", "blocked", "blocked-pool", "payment")


def cred(**kw):
    base = dict(
        username="jane",
        password="s3cret",
        kind="pppoe",
        framed_ip=None,
        download_kbps=50000,
        upload_kbps=10000,
    )
    return CredentialData(**{**base, **kw})


@pytest.mark.parametrize(
    ("customer", "service", "kind", "expected"),
    [
        ("active", "active", "internet", Access.ACTIVE),
        ("new", "active", "internet", Access.ACTIVE),
        ("blocked", "active", "internet", Access.BLOCKED),
        ("active", "paused", "internet", Access.BLOCKED),
        ("inactive", "active", "internet", Access.NONE),
        ("blocked", "stopped", "internet", Access.NONE),
        ("active", "active", "recurring", Access.NONE),
    ],
)
def test_service_access(customer, service, kind, expected):
    assert (
        service_access(customer_status=customer, service_status=service, tariff_kind=kind)
        is expected
    )


def test_active_gets_password_and_the_tariffs_rate_limit():
    rows = credential_rows(cred(), Access.ACTIVE, REJECT)
    assert rows == [
        Row(Table.CHECK, "jane", "Cleartext-Password", ":=", "s3cret"),
        Row(Table.REPLY, "jane", "Mikrotik-Rate-Limit", ":=", "10000k/50000k"),
        Row(Table.REPLY, "jane", "WISPr-Bandwidth-Max-Up", ":=", "10000000"),
        Row(Table.REPLY, "jane", "WISPr-Bandwidth-Max-Down", ":=", "50000000"),
    ]


def test_static_ip_and_ip_kind_get_framed_ip():
    rows = credential_rows(cred(framed_ip="100.64.0.7"), Access.ACTIVE, REJECT)
    assert Row(Table.REPLY, "jane", "Framed-IP-Address", ":=", "100.64.0.7") in rows
    ip = credential_rows(cred(kind="ip", username="100.64.0.9", password=""), Access.ACTIVE, REJECT)
    assert ip[0] == Row(Table.CHECK, "100.64.0.9", "Auth-Type", ":=", "Accept")
    assert Row(Table.REPLY, "100.64.0.9", "Framed-IP-Address", ":=", "100.64.0.9") in ip


def test_blocked_with_reject_policy_is_only_a_reject():
    assert credential_rows(cred(), Access.BLOCKED, REJECT) == [
        Row(Table.CHECK, "jane", "Auth-Type", ":=", "Reject")
    ]


def test_blocked_with_pool_policy_joins_the_blocked_group_without_speeds():
    rows = credential_rows(cred(framed_ip="100.64.0.7"), Access.BLOCKED, POOL)
    assert rows == [
        Row(Table.CHECK, "jane", "Cleartext-Password", ":=", "s3cret"),
        Row(Table.USERGROUP, "jane", "blocked", "", "1"),
    ]
    assert blocked_group_rows(POOL) == [
        ("blocked", "Framed-Pool", ":=", "blocked-pool"),
        ("blocked", "Mikrotik-Address-List", ":=", "payment"),
    ]
    assert blocked_group_rows(REJECT) == []


def test_removed_has_no_rows():
    assert credential_rows(cred(), Access.NONE, POOL) == []


def test_no_speeds_no_rate_limit():
    assert rate_limit_attributes(download_kbps=None, upload_kbps=1000) == []
    assert credential_rows(cred(download_kbps=None), Access.ACTIVE, REJECT) == [
        Row(Table.CHECK, "jane", "Cleartext-Password", ":=", "s3cret")
    ]


@given(st.integers(1, 10_000_000), st.integers(1, 10_000_000))
def test_rate_limit_is_upload_then_download_in_kbit(down, up):
    attrs = dict(rate_limit_attributes(download_kbps=down, upload_kbps=up))
    assert attrs["Mikrotik-Rate-Limit"] == f"{up}k/{down}k"
    assert int(attrs["WISPr-Bandwidth-Max-Up"]) == up * 1000
    assert int(attrs["WISPr-Bandwidth-Max-Down"]) == down * 1000


@pytest.mark.parametrize(
    "text", ["AA:BB:CC:DD:EE:0F", "aa-bb-cc-dd-ee-0f", "aabb.ccdd.ee0f", "aabbccddee0f"]
)
def test_mac_spellings(text):
    assert normalise_mac(text) == "aa:bb:cc:dd:ee:0f"


@pytest.mark.parametrize("text", ["aa:bb:cc", "zz:bb:cc:dd:ee:ff", "aa:bb:cc:dd:ee:ff:00"])
def test_not_a_mac(text):
    with pytest.raises(ValueError):
        normalise_mac(text)


def test_session_duration_reads_like_a_clock():
    from ispbill.radius.selectors import Session

    def session(seconds):
        return Session("s", "192.0.2.1", "", None, None, seconds, 0, 0, "")

    assert session(3725).duration == "01:02:05"
    assert session(90061).duration == "1d 01:01:01"
