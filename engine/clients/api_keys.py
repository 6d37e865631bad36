"""API key format and hashing.

A key is ``kazi_<prefix>_<secret>``: the prefix finds the stored row, the secret is checked
against a SHA-256 hash. Keys are 32 random bytes, so a slow password hash adds nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class IssuedKey:
    prefix: str
    plaintext: str
    key_hash: str


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def issue_key() -> IssuedKey:
    prefix = secrets.token_hex(6)
    plaintext = f"kazi_{prefix}_{secrets.token_urlsafe(32)}"
    return IssuedKey(prefix=prefix, plaintext=plaintext, key_hash=hash_key(plaintext))


def parse_prefix(plaintext: str) -> str | None:
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != "kazi" or not parts[1] or not parts[2]:
        return None
    return parts[1]


def key_matches(plaintext: str, key_hash: str) -> bool:
    return hmac.compare_digest(hash_key(plaintext), key_hash)
