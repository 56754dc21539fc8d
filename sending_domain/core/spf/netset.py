"""Exact sets of IP networks: union, difference, canonical order.

Flattening needs real set arithmetic: an include contributes the addresses its target *passes*, which
is "pass" networks minus whatever an earlier term of the target already decided (RFC 7208 §5.2).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
EVERYTHING = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))


def _key(net: Network) -> tuple[int, int, int]:
    return (net.version, int(net.network_address), net.prefixlen)


def _collapse(nets: Iterable[Network]) -> tuple[Network, ...]:
    v4 = [n for n in nets if n.version == 4]
    v6 = [n for n in nets if n.version == 6]
    out = list(ipaddress.collapse_addresses(v4)) + list(ipaddress.collapse_addresses(v6))
    return tuple(sorted(out, key=_key))


@dataclass(frozen=True)
class NetSet:
    """A set of addresses held as collapsed, sorted networks (IPv4 first)."""

    networks: tuple[Network, ...] = ()

    @classmethod
    def of(cls, nets: Iterable[Network]) -> NetSet:
        return cls(_collapse(nets))

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __or__(self, other: NetSet) -> NetSet:
        return NetSet.of(self.networks + other.networks)

    def __sub__(self, other: NetSet) -> NetSet:
        if not self or not other:
            return self
        pieces: list[Network] = []
        for net in self.networks:
            pieces.extend(_subtract_one(net, other.networks))
        return NetSet.of(pieces)


def _subtract_one(net: Network, holes: tuple[Network, ...]) -> list[Network]:
    parts = [net]
    for hole in holes:
        if hole.version != net.version:
            continue
        nxt: list[Network] = []
        for part in parts:
            if hole.supernet_of(part):  # type: ignore[arg-type]
                continue
            if part.supernet_of(hole):  # type: ignore[arg-type]
                nxt.extend(part.address_exclude(hole))  # type: ignore[arg-type]
            else:
                nxt.append(part)
        parts = nxt
    return parts


ALL = NetSet.of(EVERYTHING)
