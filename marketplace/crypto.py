"""Secrets at rest: a model field encrypted with a key derived from SECRET_KEY.

Keys from SECRET_KEY_FALLBACKS still decrypt, so rotating SECRET_KEY does not lose tokens;
they are re-encrypted with the new key the next time the row is saved.
"""
import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models


def _fernet(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"skillport-field-encryption").derive(
        secret.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def _cipher() -> MultiFernet:
    return MultiFernet([_fernet(s) for s in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]])


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token; the plain value exists only in memory."""

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        try:
            return _cipher().decrypt(value.encode()).decode()
        except InvalidToken:
            # Encrypted under a key we no longer have: treat as unset rather than crash.
            return ""

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return _cipher().encrypt(value.encode()).decode()
