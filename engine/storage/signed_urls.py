"""HMAC-signed media links for the local object store (pure: no I/O).

A link is ``{base_url}/v1/media/{key}?expires=<unix>&signature=<hex>``. The signature covers
the HTTP method, the key and the expiry, so a GET link cannot be replayed as a PUT and neither
can be extended or pointed at another key. The API's media route calls
``verify_media_signature`` with the decoded path key and the query values, and the signing keys
(``Settings.signing_keys``): new links are signed with the current key only, while links signed
with a previous key keep working until they expire, so the secret can be rotated.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from urllib.parse import quote, urlencode

MEDIA_ROUTE = "/v1/media/"


def _signature(key: str, method: str, expires_at: int, secret: str) -> str:
    if not secret:
        raise ValueError("signing secret must not be empty")
    message = f"{method.upper()}\n{key}\n{int(expires_at)}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_media_url(
    base_url: str,
    key: str,
    method: str,
    expires_at: int,
    secret: str,
    *,
    filename: str | None = None,
) -> str:
    """The signed media URL for ``method`` (GET or PUT) valid until ``expires_at`` (unix s).

    ``filename`` is an unsigned download-name hint; the route must only use it through
    ``content_disposition`` (it cannot change which object is served).
    """
    signature = _signature(key, method, expires_at, secret)
    query = {"expires": str(int(expires_at)), "signature": signature}
    if filename:
        query["filename"] = filename
    path = quote(key, safe="/")
    return f"{base_url.rstrip('/')}{MEDIA_ROUTE}{path}?{urlencode(query)}"


def verify_media_signature(
    key: str,
    method: str,
    expires_at: int,
    signature: str,
    secret: str | Sequence[str],
    now: float,
) -> bool:
    """True if ``signature`` is valid for this key/method under one of the signing keys
    (``secret``: one key, or the current one and the previous ones) and ``now`` is not past
    expiry."""
    try:
        expires = int(expires_at)
    except (TypeError, ValueError):
        return False
    if now > expires:
        return False
    keys = [secret] if isinstance(secret, str) else list(secret)
    if not keys:
        raise ValueError("signing secret must not be empty")
    # Compare bytes: compare_digest refuses non-ASCII str, and a forged value may be anything.
    given = signature.encode("utf-8", "replace") if isinstance(signature, str) else b""
    # Every key is tried, so the time taken does not tell which one matched.
    matches = [
        hmac.compare_digest(_signature(key, method, expires, k).encode(), given) for k in keys
    ]
    return any(matches)


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """A safe Content-Disposition value: ASCII fallback plus RFC 5987 UTF-8 name."""
    fallback = (
        "".join(
            ch if ch.isascii() and ch.isprintable() and ch not in '"\\;' else "_" for ch in filename
        ).strip()
        or "download"
    )
    disposition = "inline" if inline else "attachment"
    encoded = quote(filename, safe="")
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
