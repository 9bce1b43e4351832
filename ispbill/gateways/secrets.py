"""Gateway secrets at rest, encrypted by the core's helper (``ispbill.core.crypto``: Fernet
under ``settings.GATEWAY_ENCRYPTION_KEYS``, or a key derived from ``SECRET_KEY``). A key is
rotated by putting the new one first and re-encrypting (``gateway_secrets_rekey``)."""

from __future__ import annotations

from ispbill.core.crypto import InvalidToken, token_decrypt, token_encrypt, token_rotate
from ispbill.core.errors import DomainError

__all__ = ["SecretError", "secret_decrypt", "secret_encrypt", "secret_hint", "secret_rotate"]


class SecretError(DomainError):
    code = "gateway_secret"


def secret_encrypt(value: str) -> str:
    return token_encrypt(value)


def secret_decrypt(token: str) -> str:
    try:
        return token_decrypt(token)
    except InvalidToken:
        raise SecretError(
            "The stored gateway secret cannot be decrypted with the configured keys; enter it "
            "again or restore the key it was encrypted with."
        ) from None


def secret_rotate(token: str) -> str:
    """The same secret encrypted under the first (newest) key."""
    return token_rotate(token)


def secret_hint(value: str) -> str:
    return value[-4:]
