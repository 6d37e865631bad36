"""Which URLs the engine may call on a client's behalf (callbacks), decided without I/O.

A client names a URL; the engine POSTs to it from inside our network. Without these rules a
client could make the engine call its own admin ports, the database, or the cloud metadata
service (169.254.169.254). The rules: http(s) only, https unless the policy allows http
(embedded mode), no user name or password in the URL, ports 80, 443 or 1024 and up, and every
address the host resolves to must be a public unicast one, unless the operator allowlisted the
host name or a CIDR holding the address (on-premise callbacks).

URLs are parsed with the WHATWG parser pydantic uses for ``AnyHttpUrl``, so the job spec and
this guard read a URL the same way (``127.1`` and ``0x7f.1`` both become ``127.0.0.1`` here).
Name resolution and the connection itself live in ``engine.net.outbound_client``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic_core import Url, ValidationError

from engine.errors import KaziError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Ports below 1024 are other services (SMTP, SSH, ...); a web server uses 80, 443 or a high one.
WEB_PORTS = frozenset({80, 443})
FIRST_UNPRIVILEGED_PORT = 1024

_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")
_SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
# Special-purpose blocks that Python 3.11's is_private/is_global do not all cover.
_NOT_GLOBAL: tuple[IPNetwork, ...] = (
    ipaddress.IPv4Network("192.0.0.0/24"),  # IETF protocol assignments
    ipaddress.IPv4Network("198.18.0.0/15"),  # benchmarking
    ipaddress.IPv4Network("240.0.0.0/4"),  # reserved
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # local-use NAT64
    ipaddress.IPv6Network("2001::/23"),  # IETF protocol assignments (Teredo, ...)
    ipaddress.IPv6Network("2001:db8::/32"),  # documentation
    ipaddress.IPv6Network("100::/64"),  # discard-only
)


class OutboundUrlRefused(KaziError):
    """The engine will not call this URL; the message says why. Never worth retrying."""

    status = 422
    code = "outbound_url_refused"


@dataclass(frozen=True)
class OutboundPolicy:
    """What the operator allows beyond public https: http (embedded mode) and private hosts."""

    allow_http: bool = False
    allowed_host_names: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_allowlist(cls, allowlist: str, *, allow_http: bool) -> OutboundPolicy:
        """``allowlist``: host names and CIDRs (or single addresses), comma or space separated."""
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in allowlist.replace(",", " ").split():
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                names.add(_normal_name(entry))
        return cls(allow_http, frozenset(names), tuple(networks))

    def allows_host(self, host: str) -> bool:
        return _normal_name(host) in self.allowed_host_names

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in network for network in self.allowed_networks)


@dataclass(frozen=True)
class OutboundTarget:
    """A checked URL, split into what the connection needs."""

    scheme: str
    host: str  # a name (IDNA-encoded) or an address, without IPv6 brackets
    port: int
    target: str  # path and query, what goes on the request line
    literal_address: IPAddress | None = None  # when the URL names an address, not a host name
    allowlisted_host: bool = field(default=False)

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def _normal_name(host: str) -> str:
    return host.strip().lower().rstrip(".")


def parse_outbound_url(url: str, policy: OutboundPolicy) -> OutboundTarget:
    """Check what can be checked without resolving the host; raises ``OutboundUrlRefused``."""
    try:
        parsed = Url(url)
    except ValidationError as exc:
        raise OutboundUrlRefused(f"{url!r} is not a valid URL") from exc
    if parsed.scheme not in ("http", "https"):
        raise OutboundUrlRefused(f"scheme {parsed.scheme!r} is not allowed: use https")
    if parsed.scheme == "http" and not policy.allow_http:
        raise OutboundUrlRefused("plain http is not allowed: use https")
    if parsed.username or parsed.password:
        raise OutboundUrlRefused("a user name or password in the URL is not allowed")
    if not parsed.host or parsed.port is None:
        raise OutboundUrlRefused("the URL has no host")
    host = parsed.host.strip("[]")
    literal = _address_or_none(host)
    allowlisted = policy.allows_host(host) or (
        literal is not None and policy.allows_address(literal)
    )
    port = parsed.port
    if not allowlisted and port not in WEB_PORTS and port < FIRST_UNPRIVILEGED_PORT:
        raise OutboundUrlRefused(f"port {port} is not allowed: use 443, 80 or 1024 and up")
    target = parsed.path or "/"
    if parsed.query is not None:
        target += "?" + parsed.query
    outbound = OutboundTarget(parsed.scheme, host, port, target, literal, allowlisted)
    if literal is not None:
        check_addresses(outbound, [literal], policy)
    return outbound


def _address_or_none(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check_addresses(
    target: OutboundTarget, addresses: Iterable[IPAddress], policy: OutboundPolicy
) -> None:
    """Every address the host resolves to must be callable: one bad answer refuses the URL,
    so a name cannot hide an inside address behind a public one."""
    found = list(addresses)
    if not found:
        raise OutboundUrlRefused(f"{target.host} resolves to no address")
    for address in found:
        reason = address_refusal(address)
        if reason is None:
            continue
        allowed = target.allowlisted_host or policy.allows_address(address)
        if allowed and not _never_callable(address):
            continue
        shown = target.host if target.host == str(address) else f"{target.host} ({address})"
        raise OutboundUrlRefused(f"{shown} is {reason}")


def _never_callable(address: IPAddress) -> bool:
    """No allowlist makes these a web server."""
    address = _embedded_ipv4(address) or address
    return address.is_unspecified or address.is_multicast or address == _BROADCAST


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, NAT64, 6to4), which is where it goes."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def address_refusal(address: IPAddress) -> str | None:
    """Why the engine must not connect to ``address``, or None for a public unicast one."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        reason = address_refusal(embedded)
        return None if reason is None else f"{embedded}, {reason}"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (where cloud metadata services live)"
    if address.is_multicast:
        return "a multicast address"
    if address == _BROADCAST:
        return "the broadcast address"
    if isinstance(address, ipaddress.IPv4Address):
        if address in _THIS_NETWORK:
            return "a 'this network' address (0.0.0.0/8)"
        if address in _SHARED_ADDRESS_SPACE:
            return "a shared address (100.64.0.0/10, carrier-grade NAT)"
    elif address.is_site_local:
        return "a site-local address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global or any(address in network for network in _NOT_GLOBAL):
        return "a special-purpose address, not publicly routable"
    return None
