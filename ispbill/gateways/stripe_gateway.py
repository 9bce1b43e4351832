"""Stripe through its official Python SDK: Checkout Sessions for payments and for saving a
card, PaymentIntents off-session for autopay, Refunds, and webhook signatures checked with
``stripe.Webhook.construct_event``. Every call carries the issuer's own secret key
(``api_key=``), never a global one, so money goes to the account of the invoice's issuer.
Secrets never reach a log line or an error message."""

from __future__ import annotations

from typing import Any

import stripe
from django.conf import settings

from ispbill.gateways.interface import (
    ChargeResult,
    Checkout,
    GatewayError,
    GatewayEvent,
    SavedCard,
    SignatureError,
)

# Seconds between the signed timestamp and now that a webhook may be late (Stripe's default).
WEBHOOK_TOLERANCE = 300


def _plain(obj: Any) -> dict[str, Any]:
    to_dict = getattr(obj, "to_dict", None)
    return dict(to_dict() if callable(to_dict) else obj)


def _refusal(exc: stripe.StripeError) -> GatewayError:
    text = getattr(exc, "user_message", None) or "the payment provider refused the request"
    return GatewayError(f"Stripe: {text}")


class StripeGateway:
    def __init__(self, *, secret_key: str, webhook_secret: str = "") -> None:
        self._key = secret_key
        self._webhook_secret = webhook_secret
        if settings.STRIPE_API_BASE:
            stripe.api_base = settings.STRIPE_API_BASE

    def __repr__(self) -> str:  # never the keys
        return "StripeGateway()"

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
    ) -> Checkout:
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency.lower(),
                        "unit_amount": amount_minor,
                        "product_data": {"name": description},
                    },
                }
            ],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": metadata.get("session", ""),
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata, "description": description},
        }
        if email:
            params["customer_email"] = email
        try:
            session = stripe.checkout.Session.create(
                api_key=self._key, idempotency_key=idempotency_key, **params
            )
        except stripe.StripeError as exc:
            raise _refusal(exc) from None
        return Checkout(id=session.id, url=session.url or "")

    def setup_create(
        self,
        *,
        customer_id: str,
        currency: str,
        success_url: str,
        cancel_url: str,
        metadata: dict[str, str],
    ) -> Checkout:
        try:
            session = stripe.checkout.Session.create(
                api_key=self._key,
                mode="setup",
                currency=currency.lower(),
                customer=customer_id,
                success_url=success_url,
                cancel_url=cancel_url,
                metadata=metadata,
                setup_intent_data={"metadata": metadata},
            )
        except stripe.StripeError as exc:
            raise _refusal(exc) from None
        return Checkout(id=session.id, url=session.url or "")

    def customer_create(self, *, email: str, name: str, metadata: dict[str, str]) -> str:
        try:
            extra: dict[str, Any] = {"email": email} if email else {}
            customer = stripe.Customer.create(
                api_key=self._key, name=name, metadata=metadata, **extra
            )
        except stripe.StripeError as exc:
            raise _refusal(exc) from None
        return str(customer.id)

    def event_verify(self, *, payload: bytes, signature: str) -> GatewayEvent:
        try:
            event = stripe.Webhook.construct_event(
                payload, signature, self._webhook_secret, tolerance=WEBHOOK_TOLERANCE
            )
        except stripe.SignatureVerificationError:
            raise SignatureError("The webhook signature does not verify.") from None
        except ValueError:
            raise SignatureError("The webhook body is not a Stripe event.") from None
        return GatewayEvent(id=event.id, type=event.type, object=_plain(event.data.object))

    def saved_card(self, *, setup_id: str) -> SavedCard:
        try:
            intent = stripe.SetupIntent.retrieve(
                setup_id, api_key=self._key, expand=["payment_method"]
            )
        except stripe.StripeError as exc:
            raise _refusal(exc) from None
        method = intent.payment_method
        if method is None:
            raise GatewayError("Stripe: the card was not saved; please try again.")
        if isinstance(method, str):
            return SavedCard(payment_method_id=method, brand="", last4="")
        card = _plain(method).get("card") or {}
        return SavedCard(
            payment_method_id=str(method.id),
            brand=str(card.get("brand") or ""),
            last4=str(card.get("last4") or ""),
        )

    def charge_saved(
        self,
        *,
        customer_id: str,
        payment_method_id: str,
        amount_minor: int,
        currency: str,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> ChargeResult:
        try:
            intent = stripe.PaymentIntent.create(
                api_key=self._key,
                idempotency_key=idempotency_key,
                amount=amount_minor,
                currency=currency.lower(),
                customer=customer_id,
                payment_method=payment_method_id,
                off_session=True,
                confirm=True,
                metadata=metadata,
            )
        except stripe.CardError as exc:
            err = exc.error
            intent_id = ""
            if err is not None and getattr(err, "payment_intent", None) is not None:
                intent_id = str(_plain(err.payment_intent).get("id") or "")
            text = exc.user_message or "the card was declined"
            code = (err.decline_code or err.code) if err is not None else None
            return ChargeResult(ok=False, id=intent_id, error=f"{text} ({code})" if code else text)
        except stripe.StripeError as exc:
            return ChargeResult(ok=False, id="", error=_refusal(exc).message)
        if intent.status != "succeeded":
            return ChargeResult(ok=False, id=intent.id, error=f"payment {intent.status}")
        return ChargeResult(ok=True, id=intent.id)

    def refund_create(self, *, payment_id: str, amount_minor: int, idempotency_key: str) -> str:
        try:
            refund = stripe.Refund.create(
                api_key=self._key,
                idempotency_key=idempotency_key,
                payment_intent=payment_id,
                amount=amount_minor,
            )
        except stripe.StripeError as exc:
            raise _refusal(exc) from None
        if refund.status == "failed":
            raise GatewayError("Stripe: the refund failed; see the Stripe dashboard.")
        return str(refund.id)
