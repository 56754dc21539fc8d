"""Exact sets of IP addresses: union, difference, first match, canonical networks.

Flattening needs real set arithmetic: an include contributes the addresses its target *passes*, which
is "pass" networks minus whatever an earlier term of the target already decided (RFC 7208 §5.2). A set
is held as sorted, disjoint, non-adjacent integer ranges per address family, so union is a merge and
difference one sweep; the CIDR networks to publish are derived from the ranges (the fewest that cover
them exactly). :func:`first_match` splits the addresses of an ordered list of sets by the first set that
holds them in one sweep, so evaluating n terms costs O(n log n), not n unions of growing sets.
"""

from __future__ import annotations

import heapq
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Range = tuple[int, int, int]  # (family 4 or 6, first address, last address)


def _merge(ranges: Iterable[Range]) -> tuple[Range, ...]:
    """Sorted, disjoint, non-adjacent ranges covering exactly ``ranges`` (sorted or not)."""
    return _merge_sorted(sorted(ranges))


def _merge_sorted(ranges: Iterable[Range]) -> tuple[Range, ...]:
    out: list[list[int]] = []
    for family, first, last in ranges:
        if out and out[-1][0] == family and first <= out[-1][2] + 1:
            if last > out[-1][2]:
                out[-1][2] = last
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

    @classmethod
    def of_network(cls, net: Network) -> NetSet:
        """One network, without the general path's sorting."""
        first = int(net.network_address)
        return cls(((net.version, first, first | ((1 << (net.max_prefixlen - net.prefixlen)) - 1)),))

    @classmethod
    def union(cls, sets: Iterable[NetSet]) -> NetSet:
        """The union of many sets in one sort: O(n log n) in their total number of ranges."""
        ranges = [r for s in sets for r in s.ranges]
        return cls(_merge(ranges))

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
        if not other:
            return self
        if not self:
            return other
        return NetSet(_merge_sorted(heapq.merge(self.ranges, other.ranges)))

    def __and__(self, other: NetSet) -> NetSet:
        return self - (self - other)

    def __sub__(self, other: NetSet) -> NetSet:
        """One sweep over both sorted range lists."""
        if not self or not other:
            return self
        out: list[Range] = []
        holes = other.ranges
        j = 0
        for family, first, last in self.ranges:
            while j < len(holes) and (holes[j][0], holes[j][2]) < (family, first):
                j += 1  # holes entirely before this range never matter again (both lists are sorted)
            start, k = first, j
            while k < len(holes) and holes[k][0] == family and holes[k][1] <= last:
                h_first, h_last = holes[k][1], holes[k][2]
                if h_first > start:
                    out.append((family, start, h_first - 1))
                start = max(start, h_last + 1)
                if start > last:
                    break
                k += 1
            if start <= last:
                out.append((family, start, last))
        return NetSet(tuple(out))

    def wider_than(self, min_prefix: Mapping[int, int]) -> tuple[Network, ...]:
        """Its networks with a prefix shorter than ``min_prefix[version]``.

        Only a range that holds a whole aligned block of that size can have one, so the others are never
        split into networks.
        """
        out: list[Network] = []
        for family, first, last in self.ranges:
            size = 1 << ((32 if family == 4 else 128) - min_prefix[family] + 1)
            if -(-first // size) * size + size - 1 > last:
                continue
            make = ipaddress.IPv4Address if family == 4 else ipaddress.IPv6Address
            out += [n for n in ipaddress.summarize_address_range(make(first), make(last))  # type: ignore[arg-type]
                    if n.prefixlen < min_prefix[family]]
        return tuple(out)


def first_match(sets: Sequence[NetSet]) -> list[NetSet]:
    """For each set in order, the addresses it holds that no earlier set holds (RFC 7208 §4.6.2: first match wins).

    One sweep over every range's start and end with a heap of the sets open at that point: O(n log n) in
    the total number of ranges.
    """
    events: list[tuple[int, int, int, int]] = []  # (family, address, 0 = end before / 1 = start, index)
    for index, s in enumerate(sets):
        for family, first, last in s.ranges:
            events.append((family, first, 1, index))
            events.append((family, last + 1, 0, index))
    events.sort()
    pieces: list[list[Range]] = [[] for _ in sets]
    open_sets: list[int] = []
    closed: dict[int, int] = {}  # lazily removed heap entries
    active: dict[int, int] = {}
    position: tuple[int, int] | None = None
    for family, address, kind, index in events:
        if position is not None and open_sets and (family, address) > position:
            winner = open_sets[0]
            end = address - 1 if family == position[0] else _family_end(position[0])
            _add_piece(pieces[winner], position[0], position[1], end)
        if kind == 1:
            active[index] = active.get(index, 0) + 1
            heapq.heappush(open_sets, index)
        else:
            active[index] -= 1
            closed[index] = closed.get(index, 0) + 1
        while open_sets and closed.get(open_sets[0], 0):
            closed[open_sets[0]] -= 1
            heapq.heappop(open_sets)
        position = (family, address)
    return [NetSet(tuple(p)) for p in pieces]


def _family_end(family: int) -> int:
    return (1 << (32 if family == 4 else 128)) - 1


def _add_piece(pieces: list[Range], family: int, first: int, last: int) -> None:
    if first > last:
        return
    if pieces and pieces[-1][0] == family and pieces[-1][2] + 1 == first:
        pieces[-1] = (family, pieces[-1][1], last)
    else:
        pieces.append((family, first, last))


ALL = NetSet.of([ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")])
