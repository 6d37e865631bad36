"""The outbound-URL rules: which callback URLs the engine will call, table by table."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pytest

from engine.net.outbound import (
    IPAddress,
    OutboundPolicy,
    OutboundUrlRefused,
    address_refusal,
    check_addresses,
    parse_outbound_url,
)
from engine.net.outbound_client import HostNotResolved, OutboundClient
from engine.secrets import is_embedded
from engine.settings import Settings

PRODUCTION = OutboundPolicy(allow_http=False)
EMBEDDED = OutboundPolicy(allow_http=True)


@dataclass(frozen=True)
class Refused:
    url: str
    because: str  # a part of the message the client reads


REFUSED_ADDRESSES = [
    Refused("https://127.0.0.1/hook", "127.0.0.1 is a loopback address"),
    Refused("https://127.1/hook", "127.0.0.1 is a loopback address"),
    Refused("https://0x7f.1/hook", "127.0.0.1 is a loopback address"),
    Refused("https://2130706433/hook", "127.0.0.1 is a loopback address"),
    Refused("https://0177.0.0.1/hook", "127.0.0.1 is a loopback address"),
    Refused("https://169.254.169.254/latest/meta-data/", "link-local"),
    Refused("https://10.0.0.5/", "10.0.0.5 is a private address"),
    Refused("https://172.16.3.4/", "172.16.3.4 is a private address"),
    Refused("https://172.31.255.255/", "private address"),
    Refused("https://192.168.1.1/", "192.168.1.1 is a private address"),
    Refused("https://100.64.0.1/", "shared address (100.64.0.0/10"),
    Refused("https://0.0.0.0/", "0.0.0.0 is an unspecified address"),
    Refused("https://0.1.2.3/", "'this network' address"),
    Refused("https://[::1]/", "::1 is a loopback address"),
    Refused("https://[::]/", ":: is an unspecified address"),
    Refused("https://[fe80::1]/", "fe80::1 is a link-local address"),
    Refused("https://[fc00::1]/", "fc00::1 is a private address"),
    Refused("https://[fd12:3456::1]/", "private address"),
    Refused("https://[::ffff:127.0.0.1]/", "127.0.0.1, a loopback address"),
    Refused("https://[::ffff:169.254.169.254]/", "169.254.169.254, a link-local address"),
    Refused("https://[64:ff9b::10.0.0.1]/", "10.0.0.1, a private address"),  # NAT64
    Refused("https://[2002:7f00:1::]/", "127.0.0.1, a loopback address"),  # 6to4
    Refused("https://224.0.0.1/", "224.0.0.1 is a multicast address"),
    Refused("https://[ff02::1]/", "multicast address"),
    Refused("https://255.255.255.255/", "the broadcast address"),
    Refused("https://240.0.0.1/", "240.0.0.1 is"),
    Refused("https://192.0.0.8/", "not publicly routable"),
    Refused("https://198.18.0.1/", "198.18.0.1 is"),
    Refused("https://[2001:db8::1]/", "2001:db8::1 is"),
    Refused("https://[fec0::1]/", "site-local address"),
]

REFUSED_SHAPES = [
    Refused("https://user:secret@8.8.8.8/hook", "user name or password"),
    Refused("https://:secret@8.8.8.8/hook", "user name or password"),
    Refused("https://user@8.8.8.8/hook", "user name or password"),
    Refused("ftp://8.8.8.8/hook", "scheme 'ftp' is not allowed"),
    Refused("file:///etc/passwd", "scheme 'file' is not allowed"),
    Refused("gopher://8.8.8.8:6379/_FLUSHALL", "scheme 'gopher' is not allowed"),
    Refused("javascript:alert(1)", "is not allowed"),
    Refused("not a url", "is not a valid URL"),
    Refused("https://8.8.8.8:22/", "port 22 is not allowed"),
    Refused("https://8.8.8.8:25/", "port 25 is not allowed"),
]


@pytest.mark.parametrize("case", REFUSED_ADDRESSES + REFUSED_SHAPES, ids=lambda c: c.url)
def test_refused_urls_say_why(case: Refused) -> None:
    with pytest.raises(OutboundUrlRefused) as refused:
        parse_outbound_url(case.url, EMBEDDED)
    assert case.because in refused.value.message
    assert refused.value.status == 422


@pytest.mark.parametrize(
    "url",
    [
        "https://8.8.8.8/hook",
        "https://93.184.216.34:8443/hook?job=1",
        "https://[2606:4700:4700::1111]/hook",
        "https://[::ffff:8.8.8.8]/hook",  # a public address however it is written
        "https://[64:ff9b::8.8.8.8]/hook",  # NAT64 to a public address
        "https://client.example.org/kazi-callback",  # a name: checked once resolved
    ],
)
def test_public_https_urls_pass(url: str) -> None:
    target = parse_outbound_url(url, PRODUCTION)
    assert target.scheme == "https"


def test_a_public_url_keeps_its_path_query_and_port() -> None:
    target = parse_outbound_url("https://Client.Example.org:8443/a/b?job=1&x=2#frag", PRODUCTION)
    assert (target.host, target.port) == ("client.example.org", 8443)
    assert target.target == "/a/b?job=1&x=2"
    assert target.host_header == "client.example.org:8443"
    assert parse_outbound_url("https://client.example.org/", PRODUCTION).host_header == (
        "client.example.org"
    )


def test_http_is_refused_in_production_and_allowed_in_embedded_mode() -> None:
    with pytest.raises(OutboundUrlRefused, match="plain http is not allowed: use https"):
        parse_outbound_url("http://8.8.8.8/hook", PRODUCTION)
    assert parse_outbound_url("http://8.8.8.8/hook", EMBEDDED).port == 80


def test_embedded_mode_still_refuses_inside_addresses() -> None:
    with pytest.raises(OutboundUrlRefused, match="loopback"):
        parse_outbound_url("http://127.0.0.1:25999/internal-admin", EMBEDDED)


def test_the_policy_follows_the_deployment_settings() -> None:
    embedded = Settings(database_url="", broker_url="", store_backend="local")
    production = Settings(database_url="postgresql+psycopg://db/kazi", broker_url="redis://r")
    assert is_embedded(embedded) and not is_embedded(production)
    assert OutboundClient.from_settings(embedded).policy.allow_http
    assert not OutboundClient.from_settings(production).policy.allow_http
    listed = Settings(callback_allowed_hosts="hooks.corp.internal, 10.20.0.0/16 [fd00::7]")
    policy = OutboundClient.from_settings(listed).policy
    assert policy.allowed_host_names == frozenset({"hooks.corp.internal"})
    assert [str(n) for n in policy.allowed_networks] == ["10.20.0.0/16", "fd00::7/128"]


ON_PREMISE = OutboundPolicy.from_allowlist(
    "hooks.corp.internal 10.20.0.0/16 127.0.0.1", allow_http=False
)


def _resolved(target_url: str, policy: OutboundPolicy, *addresses: str) -> None:
    target = parse_outbound_url(target_url, policy)
    check_addresses(target, [ipaddress.ip_address(a) for a in addresses], policy)


def test_an_allowlisted_cidr_may_be_private() -> None:
    parse_outbound_url("https://10.20.3.4:9000/hook", ON_PREMISE)  # any port once allowlisted
    _resolved("https://erp.corp/hook", ON_PREMISE, "10.20.3.4")
    with pytest.raises(OutboundUrlRefused, match="10.21.0.1 is a private address"):
        parse_outbound_url("https://10.21.0.1/hook", ON_PREMISE)
    with pytest.raises(OutboundUrlRefused, match=r"erp.corp \(10.30.0.1\) is a private"):
        _resolved("https://erp.corp/hook", ON_PREMISE, "10.30.0.1")


def test_an_allowlisted_host_name_may_resolve_to_private_addresses() -> None:
    _resolved("https://HOOKS.corp.internal./hook", ON_PREMISE, "192.168.7.7", "fd00::1")
    with pytest.raises(OutboundUrlRefused, match=r"other.corp.internal \(192.168.7.7\)"):
        _resolved("https://other.corp.internal/hook", ON_PREMISE, "192.168.7.7")


def test_an_allowlist_never_makes_multicast_or_unspecified_callable() -> None:
    everything = OutboundPolicy.from_allowlist("0.0.0.0/0 ::/0", allow_http=True)
    with pytest.raises(OutboundUrlRefused, match="multicast"):
        parse_outbound_url("https://224.0.0.1/", everything)
    with pytest.raises(OutboundUrlRefused, match="unspecified"):
        parse_outbound_url("https://0.0.0.0/", everything)
    parse_outbound_url("https://127.0.0.1/", everything)


def test_an_allowlist_does_not_allow_http_in_production() -> None:
    with pytest.raises(OutboundUrlRefused, match="plain http"):
        parse_outbound_url("http://127.0.0.1/hook", ON_PREMISE)


def test_one_inside_address_among_public_ones_refuses_the_name() -> None:
    with pytest.raises(OutboundUrlRefused, match=r"mixed.example \(127.0.0.1\) is a loopback"):
        _resolved("https://mixed.example/", PRODUCTION, "8.8.8.8", "127.0.0.1")


def test_a_name_with_no_address_is_refused() -> None:
    with pytest.raises(OutboundUrlRefused, match="resolves to no address"):
        _resolved("https://empty.example/", PRODUCTION)


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("8.8.8.8", False),
        ("1.1.1.1", False),
        ("2606:4700::1111", False),
        ("127.0.0.2", True),
        ("169.254.0.1", True),
        ("::ffff:10.0.0.1", True),
        ("64:ff9b:1::1", True),
    ],
)
def test_address_classification(address: str, refused: bool) -> None:
    assert (address_refusal(ipaddress.ip_address(address)) is not None) is refused


class FakeResolver:
    """Our resolver port, answering from a table; counts lookups."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.lookups.append(host)
        if host not in self.answers:
            raise HostNotResolved(f"{host} does not resolve")
        return [ipaddress.ip_address(a) for a in self.answers[host]]


def test_the_client_pins_the_first_checked_address() -> None:
    resolver = FakeResolver({"client.example.org": ["93.184.216.34", "2606:2800:220:1::1"]})
    pinned = OutboundClient(PRODUCTION, resolver).check("https://client.example.org:8443/cb?x=1")
    assert str(pinned.request_url()) == "https://93.184.216.34:8443/cb?x=1"
    assert pinned.extensions() == {"sni_hostname": "client.example.org"}
    assert pinned.target.host_header == "client.example.org:8443"


def test_the_client_refuses_a_name_resolving_inside() -> None:
    resolver = FakeResolver({"internal.example.org": ["10.0.0.7"]})
    with pytest.raises(OutboundUrlRefused, match=r"internal.example.org \(10.0.0.7\) is a priv"):
        OutboundClient(PRODUCTION, resolver).check("https://internal.example.org/")


def test_a_literal_address_is_not_looked_up() -> None:
    resolver = FakeResolver({})
    pinned = OutboundClient(PRODUCTION, resolver).check("https://[2606:4700::1111]/cb")
    assert resolver.lookups == []
    assert str(pinned.request_url()) == "https://[2606:4700::1111]/cb"
    assert pinned.extensions() == {}  # the certificate must name the address itself
