"""Secrets kept at rest (a database connection's password): encrypted with a key derived
from the app's secret key, so a copy of the metadata database alone does not give them
away. Fernet (AES-128-CBC with an HMAC-SHA256, from ``cryptography``) authenticates what
it decrypts: a changed or foreign value fails instead of decrypting to garbage.

The key is HKDF-SHA256 of the secret key with a purpose label, so the same secret key
signing sessions never doubles as this encryption key. Changing the secret key makes
the stored passwords unreadable: each connection then says to enter its password again.
"""
from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PURPOSE = b"datainsight connection secrets v1"


class SecretUnreadable(Exception):
    """The value was encrypted with another secret key (or changed since)."""


class SecretBox:
    def __init__(self, secret_key: str):
        if not secret_key:
            raise ValueError("SecretBox needs the app's secret key")
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            raise SecretUnreadable() from None
