"""Gateway invariants, part of ``ispbill check`` (docs/payments.md, "Online payments")."""

from __future__ import annotations

from ispbill.core.invariants import Breach, invariant
from ispbill.gateways.models import AttemptStatus, AutopayAttempt, PaymentSession, SessionStatus
from ispbill.payments.models import Payment, PaymentMethod

LIMIT = 20


@invariant("gateways.sessions")
def check_sessions() -> list[Breach]:
    """A paid session has its card payment of the same amount and customer; an open one has
    none."""
    bad: list[str] = []
    payments = {
        p.pk: p
        for p in Payment.objects.filter(
            pk__in=PaymentSession.objects.exclude(payment=None).values("payment_id")
        )
    }
    for s in PaymentSession.objects.all().order_by("pk"):
        p = payments.get(s.payment_id) if s.payment_id else None
        if s.status == SessionStatus.PAID:
            if (
                p is None
                or p.amount_minor != s.amount_minor
                or p.customer_id != s.customer_id
                or p.method != PaymentMethod.CARD
            ):
                bad.append(f"session:{s.pk}")
        elif s.payment_id is not None:
            bad.append(f"session:{s.pk}")
    if not bad:
        return []
    return [Breach("gateways.sessions", "paid sessions without their payment", tuple(bad[:LIMIT]))]


@invariant("gateways.autopay")
def check_autopay() -> list[Breach]:
    """A successful autopay attempt has its card payment of the same amount."""
    bad = [
        f"attempt:{a.pk}"
        for a in AutopayAttempt.objects.filter(status=AttemptStatus.SUCCEEDED).select_related(
            "payment"
        )
        if a.payment is None
        or a.payment.amount_minor != a.amount_minor
        or a.payment.method != PaymentMethod.CARD
    ]
    if not bad:
        return []
    return [Breach("gateways.autopay", "paid attempts without their payment", tuple(bad[:LIMIT]))]
