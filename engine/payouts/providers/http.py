"""The HTTP side shared by the provider adapters: the guarded outbound client, JSON in and out.

Provider base URLs come from settings. The calls go through engine/net's guarded client (the
address checked, then pinned; no redirects, no proxies): loopback and private addresses only
when the operator lists them in KAZI_CALLBACK_ALLOWED_HOSTS, or in embedded mode (the demo's
local fake providers); plain http only in embedded mode.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import replace
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from engine.net.outbound import OutboundPolicy, OutboundUrlRefused
from engine.net.outbound_client import OutboundClient
from engine.secrets import is_embedded
from engine.settings import Settings

LOOPBACK = "127.0.0.0/8 ::1"
MAX_ANSWER_BYTES = 256 * 1024


class Fetcher(Protocol):
    def fetch(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        timeout: float,
        content: bytes | None = None,
        max_body_bytes: int = ...,
    ) -> tuple[int, bytes]: ...


def provider_client(settings: Settings, base_url: str = "") -> OutboundClient:
    """The client for one provider. Plain http only in embedded mode, or to a loopback address
    the operator allowlisted (a local gateway or the fake providers: nothing leaves the host)."""
    embedded = is_embedded(settings)
    allow = settings.callback_allowed_hosts + (f" {LOOPBACK}" if embedded else "")
    policy = OutboundPolicy.from_allowlist(allow, allow_http=embedded)
    return OutboundClient(replace(policy, allow_http=embedded or _local(base_url, policy)))


def _local(base_url: str, policy: OutboundPolicy) -> bool:
    host = urlsplit(base_url).hostname or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback and policy.allows_address(address)


def loopback_client() -> OutboundClient:
    """For tests and the demo against the local fake providers, whatever the mode."""
    return OutboundClient(OutboundPolicy.from_allowlist(LOOPBACK, allow_http=True))


class NoAnswer(Exception):
    """The provider gave no usable answer (timeout, network, refused URL): outcome unknown."""


def call_json(
    client: Fetcher,
    method: str,
    url: str,
    headers: dict[str, str],
    timeout: float,
    body: Any = None,
) -> tuple[int, Any]:
    """``(status, parsed JSON or None)``; raises NoAnswer when nothing usable came back."""
    content = None if body is None else json.dumps(body).encode()
    sent = dict(headers)
    if content is not None:
        sent["Content-Type"] = "application/json"
    try:
        status, raw = client.fetch(
            method,
            url,
            headers=sent,
            timeout=timeout,
            content=content,
            max_body_bytes=MAX_ANSWER_BYTES,
        )
    except (httpx.HTTPError, OutboundUrlRefused, OSError) as exc:
        raise NoAnswer(f"{type(exc).__name__}: {exc}"[:300]) from None
    if not raw.strip():
        return status, None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None
