"""Secrets at rest: Fernet (AES-128-CBC with HMAC-SHA256) under the keys of
``settings.GATEWAY_ENCRYPTION_KEYS`` (newest first), or one derived from ``SECRET_KEY`` with
HKDF-SHA256 when none is set. ``MultiFernet`` decrypts with any of them, so a key is rotated
by putting the new one first and re-encrypting (``token_rotate``). Used for the payment
gateways' keys (``gateways.secrets``) and the webhook endpoints' signing secrets
(``events.models``); docs/security.md."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

__all__ = ["InvalidToken", "token_decrypt", "token_encrypt", "token_rotate"]


def _derived_key() -> bytes:
    # The info string dates from the gateways, the first users; kept so stored tokens decrypt.
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"ispbill.gateway.secrets")
    return base64.urlsafe_b64encode(hkdf.derive(settings.SECRET_KEY.encode("utf-8")))


def _fernet() -> MultiFernet:
    keys = [k for k in getattr(settings, "GATEWAY_ENCRYPTION_KEYS", []) if k]
    return MultiFernet([Fernet(k) for k in keys] if keys else [Fernet(_derived_key())])


def token_encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode("utf-8")).decode("ascii")


def token_decrypt(token: str) -> str:
    """The plain text; ``InvalidToken`` when no configured key decrypts it."""
    return _fernet().decrypt(token.encode("ascii")).decode("utf-8")


def token_rotate(token: str) -> str:
    """The same secret encrypted under the first (newest) key."""
    return _fernet().rotate(token.encode("ascii")).decode("ascii")
