"""Online payments: gateway settings per issuer, payment sessions on invoices, webhooks
booked once, refunds and autopay (docs/payments.md, "Online payments").

Money always goes through the payments app's normal path: ``payment_record`` (allocation,
ledger, receipt number, commission through its signal) and ``payment_refund`` /
``payment_reverse`` for refunds."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from ispbill.core.audit import audit_record
from ispbill.core.errors import DomainValidationError
from ispbill.core.money import Money
from ispbill.core.tenancy import system_scope
from ispbill.customers.models import Customer
from ispbill.customers.selectors import account_issuer
from ispbill.gateways.interface import Checkout, Gateway, GatewayError
from ispbill.gateways.models import (
    AttemptStatus,
    Autopay,
    AutopayAttempt,
    GatewaySettings,
    PaymentSession,
    SessionKind,
    SessionStatus,
    WebhookEvent,
)
from ispbill.gateways.secrets import secret_decrypt, secret_encrypt, secret_hint, secret_rotate
from ispbill.gateways.stripe_gateway import StripeGateway
from ispbill.invoicing.models import Invoice, InvoiceStatus
from ispbill.partners.models import Partner
from ispbill.payments.models import Payment, PaymentMethod, Refund
from ispbill.payments.selectors import COLLECTED_OTHERWISE
from ispbill.payments.services import (
    DuplicatePayment,
    PaymentError,
    payment_record,
    payment_refund,
    payment_reverse,
)

logger = logging.getLogger(__name__)

OPEN_STATUSES = (InvoiceStatus.UNPAID, InvoiceStatus.PARTIALLY_PAID)


# --- settings -------------------------------------------------------------------------------


def _prefix_check(value: str, prefixes: tuple[str, ...], field_name: str, what: str) -> None:
    if value and not value.startswith(prefixes):
        raise DomainValidationError.for_fields(
            {field_name: f"This is not a Stripe {what}: it starts with {' or '.join(prefixes)}."}
        )


@transaction.atomic
def gateway_settings_save(
    *,
    partner: Partner,
    enabled: bool,
    publishable_key: str = "",
    secret_key: str = "",
    webhook_secret: str = "",
    actor: Any = None,
) -> GatewaySettings:
    """Save an issuer's Stripe account. A secret left empty keeps the stored one; a secret
    given replaces it. Secrets are encrypted before they reach the database and are never
    audited, logged or shown: only their last four characters."""
    if not partner.issues_own_documents:
        raise DomainValidationError.for_fields(
            {
                "partner": "Only an issuer (the home partner or an own-invoicing partner) "
                "collects payments; its customers pay the home partner."
            }
        )
    publishable_key = publishable_key.strip()
    secret_key = secret_key.strip()
    webhook_secret = webhook_secret.strip()
    _prefix_check(publishable_key, ("pk_",), "publishable_key", "publishable key")
    _prefix_check(secret_key, ("sk_", "rk_"), "secret_key", "secret key")
    _prefix_check(webhook_secret, ("whsec_",), "webhook_secret", "webhook signing secret")
    current = GatewaySettings.objects.select_for_update().filter(partner=partner).first()
    row = current or GatewaySettings(partner=partner)
    if enabled and not (secret_key or row.secret_key_encrypted):
        raise DomainValidationError.for_fields(
            {"secret_key": "Enter the secret key of the Stripe account to turn payments on."}
        )
    if enabled and not (webhook_secret or row.webhook_secret_encrypted):
        raise DomainValidationError.for_fields(
            {"webhook_secret": "Enter the webhook signing secret (whsec_…) of the endpoint."}
        )
    changes: dict[str, Any] = {"enabled": enabled, "publishable_key": publishable_key}
    row.enabled = enabled
    row.publishable_key = publishable_key
    if secret_key:
        row.secret_key_encrypted = secret_encrypt(secret_key)
        row.secret_key_hint = secret_hint(secret_key)
        changes["secret_key"] = f"replaced, ends with {row.secret_key_hint}"
    if webhook_secret:
        row.webhook_secret_encrypted = secret_encrypt(webhook_secret)
        row.webhook_secret_hint = secret_hint(webhook_secret)
        changes["webhook_secret"] = f"replaced, ends with {row.webhook_secret_hint}"
    row.save()
    audit_record(action="gateway.settings_saved", obj=row, actor=actor, changes=changes)
    return row


def gateway_secrets_rekey() -> int:
    """Encrypt every stored secret again under the newest key; the count of rows."""
    done = 0
    with system_scope(), transaction.atomic():
        for row in GatewaySettings.objects.select_for_update().order_by("pk"):
            if row.secret_key_encrypted:
                row.secret_key_encrypted = secret_rotate(row.secret_key_encrypted)
            if row.webhook_secret_encrypted:
                row.webhook_secret_encrypted = secret_rotate(row.webhook_secret_encrypted)
            row.save(update_fields=["secret_key_encrypted", "webhook_secret_encrypted"])
            done += 1
    return done


def gateway_settings_for(issuer_id: int) -> GatewaySettings | None:
    """The issuer's usable gateway account. Read in the system scope: a customer of a
    percentage partner pays the home partner, whose settings its scope does not reach; the
    row serves the payment only and is never shown."""
    with system_scope():
        row = GatewaySettings.objects.filter(partner_id=issuer_id).first()
    return row if row is not None and row.ready else None


def gateway_for(settings_row: GatewaySettings) -> Gateway:
    return StripeGateway(
        secret_key=secret_decrypt(settings_row.secret_key_encrypted),
        webhook_secret=secret_decrypt(settings_row.webhook_secret_encrypted),
    )


def _gateway_of(issuer_id: int) -> Gateway:
    row = gateway_settings_for(issuer_id)
    if row is None:
        raise GatewayError(
            "Card payments are not set up for this issuer; pay by bank transfer or ask the "
            "issuer to turn them on."
        )
    return gateway_for(row)


# --- payment sessions -----------------------------------------------------------------------


def payment_session_create(
    *,
    invoices: Sequence[Invoice],
    success_url: str,
    cancel_url: str,
    actor: Any = None,
) -> PaymentSession:
    """A checkout at the issuer's gateway for the open amounts of ``invoices`` (one customer,
    one issuer). The gateway is asked first; the session row is written when it answered."""
    if not invoices:
        raise DomainValidationError.for_fields({"invoices": "Choose at least one open invoice."})
    customers = {inv.customer_id for inv in invoices}
    issuers = {inv.issuer_id for inv in invoices}
    if len(customers) != 1 or len(issuers) != 1:
        raise DomainValidationError.for_fields(
            {"invoices": "Invoices paid together must be of one customer and one issuer."}
        )
    closed = [inv.number for inv in invoices if inv.status not in OPEN_STATUSES]
    if closed:
        raise DomainValidationError.for_fields(
            {"invoices": f"Nothing is open on {', '.join(closed)}."}
        )
    amount = sum(inv.open_minor for inv in invoices)
    currency = invoices[0].currency
    customer = Customer.objects.get(pk=invoices[0].customer_id)
    issuer_id = invoices[0].issuer_id
    # A second click (or a reload of the pay page) within the hour reuses the open checkout
    # for the same invoices and amount instead of opening another at the gateway.
    recent = (
        PaymentSession.objects.filter(
            customer=customer,
            issuer_id=issuer_id,
            kind=SessionKind.PAYMENT,
            status=SessionStatus.OPEN,
            amount_minor=amount,
            created_at__gte=timezone.now() - timedelta(hours=1),
        )
        .order_by("-pk")
        .first()
    )
    if recent is not None and sorted(recent.invoice_ids) == sorted(i.pk for i in invoices):
        return recent
    gateway = _gateway_of(issuer_id)
    local_id = uuid.uuid4().hex
    numbers = ", ".join(inv.number for inv in invoices)
    checkout = gateway.checkout_create(
        amount_minor=amount,
        currency=currency,
        description=f"Invoice {numbers}",
        success_url=success_url,
        cancel_url=cancel_url,
        email=customer.email,
        metadata={
            "session": local_id,
            "ispbill_customer": str(customer.pk),
            "invoices": ",".join(str(inv.pk) for inv in invoices),
        },
        idempotency_key=f"ispbill-checkout-{local_id}",
    )
    with transaction.atomic():
        session = PaymentSession.objects.create(
            partner_id=customer.partner_id,
            issuer_id=issuer_id,
            customer=customer,
            kind=SessionKind.PAYMENT,
            provider_id=checkout.id,
            url=checkout.url,
            amount_minor=amount,
            currency=currency,
            invoice_ids=[inv.pk for inv in invoices],
        )
        audit_record(
            action="gateway.session_created",
            obj=session,
            actor=actor,
            changes={"amount": str(Money.from_minor(amount, currency)), "invoices": numbers},
        )
    return session


def _book_session(session: PaymentSession, obj: dict[str, Any]) -> str:
    if session.kind != SessionKind.PAYMENT:
        return "not a payment session"
    if session.payment_id is not None:
        return "already booked"
    if obj.get("payment_status") != "paid":
        return f"not paid yet ({obj.get('payment_status')})"
    total = int(obj.get("amount_total") or 0)
    currency = str(obj.get("currency") or "").upper()
    if total != session.amount_minor or currency != session.currency:
        raise GatewayError(
            f"Checkout {session.provider_id} paid {total} {currency}, not "
            f"{session.amount_minor} {session.currency}."
        )
    reference = str(obj.get("payment_intent") or session.provider_id)
    customer = Customer.objects.get(pk=session.customer_id)
    try:
        payment = payment_record(
            customer=customer,
            amount=Money.from_minor(total, currency),
            on=timezone.localdate(),
            method=PaymentMethod.CARD,
            reference=reference,
            note=f"Stripe checkout {session.provider_id}",
            allocate_first=session.invoice_ids,
        )
    except DuplicatePayment:
        payment = Payment.objects.get(
            issuer_id=session.issuer_id, method=PaymentMethod.CARD, reference=reference
        )
    session.payment = payment
    session.status = SessionStatus.PAID
    session.completed_at = timezone.now()
    session.save(update_fields=["payment", "status", "completed_at"])
    return f"payment {payment.pk} booked"


def _save_card(session: PaymentSession, obj: dict[str, Any], gateway: Gateway) -> str:
    setup_id = str(obj.get("setup_intent") or "")
    if not setup_id:
        return "no setup intent"
    card = gateway.saved_card(setup_id=setup_id)
    autopay = Autopay.objects.select_for_update().get(customer_id=session.customer_id)
    autopay.payment_method_id = card.payment_method_id
    autopay.card_brand = card.brand
    autopay.card_last4 = card.last4
    autopay.enabled = True
    autopay.save()
    session.status = SessionStatus.COMPLETE
    session.completed_at = timezone.now()
    session.save(update_fields=["status", "completed_at"])
    audit_record(
        action="gateway.autopay_card_saved",
        obj=autopay,
        actor=None,
        changes={"card": f"{card.brand} …{card.last4}"},
    )
    return "card saved for autopay"


def webhook_handle(*, issuer_id: int, payload: bytes, signature: str) -> str:
    """Verify a webhook with the issuer's signing secret and process it once. Raises
    SignatureError (answer 400) when it does not verify; an event seen before is a no-op."""
    with system_scope():
        row = GatewaySettings.objects.filter(partner_id=issuer_id).first()
        if row is None or not row.webhook_secret_encrypted:
            raise GatewayError("No gateway is set up for this issuer.")
        gateway = gateway_for(row)
        event = gateway.event_verify(payload=payload, signature=signature)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = WebhookEvent.objects.create(
                        partner_id=issuer_id, event_id=event.id, event_type=event.type
                    )
            except IntegrityError:
                logger.info("gateway.webhook_repeated", extra={"event_id": event.id})
                return "already processed"
            outcome = "ignored"
            obj = event.object
            if event.type in (
                "checkout.session.completed",
                "checkout.session.async_payment_succeeded",
                "checkout.session.expired",
            ):
                session = (
                    PaymentSession.objects.select_for_update()
                    .filter(provider_id=str(obj.get("id") or ""), issuer_id=issuer_id)
                    .first()
                )
                if session is None:
                    outcome = "unknown session"
                elif event.type == "checkout.session.expired":
                    if session.status == SessionStatus.OPEN:
                        session.status = SessionStatus.EXPIRED
                        session.save(update_fields=["status"])
                    outcome = "expired"
                elif obj.get("mode") == "setup":
                    outcome = _save_card(session, obj, gateway)
                else:
                    outcome = _book_session(session, obj)
            record.outcome = outcome[:200]
            record.save(update_fields=["outcome"])
        logger.info(
            "gateway.webhook",
            extra={"issuer_id": issuer_id, "event_id": event.id, "outcome": outcome},
        )
        return outcome


# --- refunds --------------------------------------------------------------------------------


def payment_through_gateway(payment: Payment) -> bool:
    """A card payment taken by the gateway (its reference is a PaymentIntent)."""
    return payment.method == PaymentMethod.CARD and payment.reference.startswith("pi_")


@transaction.atomic
def payment_gateway_refund(
    *, payment: Payment, amount: Money, on: date, reason: str = "", actor: Any = None
) -> Refund:
    """Give money of a card payment back through the gateway and book it on the normal
    refund path: unallocated credit by ``payment_refund``; the whole payment by
    ``payment_reverse`` (its invoices are open again). The gateway is asked last, inside the
    transaction: a refusal rolls the booking back; its idempotency key makes a retry safe."""
    locked = Payment.objects.select_for_update(no_key=True).get(pk=payment.pk)
    if not payment_through_gateway(locked):
        refused = "Only a card payment taken through the gateway is refunded through it."
        raise PaymentError(refused, fields={"amount": refused})
    left = locked.amount_minor - locked.refunded_minor
    if amount.minor <= locked.unallocated_minor:
        refund = payment_refund(payment=locked, amount=amount, on=on, reason=reason, actor=actor)
    elif amount.minor == left:
        refund = payment_reverse(payment=locked, on=on, reason=reason or "refunded", actor=actor)
    else:
        refused = (
            f"{Money.from_minor(locked.unallocated_minor, locked.currency)} of this payment is "
            f"credit and can be refunded in part; refund all of what is left "
            f"({Money.from_minor(left, locked.currency)}, its invoices open again) or issue a "
            "credit note first."
        )
        raise PaymentError(refused, fields={"amount": refused})
    gateway = _gateway_of(locked.issuer_id)
    gateway.refund_create(
        payment_id=locked.reference,
        amount_minor=amount.minor,
        idempotency_key=f"ispbill-refund-{locked.pk}-{locked.refunded_minor}-{amount.minor}",
    )
    return refund


# --- autopay --------------------------------------------------------------------------------


def autopay_setup(
    *, customer: Customer, success_url: str, cancel_url: str, actor: Any = None
) -> PaymentSession:
    """Opt in to autopay: a setup checkout at the issuer's gateway where the customer saves
    a card; the webhook stores it and turns autopay on."""
    issuer = account_issuer(customer)
    gateway = _gateway_of(issuer.pk)
    autopay = Autopay.objects.filter(customer=customer).first()
    provider_customer = autopay.provider_customer_id if autopay else ""
    if autopay is not None and autopay.issuer_id != issuer.pk:
        provider_customer = ""
    if not provider_customer:
        provider_customer = gateway.customer_create(
            email=customer.email,
            name=customer.company or customer.name,
            metadata={"ispbill_customer": str(customer.pk)},
        )
    checkout: Checkout = gateway.setup_create(
        customer_id=provider_customer,
        currency=issuer.currency,
        success_url=success_url,
        cancel_url=cancel_url,
        metadata={"ispbill_customer": str(customer.pk), "purpose": "autopay"},
    )
    with transaction.atomic():
        Autopay.objects.update_or_create(
            customer=customer,
            defaults={
                "partner_id": customer.partner_id,
                "issuer_id": issuer.pk,
                "provider_customer_id": provider_customer,
            },
        )
        session = PaymentSession.objects.create(
            partner_id=customer.partner_id,
            issuer_id=issuer.pk,
            customer=customer,
            kind=SessionKind.SETUP,
            provider_id=checkout.id,
            url=checkout.url,
            currency=issuer.currency,
        )
        audit_record(action="gateway.autopay_setup", obj=session, actor=actor, changes={})
    return session


@transaction.atomic
def autopay_set(*, customer: Customer, enabled: bool, actor: Any = None) -> Autopay:
    """Turn autopay off, or on again with the card saved before."""
    autopay = Autopay.objects.select_for_update().filter(customer=customer).first()
    if autopay is None or (enabled and not autopay.payment_method_id):
        raise DomainValidationError.for_fields(
            {"enabled": "Save a card first: choose 'Pay automatically by card'."}
        )
    autopay.enabled = enabled
    autopay.save(update_fields=["enabled", "updated_at"])
    audit_record(
        action="gateway.autopay_set", obj=autopay, actor=actor, changes={"enabled": enabled}
    )
    return autopay


@dataclass
class AutopayResult:
    paid: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def autopay_run(*, on: date, partner_ids: Iterable[int] | None = None) -> AutopayResult:
    """Charge every open invoice due on or before ``on`` of a customer with autopay on, with
    the saved card, once: an attempt (paid or failed) is never repeated for that invoice;
    a failure is recorded, shown, and dunning follows the invoice as for any other."""
    result = AutopayResult()
    with system_scope():
        rows = Autopay.objects.filter(enabled=True).exclude(payment_method_id="")
        if partner_ids is not None:
            rows = rows.filter(partner_id__in=list(partner_ids))
        for autopay in rows.order_by("pk"):
            row = gateway_settings_for(autopay.issuer_id)
            if row is None:
                continue
            invoices = (
                Invoice.objects.filter(
                    customer_id=autopay.customer_id,
                    issuer_id=autopay.issuer_id,
                    status__in=OPEN_STATUSES,
                    due_date__lte=on,
                )
                .exclude(autopay_attempts__isnull=False)
                .order_by("due_date", "pk")
            )
            for condition in COLLECTED_OTHERWISE:
                invoices = invoices.exclude(condition())
            gateway = gateway_for(row)
            for invoice in invoices:
                _autopay_charge(autopay, invoice, gateway, on, result)
    return result


def _autopay_charge(
    autopay: Autopay, invoice: Invoice, gateway: Gateway, on: date, result: AutopayResult
) -> None:
    amount = invoice.open_minor
    if amount <= 0:
        return
    charge = gateway.charge_saved(
        customer_id=autopay.provider_customer_id,
        payment_method_id=autopay.payment_method_id,
        amount_minor=amount,
        currency=invoice.currency,
        metadata={"ispbill_invoice": str(invoice.pk), "purpose": "autopay"},
        idempotency_key=f"ispbill-autopay-{invoice.pk}",
    )
    with transaction.atomic():
        payment = None
        if charge.ok:
            customer = Customer.objects.get(pk=autopay.customer_id)
            try:
                payment = payment_record(
                    customer=customer,
                    amount=Money.from_minor(amount, invoice.currency),
                    on=on,
                    method=PaymentMethod.CARD,
                    reference=charge.id,
                    note=f"Autopay of invoice {invoice.number}",
                    allocate_first=[invoice.pk],
                )
            except DuplicatePayment:
                payment = Payment.objects.get(
                    issuer_id=invoice.issuer_id, method=PaymentMethod.CARD, reference=charge.id
                )
        AutopayAttempt.objects.create(
            partner_id=invoice.partner_id,
            customer_id=autopay.customer_id,
            invoice=invoice,
            date=on,
            amount_minor=amount,
            currency=invoice.currency,
            status=AttemptStatus.SUCCEEDED if charge.ok else AttemptStatus.FAILED,
            provider_id=charge.id,
            error=charge.error[:500],
            payment=payment,
        )
    (result.paid if charge.ok else result.failed).append(invoice.pk)
    logger.info(
        "gateway.autopay_attempt",
        extra={"invoice_id": invoice.pk, "ok": charge.ok, "provider_id": charge.id},
    )
