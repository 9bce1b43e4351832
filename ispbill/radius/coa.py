"""Change-of-Authorization and Disconnect messages (RFC 5176) to the NAS of live sessions.

Live sessions are the ``radacct`` rows without a stop time. For each, the NAS is found by
its address in ispbill's NAS list and addressed on its CoA port with its own secret:

- still active (new speeds): a CoA-Request with the new reply attributes; a NAS that
  refuses it (CoA-NAK) gets a Disconnect-Request, and the user reconnects with the new ones;
- blocked or removed: a Disconnect-Request; the reconnect meets the new policy.

A NAS that does not answer is logged; billing never waits on the network for long."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from ispbill.radius.models import Nas, RadAcct
from ispbill.radius.routers import radius_alias

log = logging.getLogger(__name__)
DICTIONARY = Path(__file__).with_name("dictionary.txt")


@dataclass(frozen=True)
class SessionChange:
    """What the live sessions of one user must learn after commit."""

    username: str
    access: str  # attributes.Access value
    attributes: tuple[tuple[str, str], ...]  # reply attributes for a CoA-Request


@dataclass(frozen=True)
class CoaResult:
    username: str
    session_id: str
    nas: str
    message: str  # "coa" or "disconnect"
    answer: str  # "ack", "nak", "timeout", "no-nas"


def _dictionary() -> Any:
    from pyrad.dictionary import Dictionary

    return Dictionary(str(DICTIONARY))


def _send(nas: Nas, code: int, attributes: list[tuple[str, Any]]) -> str:
    from pyrad import packet
    from pyrad.client import Client, Timeout

    client = Client(
        server=nas.address,
        secret=nas.secret.encode(),
        dict=_dictionary(),
        coaport=nas.coa_port,
        timeout=getattr(settings, "RADIUS_COA_TIMEOUT", 2),
        retries=getattr(settings, "RADIUS_COA_RETRIES", 1),
    )
    request = client.CreateCoAPacket(code=code)
    for name, value in attributes:
        request.AddAttribute(name, value)
    try:
        reply = client.SendPacket(request)
    except (Timeout, OSError) as exc:
        log.warning("radius.coa_failed", extra={"nas": nas.name, "error": str(exc)})
        return "timeout"
    return "ack" if reply.code in (packet.CoAACK, packet.DisconnectACK) else "nak"


def radius_sessions_update(*, changes: list[SessionChange]) -> list[CoaResult]:
    """Tell the NAS of every live session of these users what changed."""
    from pyrad import packet

    by_user = {c.username: c for c in changes}
    sessions = list(
        RadAcct.objects.using(radius_alias())
        .filter(username__in=list(by_user), acctstoptime__isnull=True)
        .values_list("username", "acctsessionid", "nasipaddress", "framedipaddress")
    )
    nases = {str(n.address): n for n in Nas.objects.all()}
    results: list[CoaResult] = []
    for user, session_id, nas_ip, framed_ip in sessions:
        username = str(user)
        change = by_user[username]
        nas = nases.get(str(nas_ip))
        if nas is None:
            log.warning("radius.coa_unknown_nas", extra={"nas_ip": str(nas_ip)})
            results.append(CoaResult(username, session_id, str(nas_ip), "-", "no-nas"))
            continue
        ident: list[tuple[str, Any]] = [
            ("User-Name", username),
            ("Acct-Session-Id", session_id),
            ("NAS-IP-Address", str(nas_ip)),
        ]
        if framed_ip:
            ident.append(("Framed-IP-Address", str(framed_ip)))
        if change.access == "active":
            typed = [(a, int(v) if a.startswith("WISPr-") else v) for a, v in change.attributes]
            answer = _send(nas, packet.CoARequest, ident + typed)
            results.append(CoaResult(username, session_id, nas.name, "coa", answer))
            if answer != "nak":
                continue
        answer = _send(nas, packet.DisconnectRequest, ident)
        results.append(CoaResult(username, session_id, nas.name, "disconnect", answer))
    for r in results:
        log.info(
            "radius.coa_sent",
            extra={"user": r.username, "nas": r.nas, "message": r.message, "answer": r.answer},
        )
    return results
