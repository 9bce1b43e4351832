"""Card payments: an issuer's gateway settings (secrets write-only), payment sessions on
invoices, autopay of a customer, refunds through the gateway (docs/payments.md)."""

from __future__ import annotations

from typing import Annotated, Any

from django.conf import settings
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema
from pydantic import HttpUrl

from ispbill.api.context import actor
from ispbill.api.errors import ERROR_RESPONSES
from ispbill.api.guard import guard, resolved
from ispbill.api.idempotency import idempotency_openapi, idempotent
from ispbill.api.payments import RefundIn, RefundOut, _money, refund_out
from ispbill.api.schemas import Id, InSchema, MoneyOut, money_out, printable
from ispbill.core.errors import DomainValidationError
from ispbill.core.tenancy import current_partner_ids
from ispbill.gateways.models import Autopay, GatewaySettings, PaymentSession
from ispbill.gateways.services import (
    autopay_set,
    autopay_setup,
    gateway_settings_save,
    payment_gateway_refund,
    payment_session_create,
)
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import Partner, PartnerMode

router = Router(tags=["card payments"])

Secret = Annotated[str, printable(255)]


def _issuer(partner_id: int | None) -> Partner:
    """Operator: the partner named (default the home partner); a partner: itself."""
    partners = current_partner_ids()
    if partners is None:
        if partner_id is None:
            return Partner.objects.get(is_home=True)
        found = Partner.objects.filter(
            pk=partner_id, mode__in=[PartnerMode.DIRECT, PartnerMode.OWN_INVOICING]
        ).first()
        if found is None:
            raise DomainValidationError.for_fields({"partner_id": "No such issuer."})
        return found
    if partner_id is not None and partner_id not in partners:
        raise DomainValidationError.for_fields({"partner_id": "No such issuer."})
    return Partner.objects.get(pk=partners[0])


class GatewaySettingsIn(InSchema):
    partner_id: Id | None = Field(None, description="Operator only; default the home partner")
    enabled: bool = True
    publishable_key: Secret = ""
    secret_key: Secret = Field("", description="Write-only; empty keeps the stored one")
    webhook_secret: Secret = Field("", description="Write-only; empty keeps the stored one")


class GatewaySettingsOut(Schema):
    partner_id: int
    provider: str
    enabled: bool
    publishable_key: str
    secret_key_set: bool
    secret_key_ends_with: str
    webhook_secret_set: bool
    webhook_secret_ends_with: str
    webhook_url: str


def _settings_out(s: GatewaySettings) -> dict[str, Any]:
    base = str(settings.PUBLIC_URL).rstrip("/")
    return {
        "partner_id": s.partner_id,
        "provider": s.provider,
        "enabled": s.enabled,
        "publishable_key": s.publishable_key,
        "secret_key_set": bool(s.secret_key_encrypted),
        "secret_key_ends_with": s.secret_key_hint,
        "webhook_secret_set": bool(s.webhook_secret_encrypted),
        "webhook_secret_ends_with": s.webhook_secret_hint,
        "webhook_url": f"{base}/gateways/stripe/{s.partner_id}/webhook/",
    }


@router.get("/gateways/stripe", response={200: GatewaySettingsOut, **ERROR_RESPONSES})
@guard("issuer.manage")
def gateway_settings_read(request: HttpRequest, partner_id: Id | None = None) -> Any:
    """The issuer's Stripe settings; the secrets only as set or not and their last four
    characters (404 when there are none)."""
    row = GatewaySettings.objects.filter(partner=_issuer(partner_id)).first()
    if row is None:
        raise Http404("No card payment settings yet.")
    return _settings_out(row)


@router.put("/gateways/stripe", response={200: GatewaySettingsOut, **ERROR_RESPONSES})
@guard("issuer.manage")
def gateway_settings_write(request: HttpRequest, payload: GatewaySettingsIn) -> Any:
    """Create or change the issuer's Stripe settings (audited without the secrets)."""
    row = gateway_settings_save(
        partner=_issuer(payload.partner_id),
        enabled=payload.enabled,
        publishable_key=payload.publishable_key,
        secret_key=payload.secret_key,
        webhook_secret=payload.webhook_secret,
        actor=actor(request),
    )
    return _settings_out(row)


class SessionIn(InSchema):
    invoice_ids: list[Id] = Field(..., min_length=1, max_length=50)
    success_url: HttpUrl
    cancel_url: HttpUrl


class SessionOut(Schema):
    id: int
    kind: str
    status: str
    customer_id: int
    issuer_id: int
    amount: MoneyOut
    invoice_ids: list[int]
    url: str
    payment_id: int | None
    created_at: str


