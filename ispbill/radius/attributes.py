"""What FreeRADIUS should answer for one internet service: pure, no ORM.

- active (customer active or new, service active): the password check and the tariff's
  speeds as ``Mikrotik-Rate-Limit`` ("UPk/DOWNk": the router's rx/tx, i.e. the customer's
  upload then download) and ``WISPr-Bandwidth-Max-Up/-Down`` (bits per second);
- blocked (customer blocked, or service paused): the policy's answer, ``Auth-Type := Reject``
  or membership of the blocked group whose reply puts the session into the blocked pool;
- none (customer inactive, service stopped, not an internet tariff): no rows at all, so
  FreeRADIUS rejects the user as unknown."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Access(StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"
    NONE = "none"


class Table(StrEnum):
    CHECK = "radcheck"
    REPLY = "radreply"
    USERGROUP = "radusergroup"


@dataclass(frozen=True, order=True)
class Row:
    """One row of radcheck / radreply (attribute, op, value) or radusergroup
    (``attribute`` is the group name, ``value`` the priority, ``op`` empty)."""

    table: Table
    username: str
    attribute: str
    op: str
    value: str


@dataclass(frozen=True)
class CredentialData:
    username: str
    password: str
    kind: str  # pppoe, mac, ip
    framed_ip: str | None
    download_kbps: int | None
    upload_kbps: int | None


@dataclass(frozen=True)
class PolicyData:
    blocked: str  # reject, pool
    blocked_group: str
    blocked_pool: str
    blocked_address_list: str


def service_access(*, customer_status: str, service_status: str, tariff_kind: str) -> Access:
    """The network access a service gets from its customer's and its own status."""
    if tariff_kind != "internet" or customer_status == "inactive" or service_status == "stopped":
        return Access.NONE
    if customer_status == "blocked" or service_status == "paused":
        return Access.BLOCKED
    return Access.ACTIVE


def rate_limit_attributes(
    *, download_kbps: int | None, upload_kbps: int | None
) -> list[tuple[str, str]]:
    """(attribute, value) pairs limiting a session to the tariff's speeds; none without them."""
    if not download_kbps or not upload_kbps:
        return []
    return [
        ("Mikrotik-Rate-Limit", f"{upload_kbps}k/{download_kbps}k"),
        ("WISPr-Bandwidth-Max-Up", str(upload_kbps * 1000)),
        ("WISPr-Bandwidth-Max-Down", str(download_kbps * 1000)),
    ]


def _password_check(cred: CredentialData) -> Row:
    if cred.password:
        return Row(Table.CHECK, cred.username, "Cleartext-Password", ":=", cred.password)
    # MAC or IP authorisation without a password: the User-Name itself is the credential.
    return Row(Table.CHECK, cred.username, "Auth-Type", ":=", "Accept")


def credential_rows(cred: CredentialData, access: Access, policy: PolicyData) -> list[Row]:
    """The radcheck, radreply and radusergroup rows of one credential."""
    if access is Access.NONE:
        return []
    if access is Access.BLOCKED and policy.blocked == "reject":
        return [Row(Table.CHECK, cred.username, "Auth-Type", ":=", "Reject")]
    rows = [_password_check(cred)]
    if access is Access.BLOCKED:
        # The group's reply (blocked_group_rows) assigns the pool; no speeds, no static IP.
        rows.append(Row(Table.USERGROUP, cred.username, policy.blocked_group, "", "1"))
        return rows
    framed_ip = cred.framed_ip or (cred.username if cred.kind == "ip" else None)
    if framed_ip:
        rows.append(Row(Table.REPLY, cred.username, "Framed-IP-Address", ":=", framed_ip))
    for attribute, value in rate_limit_attributes(
        download_kbps=cred.download_kbps, upload_kbps=cred.upload_kbps
    ):
        rows.append(Row(Table.REPLY, cred.username, attribute, ":=", value))
    return rows


def blocked_group_rows(policy: PolicyData) -> list[tuple[str, str, str, str]]:
    """radgroupreply rows (groupname, attribute, op, value) of the blocked group."""
    if policy.blocked != "pool":
        return []
    rows = [(policy.blocked_group, "Framed-Pool", ":=", policy.blocked_pool)]
    if policy.blocked_address_list:
        rows.append(
            (policy.blocked_group, "Mikrotik-Address-List", ":=", policy.blocked_address_list)
        )
    return rows


def coa_attributes(rows: list[Row]) -> list[tuple[str, str]]:
    """The reply attributes a CoA-Request carries to change a live session in place."""
    return [(r.attribute, r.value) for r in rows if r.table is Table.REPLY]


def normalise_mac(text: str) -> str:
    """aa:bb:cc:dd:ee:ff from any common MAC spelling; ValueError when it is not one."""
    digits = "".join(ch for ch in text.lower() if ch in "0123456789abcdef")
    stripped = text.lower().replace(":", "").replace("-", "").replace(".", "").strip()
    if len(digits) != 12 or digits != stripped:
        raise ValueError(f"{text!r} is not a MAC address")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))
