"""Gateway secrets at rest: Fernet (AES-128-CBC with HMAC-SHA256) under the keys of
``settings.GATEWAY_ENCRYPTION_KEYS`` (newest first), or one derived from ``SECRET_KEY`` with
HKDF-SHA256 when none is set. ``MultiFernet`` decrypts with any of them, so a key is rotated
by putting the new one first and re-encrypting (``gateway_secrets_rekey``)."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from ispbill.core.errors import DomainError

__all__ = ["SecretError", "secret_decrypt", "secret_encrypt", "secret_hint", "secret_rotate"]


class SecretError(DomainError):
    code = "gateway_secret"


def _derived_key() -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"ispbill.gateway.secrets")
    return base64.urlsafe_b64encode(hkdf.derive(settings.SECRET_KEY.encode("utf-8")))


def _fernet() -> MultiFernet:
    keys = [k for k in getattr(settings, "GATEWAY_ENCRYPTION_KEYS", []) if k]
    return MultiFernet([Fernet(k) for k in keys] if keys else [Fernet(_derived_key())])


def secret_encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode("utf-8")).decode("ascii")


def secret_decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise SecretError(
            "The stored gateway secret cannot be decrypted with the configured keys; enter it "
            "again or restore the key it was encrypted with."
        ) from None


def secret_rotate(token: str) -> str:
    """The same secret encrypted under the first (newest) key."""
    return _fernet().rotate(token.encode("ascii")).decode("ascii")


def secret_hint(value: str) -> str:
    return value[-4:]