def _session_out(s: PaymentSession) -> dict[str, Any]:
    return {
        "id": s.pk,
        "kind": s.kind,
        "status": s.status,
        "customer_id": s.customer_id,
        "issuer_id": s.issuer_id,
        "amount": money_out(s.amount_minor, s.currency),
        "invoice_ids": list(s.invoice_ids),
        "url": s.url,
        "payment_id": s.payment_id,
        "created_at": s.created_at.isoformat(),
    }


@router.post("/payment-sessions", response={201: SessionOut, **ERROR_RESPONSES})
@guard("finance.write")
def payment_session_create_view(request: HttpRequest, payload: SessionIn) -> Any:
    """A checkout at the issuer's gateway for the open amounts of the invoices (one customer,
    one issuer); send the customer to ``url``. Paid when the gateway's webhook arrives."""
    invoices = list(Invoice.objects.filter(pk__in=payload.invoice_ids).order_by("pk"))
    if len(invoices) != len(set(payload.invoice_ids)):
        raise DomainValidationError.for_fields({"invoice_ids": "No such invoice."})
    session = payment_session_create(
        invoices=invoices,
        success_url=str(payload.success_url),
        cancel_url=str(payload.cancel_url),
        actor=actor(request),
    )
    return 201, _session_out(session)


@router.get("/payment-sessions/{session_id}", response={200: SessionOut, **ERROR_RESPONSES})
@guard("finance.read")
def payment_session_read(request: HttpRequest, session_id: int) -> Any:
    return _session_out(resolved(request, "session_id"))


class AutopayOut(Schema):
    customer_id: int
    enabled: bool
    card: str
    setup_url: str = ""


class AutopayIn(InSchema):
    enabled: bool


class AutopaySetupIn(InSchema):
    success_url: HttpUrl
    cancel_url: HttpUrl


def _autopay_out(a: Autopay | None, customer_id: int, url: str = "") -> dict[str, Any]:
    card = f"{a.card_brand} …{a.card_last4}" if a is not None and a.payment_method_id else ""
    return {
        "customer_id": customer_id,
        "enabled": bool(a is not None and a.active),
        "card": card,
        "setup_url": url,
    }


@router.get("/customers/{customer_id}/autopay", response={200: AutopayOut, **ERROR_RESPONSES})
@guard("customers.read")
def autopay_read(request: HttpRequest, customer_id: int) -> Any:
    customer = resolved(request, "customer_id")
    return _autopay_out(Autopay.objects.filter(customer=customer).first(), customer.pk)


@router.put("/customers/{customer_id}/autopay", response={200: AutopayOut, **ERROR_RESPONSES})
@guard("customers.write")
def autopay_write(request: HttpRequest, customer_id: int, payload: AutopayIn) -> Any:
    """Turn autopay off, or on again with the card saved before (the customer's consent)."""
    customer = resolved(request, "customer_id")
    row = autopay_set(customer=customer, enabled=payload.enabled, actor=actor(request))
    return _autopay_out(row, customer.pk)


@router.post(
    "/customers/{customer_id}/autopay/setup", response={201: AutopayOut, **ERROR_RESPONSES}
)
@guard("customers.write")
def autopay_setup_view(request: HttpRequest, customer_id: int, payload: AutopaySetupIn) -> Any:
    """Opt in: a page at the issuer's gateway (``setup_url``) where the customer saves a
    card; autopay is on when the gateway confirms it."""
    customer = resolved(request, "customer_id")
    session = autopay_setup(
        customer=customer,
        success_url=str(payload.success_url),
        cancel_url=str(payload.cancel_url),
        actor=actor(request),
    )
    row = Autopay.objects.filter(customer=customer).first()
    return 201, _autopay_out(row, customer.pk, session.url)


@router.post(
    "/payments/{payment_id}/gateway-refunds",
    response={201: RefundOut, **ERROR_RESPONSES},
    openapi_extra=idempotency_openapi(),
)
@guard("finance.write")
@idempotent()
def gateway_refund_view(request: HttpRequest, payment_id: int, payload: RefundIn) -> Any:
    """Refund a card payment through the gateway: its credit, or all of what is left (its
    invoices open again). Send an ``Idempotency-Key``."""
    payment = resolved(request, "payment_id")
    refund = payment_gateway_refund(
        payment=payment,
        amount=_money(payload.amount, payment.currency, "amount"),
        on=payload.date or timezone.localdate(),
        reason=payload.reason,
        actor=actor(request),
    )
    return 201, RefundOut(**refund_out(refund, payment.currency)).model_dump(mode="json")
