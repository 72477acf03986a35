"""Channel secrets encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

The Fernet key is derived with HKDF-SHA256 from ``PANELPAY_SECRET_KEY`` (or the app's ``SECRET_KEY``), so
the database alone never reveals an EPay key or a private key. Changing the secret makes stored secrets
unreadable; :class:`SecretsUnreadable` says so instead of handing out garbage.
"""
from __future__ import annotations

import base64
import json

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretsUnreadable(RuntimeError):
    """Stored secrets cannot be decrypted: the secret key changed since they were saved."""


class Vault:
    """Encrypts and decrypts small JSON documents with a key derived from the app's secret."""

    def __init__(self, secret: str):
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"panelpay-vault-v1", info=b"channel-secrets"
        ).derive(secret.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, document: dict) -> str:
        """Encrypt a JSON-serialisable dict into a token safe to store in a text column."""
        return self._fernet.encrypt(json.dumps(document, sort_keys=True).encode()).decode()

    def open(self, token: str | None) -> dict:
        """Decrypt a token made by :meth:`seal`; an empty token is an empty dict."""
        if not token:
            return {}
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as exc:
            raise SecretsUnreadable(
                "channel secrets cannot be decrypted: PANELPAY_SECRET_KEY (or SECRET_KEY) changed; "
                "restore it or enter the channel's keys again"
            ) from exc
