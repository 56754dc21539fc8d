"""Law: the flattened set gives the same check_host() result as the original, for every client address.

Judged by an independent implementation, pyspf (the reference check_host()), on real DNS: both zones are
served by the loopback DNS test server. The original is evaluated with both limits of RFC 7208 §4.6.4
lifted — the 10 DNS-querying terms and the two void lookups (it may exceed either: that is why one
flattens); the flattened set with the normal limits, and it never needs more than 10 lookups by our count.
The trees hold names without addresses (NXDOMAIN, no A, no AAAA: A-only hosts are void lookups for IPv6
clients only) and names without MX, so many of them exceed the void-lookup limit.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterator

import dns.resolver
import pytest
import spf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sending_domain.core.errors import SpfError
from sending_domain.dns.resolver import AsyncResolver
from sending_domain.dns.spf_fetch import flatten_live
from tests.dnsserver import DnsTestServer

ROOT = "example.com"
V4 = ipaddress.ip_network("10.0.0.0/22")
V6 = ipaddress.ip_network("2001:db8::/118")
HOSTS = ["h0.example.net", "h1.example.net", "h2.example.net", "h3.example.net"]
GONE = "gone.example.net"  # NXDOMAIN: a void lookup for every client
VENDORS = [f"v{i}.example.net" for i in range(5)]


@pytest.fixture(scope="module")
def server() -> Iterator[DnsTestServer]:
    with DnsTestServer() as srv:
        saved = dns.resolver.default_resolver
        oracle = dns.resolver.Resolver(configure=False)
        oracle.nameservers = [srv.host]
        oracle.port = srv.port
        dns.resolver.default_resolver = oracle  # pyspf asks dnspython's default resolver
        try:
            yield srv
        finally:
            dns.resolver.default_resolver = saved


def _net(draw: st.DrawFn, family: int) -> str:
    """A network around a few anchor addresses, so that terms overlap and first-match order matters."""
    space = V4 if family == 4 else V6
    host_bits = 32 if family == 4 else 128
    prefix = draw(st.sampled_from([space.prefixlen, host_bits - 8, host_bits - 6, host_bits - 2, host_bits]))
    offset = draw(st.sampled_from([0, 5, 64, 200, 513, 1000]))
    net = ipaddress.ip_network(f"{space.network_address + offset}/{prefix}", strict=False)
    return f"ip{family}:{net}"


@st.composite
def term(draw: st.DrawFn, index: int) -> str:
    """One directive for the record of vendor ``index`` (-1 for the root); includes only point forward."""
    q = draw(st.sampled_from(["", "", "", "-", "~", "?"]))
    kinds = ["ip4"] * 6 + ["ip6"] * 3 + ["a"] * 4 + ["mx", "mx", "exists"] + ["void"] * 5 + ["include"] * 4 * (index < len(VENDORS) - 1)
    kind = draw(st.sampled_from(kinds))
    if kind in ("ip4", "ip6"):
        return q + _net(draw, 4 if kind == "ip4" else 6)
    if kind == "void":  # a name without addresses, or without MX
        return q + draw(st.sampled_from([f"a:{GONE}", f"mx:{GONE}", "mx:h1.example.net", f"a:{GONE}/24//64"]))
    if kind == "a":
        host = draw(st.sampled_from(HOSTS + [GONE, None]))
        cidr = draw(st.sampled_from(["", "/30", "/31//126", "//120"]))
        return q + "a" + (f":{host}" if host else "") + cidr
    if kind == "mx":
        return q + draw(st.sampled_from(["mx:m.example.net", "mx:m.example.net/30", "mx", f"mx:{GONE}", "mx:h0.example.net"]))
    if kind == "exists":
        return q + "exists:yes.example.org"
    return q + f"include:{VENDORS[draw(st.integers(index + 1, len(VENDORS) - 1))]}"


@st.composite
def record(draw: st.DrawFn, index: int) -> str:
    terms = draw(st.lists(term(index), min_size=0 if index >= 0 else 1, max_size=8))
    end = draw(st.sampled_from(["-all", "~all", "?all", "+all", "", "redirect"]))
    if end == "redirect" and index < len(VENDORS) - 1:
        terms.append(f"redirect={VENDORS[draw(st.integers(index + 1, len(VENDORS) - 1))]}")
    elif end and end != "redirect":
        terms.append(end)
    return " ".join(["v=spf1", *terms])


A_ONLY = "aonly.example.net"  # an A record and no AAAA: a void lookup for IPv6 clients only


@st.composite
def world(draw: st.DrawFn, over_void_limit: bool = False) -> dict[str, list[str]]:
    """Zone data: name -> presentation-format records.

    ``over_void_limit``: the root starts with two terms void for every client and one void for IPv6 clients
    only (an A-only host), somewhere in its tree, so every IPv6 client walks more than two void lookups.
    """
    root = draw(record(-1))
    if over_void_limit:
        voids = draw(st.permutations([f"a:{GONE}", draw(st.sampled_from([f"mx:{GONE}", "mx:h1.example.net"])), f"a:{A_ONLY}"]))
        root = " ".join(["v=spf1", *voids, root[len("v=spf1 "):]])
    zone: dict[str, list[str]] = {ROOT: [txt(root), "A 10.0.3.250", "MX 10 h1.example.net."], A_ONLY: ["A 10.0.1.77"]}
    for i, vendor in enumerate(VENDORS):
        zone[vendor] = [txt(draw(record(i)))]
        zone[vendor] += ["A 10.0.2.1", "AAAA 2001:db8::2:1", "MX 5 h0.example.net."][: draw(st.integers(1, 3))]
    for host in HOSTS:
        # each host has A and AAAA, or only A (void for IPv6 clients), or only AAAA (void for IPv4 clients)
        families = draw(st.sampled_from([(4, 6), (4, 6), (4,), (6,)]))
        zone[host] = []
        if 4 in families:
            zone[host].append(f"A {ipaddress.ip_address(int(V4.network_address) + draw(st.integers(0, 1023)))}")
        if 6 in families:
            zone[host].append(f"AAAA {ipaddress.ip_address(int(V6.network_address) + draw(st.integers(0, 1023)))}")
    zone["m.example.net"] = ["MX 10 h0.example.net.", "MX 20 h2.example.net.", "MX 30 h3.example.net."]
    zone["yes.example.org"] = ["A 127.0.0.2"]
    return zone


def txt(value: str) -> str:
    """A TXT record in presentation form, in character-strings of at most 255 bytes (RFC 1035 §3.3.14)."""
    return "TXT " + " ".join(f'"{value[i:i + 255]}"' for i in range(0, len(value), 255))


def zone_text(zone: dict[str, list[str]]) -> str:
    return "$TTL 300\n" + "\n".join(f"{name}. IN {rr}" for name, rrs in sorted(zone.items()) for rr in rrs) + "\n"


def sample_addresses(zone: dict[str, list[str]]) -> list[str]:
    """Edges of every network in play (first, last, one outside each side) plus fixed probes."""
    text = zone_text(zone)
    found = set()
    for token in text.replace('"', " ").split():
        for prefix in ("ip4:", "ip6:"):
            if token.startswith(prefix):
                net = ipaddress.ip_network(token[4:], strict=False)
                found |= {net.network_address, net.broadcast_address, net.network_address - 1, net.broadcast_address + 1}
    for rrs in zone.values():
        for rr in rrs:
            if rr.startswith(("A ", "AAAA ")):
                ip = ipaddress.ip_address(rr.split()[1])
                found |= {ip, ip + 1, ip - 3}
    found |= {ipaddress.ip_address("10.0.0.0"), ipaddress.ip_address("10.0.3.255"), ipaddress.ip_address("192.0.2.1"),
              ipaddress.ip_address("2001:db8::1"), ipaddress.ip_address("2001:db8:ffff::1")}
    valid = [ip for ip in found if not ip.is_unspecified and str(ip) not in ("255.255.255.255",)]
    return sorted((str(ip) for ip in valid), key=lambda s: (":" in s, s))[:40]


def check_host(ip: str, *, lifted: bool) -> tuple[str, int]:
    """pyspf's result for ``ip`` and the void lookups it made: with the RFC 7208 §4.6.4 limits (10 lookups,
    2 void lookups), or with both lifted."""
    saved = spf.MAX_LOOKUP, spf.MAX_VOID_LOOKUPS
    if lifted:
        spf.MAX_LOOKUP, spf.MAX_VOID_LOOKUPS = 1000, 1000
    try:
        query = spf.query(i=ip, s=f"postmaster@{ROOT}", h="client.example.org", timeout=5)
        return query.check()[0], query.void_lookups
    finally:
        spf.MAX_LOOKUP, spf.MAX_VOID_LOOKUPS = saved


SETTINGS = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much])


@SETTINGS
@given(zone=world(), max_bytes=st.sampled_from([100, 200, 450]))
def test_flattened_set_evaluates_like_the_original(server: DnsTestServer, zone: dict[str, list[str]], max_bytes: int) -> None:
    check_law(server, zone, max_bytes)


@SETTINGS
@given(zone=world(over_void_limit=True), max_bytes=st.sampled_from([200, 450]))
def test_a_tree_over_the_void_limit_flattens_to_what_it_means(server: DnsTestServer, zone: dict[str, list[str]], max_bytes: int) -> None:
    walks = check_law(server, zone, max_bytes)
    # the oracle agrees the original is over the limit: every IPv6 client walks more than two void lookups
    assert walks is None or all(count > 2 for ip, (_, count) in walks.items() if ":" in ip)


def check_law(server: DnsTestServer, zone: dict[str, list[str]], max_bytes: int) -> dict[str, tuple[str, int]] | None:
    """Flatten ``zone``'s root; when we publish, pyspf gives the same result for every sampled address."""
    from sending_domain.core.spf.flatten import FlattenOptions

    server.load(zone_text(zone))
    try:
        options = FlattenOptions(max_bytes=max_bytes, refuse_wide=False)  # the floor is a policy, not semantics
        result = asyncio.run(flatten_live(ROOT, AsyncResolver([server.nameserver]), None, options))
    except SpfError:
        return None  # refusals are tested on their own; here the law is about what we do publish
    assert result.lookups <= 10
    addresses = sample_addresses(zone)
    walks = {ip: check_host(ip, lifted=True) for ip in addresses}
    original = {ip: result for ip, (result, _) in walks.items()}
    flat_zone = dict(zone)
    flat_zone[ROOT] = [rr for rr in zone[ROOT] if not rr.startswith("TXT")]
    for rec in result.records:
        flat_zone.setdefault(rec.name, []).append("TXT " + rec.content)
    server.load(zone_text(flat_zone))
    flattened = {ip: check_host(ip, lifted=False)[0] for ip in addresses}
    assert flattened == original, "\n".join(r.value for r in result.records)
    return walks

