"""Personal "start work" links for workers who label in Label Studio (pure).

The link carries the worker id and an HMAC of it, like the signed media links: it lets the
worker's browser ask the engine for a lease without holding the worker's API key. Links are
signed with the current signing secret; ``verify_start_link`` also takes the previous ones
(``Settings.signing_keys``), so links handed out before a rotation keep working.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from urllib.parse import urlencode

START_ROUTE = "/v1/work/label-studio/start"


def _signature(worker_id: str, secret: str) -> str:
    if not secret:
        raise ValueError("signing secret must not be empty")
    return hmac.new(secret.encode(), f"ls-start\n{worker_id}".encode(), hashlib.sha256).hexdigest()


def start_link(base_url: str, worker_id: str, secret: str) -> str:
    query = urlencode({"worker": worker_id, "signature": _signature(worker_id, secret)})
    return f"{base_url.rstrip('/')}{START_ROUTE}?{query}"


def verify_start_link(worker_id: str, signature: str, secret: str | Sequence[str]) -> bool:
    """True if ``signature`` was made by one of the keys (one, or the current and previous)."""
    keys = [secret] if isinstance(secret, str) else list(secret)
    if not keys:
        raise ValueError("signing secret must not be empty")
    given = signature.encode("utf-8", "replace")
    matches = [hmac.compare_digest(_signature(worker_id, k).encode(), given) for k in keys]
    return any(matches)
