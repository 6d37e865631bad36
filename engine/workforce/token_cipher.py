"""Label Studio worker tokens encrypted at rest (Fernet, keyed from ``KAZI_DATA_KEY``).

A stored value is ``fernet:<token>``. Rows written before encryption hold the plain token
(no prefix): they are still read, and re-encrypted the next time they are read or written
(``needs_resealing``). ``KAZI_DATA_KEY_PREVIOUS`` keys still decrypt, so the data key can be
rotated the same way.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from engine.errors import KaziError
from engine.secrets import resolve_secrets, split_keys
from engine.settings import Settings, get_settings

SEALED_PREFIX = "fernet:"


class TokenUnreadable(KaziError):
    status = 500
    code = "token_unreadable"


def _fernet(data_key: str) -> Fernet:
    # Any 32+ byte secret can be the data key (the same rule as the other secrets): the Fernet
    # key is derived from it rather than having to be Fernet's own base64 format.
    digest = hashlib.sha256(b"kazi-data-key\n" + data_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


class TokenCipher:
    def __init__(self, data_key: str, previous_keys: Sequence[str] = ()) -> None:
        if not data_key:
            raise ValueError("data key must not be empty")
        self._current = _fernet(data_key)
        self._any = MultiFernet([self._current, *(_fernet(k) for k in previous_keys)])

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenCipher:
        """The cipher of resolved settings (``engine.secrets.resolve_secrets``)."""
        return cls(settings.data_key, split_keys(settings.data_key_previous))

    def seal(self, token: str) -> str:
        return SEALED_PREFIX + self._current.encrypt(token.encode()).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith(SEALED_PREFIX):
            return stored  # written before tokens were encrypted
        try:
            return self._any.decrypt(stored.removeprefix(SEALED_PREFIX).encode()).decode()
        except InvalidToken:
            raise TokenUnreadable(
                "a stored Label Studio token does not decrypt with KAZI_DATA_KEY; if the key was "
                "changed, put the old one in KAZI_DATA_KEY_PREVIOUS"
            ) from None

    def needs_resealing(self, stored: str) -> bool:
        """True for a plain token or one sealed with a previous key."""
        if not stored.startswith(SEALED_PREFIX):
            return True
        try:
            self._current.decrypt(stored.removeprefix(SEALED_PREFIX).encode())
        except InvalidToken:
            return True
        return False


def default_token_cipher() -> TokenCipher:
    """The cipher of this process's settings (what ``EngineContext.token_cipher`` gives)."""
    return TokenCipher.from_settings(resolve_secrets(get_settings()))
