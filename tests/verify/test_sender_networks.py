"""Sender networks shared across the domains of one verify attempt, against the loopback DNS server."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from sending_domain.core.spf.netset import NetSet
from sending_domain.dns.resolver import AsyncResolver
from sending_domain.verify import dns_probe
from sending_domain.verify.dns_probe import SenderNetworks
from sending_domain.verify.observed import SenderNets
from tests.conftest import MakeDnsServer

ZONE = r"""
$ORIGIN example.
vendor    TXT  "v=spf1 ip4:192.0.2.0/24 -all"
loop      TXT  "v=spf1 include:back.example -all"
back      TXT  "v=spf1 ip4:198.51.100.0/24 -all"
a         A    192.0.2.1
b         A    192.0.2.2
"""


def nets(*networks: str) -> SenderNets:
    return SenderNets(NetSet.of([ipaddress.ip_network(n) for n in networks]))


def ask_all(server, pairs: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch) -> tuple[list[SenderNets], list[str]]:
    """Every (domain, term) through one SenderNetworks, concurrently; and the domains that walked a tree."""
    walked: list[str] = []
    fetch = dns_probe.fetch_and_evaluate

    async def counted(domain, resolver, text=None):
        walked.append(domain)
        return await fetch(domain, resolver, text)

    monkeypatch.setattr(dns_probe, "fetch_and_evaluate", counted)

    async def main() -> list[SenderNets]:
        senders = SenderNetworks(AsyncResolver([server.nameserver]), None)
        return list(await asyncio.gather(*(senders.nets(d, t) for d, t in pairs)))

    return asyncio.run(main()), walked


def test_a_vendor_tree_is_walked_once_for_every_domain(dns_server: MakeDnsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    pairs = [(f"d{i}.example", "include:vendor.example") for i in range(5)] + [("d0.example", "ip4:203.0.113.9")]
    results, walked = ask_all(dns_server(ZONE), pairs, monkeypatch)
    assert results == [nets("192.0.2.0/24")] * 5 + [nets("203.0.113.9/32")]
    assert walked == ["d0.example", "d0.example"]  # one walk per term, by the first domain that asked


@pytest.mark.parametrize("first", ["other.example", "back.example"])
def test_a_tree_through_the_domain_itself_is_that_domains_own_loop(dns_server: MakeDnsServer, monkeypatch: pytest.MonkeyPatch, first: str) -> None:
    second = "back.example" if first == "other.example" else "other.example"
    results, _ = ask_all(dns_server(ZONE), [(first, "include:loop.example"), (second, "include:loop.example")], monkeypatch)
    got = dict(zip([first, second], results))
    assert got["other.example"] == nets("198.51.100.0/24")
    assert "SPF loop: back.example -> loop.example -> back.example" in got["back.example"].error


def test_a_failed_shared_walk_is_reported_by_each_domain_in_its_own_words(dns_server: MakeDnsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    results, _ = ask_all(dns_server(ZONE), [("x.example", "include:missing.example"), ("y.example", "include:missing.example")], monkeypatch)
    assert "include:missing.example in x.example" in results[0].error
    assert "include:missing.example in y.example" in results[1].error


def test_a_term_that_means_the_domain_itself_is_walked_per_domain(dns_server: MakeDnsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    results, walked = ask_all(dns_server(ZONE), [("a.example", "a"), ("b.example", "a")], monkeypatch)
    assert results == [nets("192.0.2.1/32"), nets("192.0.2.2/32")]
    assert sorted(walked) == ["a.example", "b.example"]


@pytest.mark.parametrize(
    ("term", "free"),
    [
        ("include:vendor.example", True),
        ("ip4:192.0.2.1", True),
        ("a:host.example/24", True),
        ("mx:mail.example", True),
        ("a", False),
        ("mx/24", False),
        ("ptr", False),
        ("include:%{d}.vendor.example", False),
        ("exists:%{i}.x.example", False),
        ("redirect=%{d}.vendor.example", False),
        ("redirect=vendor.example", True),
        ("include:", False),  # a syntax error: the walk at the domain reports it
    ],
)
def test_which_terms_read_the_same_at_every_domain(term: str, free: bool) -> None:
    assert dns_probe._domain_free(term) is free
