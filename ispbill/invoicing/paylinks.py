"""Pay links: a signed, expiring URL that opens the public pay page of one invoice without a
login (docs/payments.md, "Pay links"). The token carries only the invoice id, signed with
``SECRET_KEY`` under its own salt; it is checked for age (``PAY_LINK_DAYS``) when opened."""

from __future__ import annotations

from django.conf import settings
from django.core import signing

__all__ = ["pay_link_invoice_id", "pay_link_token", "pay_link_url"]

_SALT = "ispbill.paylink.v1"


def pay_link_token(invoice_id: int) -> str:
    return signing.dumps({"i": int(invoice_id)}, salt=_SALT, compress=True)


def pay_link_invoice_id(token: str) -> int | None:
    """The invoice a token names, or None when it is forged, altered or expired."""
    max_age = int(getattr(settings, "PAY_LINK_DAYS", 120)) * 86400
    try:
        data = signing.loads(token, salt=_SALT, max_age=max_age)
    except signing.BadSignature:
        return None
    value = data.get("i") if isinstance(data, dict) else None
    return value if isinstance(value, int) else None


def pay_link_url(invoice_id: int) -> str:
    base = str(getattr(settings, "PUBLIC_URL", "") or "http://localhost:8000").rstrip("/")
    return f"{base}/pay/{pay_link_token(invoice_id)}/"
