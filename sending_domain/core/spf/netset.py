"""Exact sets of IP addresses: union, difference, canonical networks.

Flattening needs real set arithmetic: an include contributes the addresses its target *passes*, which
is "pass" networks minus whatever an earlier term of the target already decided (RFC 7208 §5.2). A set
is held as sorted, disjoint, non-adjacent integer ranges per address family, so union is a merge and
difference one sweep; the CIDR networks to publish are derived from the ranges (the fewest that cover
them exactly).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Range = tuple[int, int, int]  # (family 4 or 6, first address, last address)


def _merge(ranges: Iterable[Range]) -> tuple[Range, ...]:
    out: list[list[int]] = []
    for family, first, last in sorted(ranges):
        if out and out[-1][0] == family and first <= out[-1][2] + 1:
            out[-1][2] = max(out[-1][2], last)
        else:
            out.append([family, first, last])
    return tuple((f, a, b) for f, a, b in out)


@dataclass(frozen=True)
class NetSet:
    """A set of addresses; ``networks`` are its canonical CIDR blocks, IPv4 first, in address order."""

    ranges: tuple[Range, ...] = ()

    @classmethod
    def of(cls, nets: Iterable[Network]) -> NetSet:
        return cls(_merge((n.version, int(n.network_address), int(n.broadcast_address)) for n in nets))

    @cached_property
    def networks(self) -> tuple[Network, ...]:
        out: list[Network] = []
        for family, first, last in self.ranges:
            make = ipaddress.IPv4Address if family == 4 else ipaddress.IPv6Address
            out.extend(ipaddress.summarize_address_range(make(first), make(last)))  # type: ignore[arg-type]
        return tuple(out)

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def __or__(self, other: NetSet) -> NetSet:
        return NetSet(_merge(self.ranges + other.ranges))

    def __sub__(self, other: NetSet) -> NetSet:
        if not self or not other:
            return self
        out: list[Range] = []
        holes = other.ranges
        for family, first, last in self.ranges:
            start = first
            for h_family, h_first, h_last in holes:
                if h_family != family or h_last < start or h_first > last:
                    continue
                if h_first > start:
                    out.append((family, start, h_first - 1))
                start = max(start, h_last + 1)
                if start > last:
                    break
            if start <= last:
                out.append((family, start, last))
        return NetSet(tuple(out))


ALL = NetSet.of([ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")])
