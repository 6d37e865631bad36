"""Personal "start work" links for workers who label in Label Studio (pure).

The link carries the worker id and an HMAC of it, like the signed media links: it lets the
worker's browser ask the engine for a lease without holding the worker's API key.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

START_ROUTE = "/v1/work/label-studio/start"


def _signature(worker_id: str, secret: str) -> str:
    return hmac.new(secret.encode(), f"ls-start\n{worker_id}".encode(), hashlib.sha256).hexdigest()


def start_link(base_url: str, worker_id: str, secret: str) -> str:
    query = urlencode({"worker": worker_id, "signature": _signature(worker_id, secret)})
    return f"{base_url.rstrip('/')}{START_ROUTE}?{query}"


def verify_start_link(worker_id: str, signature: str, secret: str) -> bool:
    return hmac.compare_digest(_signature(worker_id, secret), signature)
