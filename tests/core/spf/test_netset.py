"""NetSet agrees with plain sets of addresses (a small universe makes that exhaustive)."""

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from sending_domain.core.spf.netset import NetSet

BASE4 = int(ipaddress.IPv4Address("10.0.0.0"))
BASE6 = int(ipaddress.IPv6Address("2001:db8::"))


@st.composite
def netsets(draw: st.DrawFn) -> tuple[NetSet, set[tuple[int, int]]]:
    nets, addresses = [], set()
    for _ in range(draw(st.integers(0, 6))):
        family = draw(st.sampled_from([4, 6]))
        prefix = draw(st.integers(0, 6))
        offset = draw(st.integers(0, 63)) & ~((1 << prefix) - 1)
        base, cls = (BASE4, ipaddress.IPv4Network) if family == 4 else (BASE6, ipaddress.IPv6Network)
        host = 32 if family == 4 else 128
        nets.append(cls((base + offset, host - prefix)))
        addresses |= {(family, base + offset + i) for i in range(1 << prefix)}
    return NetSet.of(nets), addresses


def members(s: NetSet) -> set[tuple[int, int]]:
    return {(n.version, int(a)) for n in s.networks for a in n}


@given(netsets(), netsets())
def test_union_and_difference_match_sets(a, b) -> None:
    (x, xs), (y, ys) = a, b
    assert members(x) == xs
    assert members(x | y) == xs | ys
    assert members(x - y) == xs - ys
    assert (x | y) == (y | x)


def test_networks_are_the_fewest_exact_cidrs() -> None:
    s = NetSet.of([ipaddress.ip_network("10.0.0.0/25"), ipaddress.ip_network("10.0.0.128/25"), ipaddress.ip_network("10.0.1.1/32")])
    assert [str(n) for n in s.networks] == ["10.0.0.0/24", "10.0.1.1/32"]
    hole = s - NetSet.of([ipaddress.ip_network("10.0.0.5/32")])
    assert [str(n) for n in hole.networks] == ["10.0.0.0/30", "10.0.0.4/32", "10.0.0.6/31", "10.0.0.8/29", "10.0.0.16/28",
                                                "10.0.0.32/27", "10.0.0.64/26", "10.0.0.128/25", "10.0.1.1/32"]


@given(st.lists(netsets(), max_size=6))
def test_first_match_gives_each_address_to_the_first_set_that_holds_it(sets) -> None:
    from sending_domain.core.spf.netset import first_match

    parts = first_match([s for s, _ in sets])
    expected: list[set[tuple[int, int]]] = []
    taken: set[tuple[int, int]] = set()
    for _, addresses in sets:
        expected.append(addresses - taken)
        taken |= addresses
    assert [members(p) for p in parts] == expected
    assert all(p.ranges == NetSet(p.ranges).ranges and p == NetSet.union([p]) for p in parts)  # canonical form


@given(netsets(), netsets())
def test_intersection_and_union_of_many(a, b) -> None:
    (x, xs), (y, ys) = a, b
    assert members(x & y) == xs & ys
    assert NetSet.union([x, y, x]) == x | y


@given(netsets(), st.integers(0, 6))
def test_wider_than_finds_exactly_the_networks_under_the_floor(a, room) -> None:
    x, _ = a
    floor = {4: 32 - room, 6: 128 - room}
    assert x.wider_than(floor) == tuple(n for n in x.networks if n.prefixlen < floor[n.version])
