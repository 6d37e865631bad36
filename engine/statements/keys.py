"""The engine's statement signing keys (Ed25519, ``cryptography``).

``KAZI_STATEMENT_SIGNING_KEY`` is the current private key: a PEM (PKCS#8) private key, or its 32
raw bytes in base64 (standard or URL-safe). Embedded mode generates one under
``<var_dir>/secrets/`` (engine/secrets.py). ``KAZI_STATEMENT_SIGNING_KEY_PREVIOUS`` lists the
keys it replaced, comma-separated (PEM public or private keys, or 32 raw bytes in base64): they
still verify the statements they signed. A key is named by its id: the first 16 hex digits of
the SHA-256 of its raw public key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.errors import KaziError
from engine.secrets import InsecureSecrets, statement_signing_key
from engine.settings import Settings

RAW_KEY_BYTES = 32


class StatementKeyUnavailable(KaziError):
    """No usable signing key is configured: statements cannot be signed or verified."""

    status = 503
    code = "statement_signing_unavailable"


class StatementKeySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAZI_", env_file=".env", extra="ignore")

    statement_signing_key: str = ""
    statement_signing_key_previous: str = ""


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _raw_bytes(text: str) -> bytes | None:
    compact = "".join(text.split())
    padded = compact + "=" * (-len(compact) % 4)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            raw = decode(padded.encode())
        except (binascii.Error, ValueError):
            continue
        if len(raw) == RAW_KEY_BYTES:
            return raw
    return None


def load_private_key(text: str) -> Ed25519PrivateKey:
    """A private key from PEM or base64 raw bytes; ValueError when it is neither."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode(), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as error:
            raise ValueError(f"not a usable PEM private key ({type(error).__name__})") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the PEM key is not an Ed25519 key")
        return key
    raw = _raw_bytes(text)
    if raw is None:
        raise ValueError("neither a PEM key nor 32 bytes in base64")
    return Ed25519PrivateKey.from_private_bytes(raw)


def load_verifying_keys(text: str) -> list[Ed25519PublicKey]:
    """The public keys one previous-key entry stands for. A raw 32-byte value could be either
    a private seed or a public key: both readings are kept (their ids tell them apart)."""
    text = text.strip()
    if text.startswith("-----BEGIN") and "PRIVATE KEY" not in text.split("\n", 1)[0]:
        try:
            key = serialization.load_pem_public_key(text.encode())
        except (ValueError, TypeError, UnsupportedAlgorithm) as error:
            raise ValueError(f"not a usable PEM public key ({type(error).__name__})") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the PEM key is not an Ed25519 key")
        return [key]
    if text.startswith("-----BEGIN"):
        return [load_private_key(text).public_key()]
    raw = _raw_bytes(text)
    if raw is None:
        raise ValueError("neither a PEM key nor 32 bytes in base64")
    keys = [Ed25519PrivateKey.from_private_bytes(raw).public_key()]
    with contextlib.suppress(ValueError):
        keys.append(Ed25519PublicKey.from_public_bytes(raw))
    return keys


def _split_previous(value: str) -> list[str]:
    # PEM blocks hold no commas; a comma separates keys.
    return [part.strip() for part in value.split(",") if part.strip()]


@dataclass(frozen=True)
class StatementKeys:
    signing: Ed25519PrivateKey
    verifying: dict[str, Ed25519PublicKey]  # key id -> key, the current one included

    @property
    def current_id(self) -> str:
        return key_id(self.signing.public_key())


def statement_keys(settings: Settings, keys: StatementKeySettings | None = None) -> StatementKeys:
    """The keys in effect; StatementKeyUnavailable (503) when they are missing or unusable."""
    keys = keys or StatementKeySettings()
    try:
        text = statement_signing_key(settings, keys.statement_signing_key)
        signing = load_private_key(text)
    except InsecureSecrets as error:
        raise StatementKeyUnavailable(error.message) from None
    except ValueError as error:
        raise StatementKeyUnavailable(f"KAZI_STATEMENT_SIGNING_KEY is unusable: {error}") from None
    verifying = {key_id(signing.public_key()): signing.public_key()}
    for index, entry in enumerate(_split_previous(keys.statement_signing_key_previous), 1):
        try:
            found = load_verifying_keys(entry)
        except ValueError as error:
            raise StatementKeyUnavailable(
                f"KAZI_STATEMENT_SIGNING_KEY_PREVIOUS key {index} is unusable: {error}"
            ) from None
        for key in found:
            verifying.setdefault(key_id(key), key)
    return StatementKeys(signing, verifying)
