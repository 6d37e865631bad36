"""The guarded outbound HTTP client: resolve the host, check every address it resolves to, and
connect to the address that was checked.

Pinning: the request is sent to the checked IP address itself (``https://203.0.113.7:443/...``),
with the URL's host name in the ``Host`` header and as the TLS server name (httpcore's
``sni_hostname`` request extension). The certificate is still verified against that host name,
and since no second lookup happens, a name rebound to an inside address between the check and the
connection cannot swap where the request goes. Proxies from the environment are ignored
(``trust_env=False``: a proxy would resolve the name again) and redirects are never followed: a
3xx answer is refused like a bad URL.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import httpx

from engine.net.outbound import (
    IPAddress,
    OutboundPolicy,
    OutboundTarget,
    OutboundUrlRefused,
    check_addresses,
    parse_outbound_url,
)
from engine.secrets import is_embedded
from engine.settings import Settings


class Resolver(Protocol):
    """Host name to the addresses it resolves to (the port the system resolver call takes)."""

    def __call__(self, host: str, port: int) -> list[IPAddress]: ...


class HostNotResolved(OutboundUrlRefused):
    """At intake a refusal; at send time a failure worth retrying (DNS may be back later)."""


def system_resolver(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise HostNotResolved(f"{host} does not resolve") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


@dataclass(frozen=True)
class PinnedTarget:
    """A checked URL and the checked address to connect to."""

    target: OutboundTarget
    address: IPAddress

    def request_url(self) -> httpx.URL:
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        base = httpx.URL(f"{self.target.scheme}://{host}:{self.target.port}")
        return base.copy_with(raw_path=self.target.target.encode("ascii"))

    def extensions(self) -> dict[str, str]:
        if self.target.scheme == "https" and self.target.literal_address is None:
            return {"sni_hostname": self.target.host}
        return {}


class OutboundClient:
    """Calls a client's URL only after the policy passed it, at the address that was checked."""

    def __init__(
        self,
        policy: OutboundPolicy,
        resolver: Resolver = system_resolver,
        *,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.policy = policy
        self._resolve = resolver
        self._verify = verify

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboundClient:
        policy = OutboundPolicy.from_allowlist(
            settings.callback_allowed_hosts, allow_http=is_embedded(settings)
        )
        return cls(policy)

    def check(self, url: str) -> PinnedTarget:
        """Parse, resolve and check ``url``; raises ``OutboundUrlRefused`` (``HostNotResolved``
        when the name does not resolve)."""
        target = parse_outbound_url(url, self.policy)
        if target.literal_address is not None:
            return PinnedTarget(target, target.literal_address)
        addresses = self._resolve(target.host, target.port)
        check_addresses(target, addresses, self.policy)
        return PinnedTarget(target, addresses[0])

    def post(
        self, url: str, *, content: bytes, headers: Mapping[str, str], timeout: float
    ) -> httpx.Response:
        """POST to ``url``, checked again now (a name may have been rebound since intake).
        Returns the answer unread but for its status and headers; raises ``OutboundUrlRefused``
        for a refused URL or a redirect, ``httpx.HTTPError`` for network failures."""
        try:
            pinned = self.check(url)
        except HostNotResolved as exc:
            raise httpx.ConnectError(exc.message) from exc
        with httpx.Client(
            verify=self._verify, trust_env=False, follow_redirects=False, timeout=timeout
        ) as client:
            request = client.build_request(
                "POST",
                pinned.request_url(),
                content=content,
                headers={**headers, "Host": pinned.target.host_header},
                extensions=pinned.extensions(),
            )
            # Streamed and closed unread: only the status matters, whatever the body's size.
            response = client.send(request, stream=True)
            response.close()
        if response.is_redirect or 300 <= response.status_code < 400:
            location = response.headers.get("location", "")
            raise OutboundUrlRefused(
                f"{pinned.target.host} answered {response.status_code} (redirect to "
                f"{location[:200]!r}); redirects are not followed"
            )
        return response

    def fetch(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        timeout: float,
        content: bytes | None = None,
        max_body_bytes: int = 1024 * 1024,
    ) -> tuple[int, bytes]:
        """Like ``post`` (checked, pinned, no redirects) for an API the engine reads the answer
        of (payout providers): ``(status, body)``, the body cut off past ``max_body_bytes``."""
        try:
            pinned = self.check(url)
        except HostNotResolved as exc:
            raise httpx.ConnectError(exc.message) from exc
        with httpx.Client(
            verify=self._verify, trust_env=False, follow_redirects=False, timeout=timeout
        ) as client:
            request = client.build_request(
                method,
                pinned.request_url(),
                content=content,
                headers={**headers, "Host": pinned.target.host_header},
                extensions=pinned.extensions(),
            )
            response = client.send(request, stream=True)
            try:
                if 300 <= response.status_code < 400:
                    raise OutboundUrlRefused(
                        f"{pinned.target.host} answered {response.status_code}; redirects are "
                        "not followed"
                    )
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > max_body_bytes:
                        raise httpx.DecodingError(f"answer larger than {max_body_bytes} bytes")
            finally:
                response.close()
        return response.status_code, bytes(body)
