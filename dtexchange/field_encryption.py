"""Personal data at rest: Fernet encryption and keyed lookup hashes.

Keys are derived (HKDF-SHA256) from ``FIELD_ENCRYPTION_KEY``, or from
``SECRET_KEY`` when that is unset, so no extra secret is needed in the embedded
default and production can keep the encryption key apart from the signing key.
``FIELD_ENCRYPTION_KEY`` may list several comma-separated secrets: the first
encrypts, all decrypt (key rotation without a flag day).

Fernet ciphertext is randomised, so an encrypted column cannot be searched;
``lookup_hash`` gives a deterministic keyed HMAC for equality lookups instead.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models


def _secrets() -> list[str]:
    configured = [s.strip() for s in settings.FIELD_ENCRYPTION_KEY.split(",") if s.strip()]
    return configured or [settings.SECRET_KEY]


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret.encode()
    )


@functools.cache
def _fernet(secrets: tuple[str, ...]) -> MultiFernet:
    return MultiFernet(
        [Fernet(base64.urlsafe_b64encode(_derive(s, b"dtx-field-encryption"))) for s in secrets]
    )


def encrypt(plain: str) -> str:
    return _fernet(tuple(_secrets())).encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(tuple(_secrets())).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("Cannot decrypt: wrong FIELD_ENCRYPTION_KEY or corrupted data.") from exc


def lookup_hash(value: str) -> str:
    """Deterministic keyed hash (HMAC-SHA256, hex) for equality lookups."""
    key = _derive(_secrets()[0], b"dtx-lookup-hash")
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


class EncryptedTextField(models.TextField):
    """Text encrypted with Fernet in the database, plain in Python.

    Not searchable (the ciphertext is randomised): store a ``lookup_hash`` of
    the value next to it when lookups are needed.
    """

    def from_db_value(self, value, expression, connection):
        # "" is stored as it is (get_prep_value): an erased phone number.
        return value if value in (None, "") else decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)
