"""The safety floor of a flattened set: no vendor may silently authorize the whole Internet.

A vendor's record ``v=spf1 +all``, or ``ip4:0.0.0.0/1 ip4:128.0.0.0/1``, flattens to ``ip4:0.0.0.0/0``: anyone
may then send as the domain. The stack refuses such networks in its own senders (a prefix shorter than
:data:`~sending_domain.core.senders.MIN_PREFIX`: /8 for IPv4, /16 for IPv6; ``+all``); :func:`wide_networks`
applies the same floor to everything the flattened set passes, after merging, and says which root term
(vendor) and which terms inside its tree gave each wide network, so the message can name them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from sending_domain.core.senders import MIN_PREFIX
from sending_domain.core.spf.netset import ALL, Network, NetSet
from sending_domain.core.spf.tree import NetRule, Program

MAX_NAMED = 5  # terms named per wide network


@dataclass(frozen=True)
class WideNetwork:
    """A passed network wider than the floor; ``roots`` are the root terms (or ``all``) that pass part of it,
    ``terms`` the terms deep in their trees that do (``ip4:0.0.0.0/1 in vendor.example``)."""

    network: Network
    roots: tuple[str, ...]
    terms: tuple[str, ...]

    def describe(self) -> str:
        size = f"every IPv{self.network.version} address" if self.network.prefixlen == 0 else "a large part of the Internet"
        return f"{self.network} ({size}) through {', '.join(self.roots)} ({', '.join(self.terms)})"


def wide_networks(program: Program, floor: Mapping[int, int] = MIN_PREFIX) -> list[WideNetwork]:
    """The networks the (flattened) ``program`` passes that are wider than ``floor``, with who passes them."""
    rules = [r for r in program.rules if isinstance(r, NetRule)]
    decided = program.decided
    passing = [(r, d) for r, d in zip(rules, decided) if r.qualifier == "+" and d]
    rest = ALL - NetSet.union(r.nets for r in rules) if program.default == "+" else NetSet()
    passed = NetSet.union([d for _, d in passing] + [rest])
    found = []
    for network in passed.wider_than(floor):
        wide = NetSet.of([network])
        by_root: dict[str, list[str]] = {}
        for rule, part in passing:
            if part & wide:
                by_root.setdefault(_root_term(rule.source, program.domain), []).extend(_terms(rule, wide, floor, set()))
        if rest & wide:
            by_root["+all"] = [f"+all in {program.domain}"]
        # a root term wide on its own is the cause; a root that only adds narrow networks next to it is not
        causes = {root: terms for root, terms in by_root.items() if any(_culprit(t, floor) for t in terms)}
        chosen = causes or by_root
        terms = [t for ts in chosen.values() for t in ts]
        found.append(WideNetwork(network, tuple(chosen), tuple(_named(terms, floor))))
    return found


def _root_term(source: str, domain: str) -> str:
    suffix = f" in {domain}"
    return source[: -len(suffix)] if source.endswith(suffix) else source


def _terms(rule: NetRule, wide: NetSet, floor: Mapping[int, int], seen: set[int]) -> list[str]:
    """The leaf terms under ``rule`` that pass addresses in ``wide`` (each shared subtree looked at once)."""
    child = rule.child
    if child is None:
        return [rule.source]
    if id(child) in seen:
        return []
    seen.add(id(child))
    out: list[str] = []
    inner = [r for r in child.rules if isinstance(r, NetRule)]
    for sub, part in zip(inner, child.decided):
        if sub.qualifier == "+" and part & wide:
            out += _terms(sub, wide, floor, seen)
    if child.default == "+" and (ALL - NetSet.union(r.nets for r in inner)) & wide:
        out.append(f"+all in {child.domain}")
    return out


def _named(terms: list[str], floor: Mapping[int, int]) -> list[str]:
    """The terms to name: those wide on their own when there are any (they are the cause), at most a few."""
    unique = list(dict.fromkeys(terms))
    culprits = [t for t in unique if _culprit(t, floor)]
    chosen = culprits or unique
    more = len(chosen) - MAX_NAMED
    return chosen[:MAX_NAMED] + ([f"{more} more"] if more > 0 else [])


def _culprit(term: str, floor: Mapping[int, int]) -> bool:
    return term.startswith("+all") or _wide_term(term, floor)


def _wide_term(source: str, floor: Mapping[int, int]) -> bool:
    """``ip4:0.0.0.0/1 in x`` or ``a:h/4 in x``: a term whose own prefix is under the floor."""
    text = source.split(" ", 1)[0].lstrip("+-~?")
    if text.startswith(("ip4:", "ip6:")):
        network = ipaddress.ip_network(text[4:], strict=False)
        return network.prefixlen < floor[network.version]
    v4, _, v6 = text.partition("//")
    c4 = v4.rsplit("/", 1)[1] if "/" in v4 else ""
    return (c4.isdigit() and int(c4) < floor[4]) or (v6.isdigit() and int(v6) < floor[6])
