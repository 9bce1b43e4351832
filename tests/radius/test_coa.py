"""CoA and Disconnect messages reach the NAS of live sessions, signed with its secret."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from datetime import date

import pytest
from django.utils import timezone
from pyrad import packet
from pyrad.dictionary import Dictionary

from ispbill.billing.run import billing_run_start
from ispbill.core.money import Money
from ispbill.customers.services import customer_status_set
from ispbill.dunning.services import dunning_run
from ispbill.payments.services import payment_record
from ispbill.radius.coa import DICTIONARY
from ispbill.radius.models import RadAcct
from ispbill.radius.services import nas_create
from tests.radius.builders import internet_customer, live_session

pytestmark = pytest.mark.django_db


@dataclass
class Received:
    code: int
    attributes: dict[str, list]
    verified: bool


@dataclass
class NasListener:
    """A NAS's CoA port on 127.0.0.1: decodes, verifies with ``secret``, answers ``answer``."""

    secret: bytes
    nak_coa: bool = False
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.dict = Dictionary(str(DICTIONARY))
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            request = packet.CoAPacket(packet=data, secret=self.secret, dict=self.dict)
            verified = request.VerifyCoARequest()
            names = request.keys()  # decoded attribute names (iteration gives raw codes)
            self.received.append(
                Received(
                    code=request.code,
                    attributes={k: request[k] for k in names},
                    verified=verified,
                )
            )
            if not verified:
                continue  # a NAS drops what the wrong secret signed
            reply = request.CreateReply()
            if self.nak_coa and request.code == packet.CoARequest:
                reply.code = packet.CoANAK
            self.sock.sendto(reply.ReplyPacket(), peer)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def nas_listener():
    listener = NasListener(secret=b"nas-secret")
    yield listener
    listener.close()


def test_block_sends_a_disconnect_to_the_sessions_nas(
    home, nas_listener, django_capture_on_commit_callbacks, settings
):
    settings.RADIUS_COA_TIMEOUT = 2
    nas_create(name="bras1", address="127.0.0.1", secret="nas-secret", coa_port=nas_listener.port)
    c, _s, _cred = internet_customer("jane")
    live_session("jane")
    billing_run_start(run_date=date(2026, 4, 1))
    with django_capture_on_commit_callbacks(execute=True):
        dunning_run(today=date(2026, 4, 26))
    assert len(nas_listener.received) == 1
    got = nas_listener.received[0]
    assert got.verified, "signed with the NAS's secret"
    assert got.code == packet.DisconnectRequest
    assert got.attributes["User-Name"] == ["jane"]
    assert got.attributes["Acct-Session-Id"] == ["S1"]
    assert got.attributes["Framed-IP-Address"] == ["100.64.0.7"]

    with django_capture_on_commit_callbacks(execute=True):
        payment_record(
            customer=c, amount=Money.parse("35.70", "EUR"), on=date(2026, 4, 27), reference="P"
        )
    coa = nas_listener.received[1]
    assert coa.verified and coa.code == packet.CoARequest
    assert coa.attributes["Mikrotik-Rate-Limit"] == ["10000k/50000k"]
    assert coa.attributes["WISPr-Bandwidth-Max-Down"] == [50000000]
    assert coa.attributes["Acct-Session-Id"] == ["S1"]


def test_a_nak_for_the_coa_falls_back_to_disconnect(
    home, django_capture_on_commit_callbacks, settings
):
    listener = NasListener(secret=b"nas-secret", nak_coa=True)
    try:
        nas_create(name="bras1", address="127.0.0.1", secret="nas-secret", coa_port=listener.port)
        c, _s, _cred = internet_customer("jane")
        customer_status_set(customer=c, status="blocked")
        live_session("jane")
        with django_capture_on_commit_callbacks(execute=True):
            customer_status_set(customer=c, status="active")
        assert [r.code for r in listener.received] == [
            packet.CoARequest,
            packet.DisconnectRequest,
        ]
    finally:
        listener.close()


def test_no_message_without_a_change_or_a_live_session(
    home, nas_listener, django_capture_on_commit_callbacks
):
    nas_create(name="bras1", address="127.0.0.1", secret="nas-secret", coa_port=nas_listener.port)
    c, _s, _cred = internet_customer("jane")
    closed = live_session("jane")
    RadAcct.objects.filter(pk=closed.pk).update(acctstoptime=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        customer_status_set(customer=c, status="blocked")  # no live session
    with django_capture_on_commit_callbacks(execute=True):
        customer_status_set(customer=c, status="blocked")  # no change
    assert nas_listener.received == []


def test_a_wrong_secret_is_not_accepted_and_billing_goes_on(
    home, nas_listener, django_capture_on_commit_callbacks, settings
):
    settings.RADIUS_COA_TIMEOUT = 0.3
    settings.RADIUS_COA_RETRIES = 1
    nas_create(name="bras1", address="127.0.0.1", secret="other", coa_port=nas_listener.port)
    c, _s, _cred = internet_customer("jane")
    live_session("jane")
    with django_capture_on_commit_callbacks(execute=True):
        customer_status_set(customer=c, status="blocked")
    assert [r.verified for r in nas_listener.received] == [False]
