"""The gateway interface: what ispbill asks of any payment provider. One implementation,
Stripe (``stripe_gateway.py``); another provider is another class with these methods and an
entry in ``GATEWAYS`` (``services.gateway_for``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ispbill.core.errors import DomainError


class GatewayError(DomainError):
    """The gateway refused or could not be reached; the message says what to do."""

    code = "gateway"


class SignatureError(GatewayError):
    code = "gateway_signature"


@dataclass(frozen=True)
class Checkout:
    """A hosted checkout page at the gateway."""

    id: str
    url: str


@dataclass(frozen=True)
class GatewayEvent:
    """A verified webhook event, reduced to what ispbill reads."""

    id: str
    type: str
    object: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SavedCard:
    payment_method_id: str
    brand: str
    last4: str


@dataclass(frozen=True)
class ChargeResult:
    ok: bool
    id: str
    error: str = ""


class Gateway(Protocol):
    def checkout_create(
        self,
        *,
        amount_minor: int,
        currency: str,
        description: str,
        success_url: str,
        cancel_url: str,
        email: str,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> Checkout: ...

    def setup_create(
        self,
        *,
        customer_id: str,
        currency: str,
        success_url: str,
        cancel_url: str,
        metadata: dict[str, str],
    ) -> Checkout: ...

    def customer_create(self, *, email: str, name: str, metadata: dict[str, str]) -> str: ...

    def event_verify(self, *, payload: bytes, signature: str) -> GatewayEvent: ...

    def saved_card(self, *, setup_id: str) -> SavedCard: ...

    def charge_saved(
        self,
        *,
        customer_id: str,
        payment_method_id: str,
        amount_minor: int,
        currency: str,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> ChargeResult: ...

    def refund_create(self, *, payment_id: str, amount_minor: int, idempotency_key: str) -> str: ...
