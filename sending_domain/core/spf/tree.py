"""Evaluate an SPF tree against a DNS snapshot into an ordered list of rules.

:func:`evaluate` walks a record and everything it references (RFC 7208 §5) using only the answers in a
snapshot, and returns a :class:`Program`: the record's meaning as an ordered list of rules, each either a
set of networks with a qualifier (:class:`NetRule`) or a term that must stay as written
(:class:`KeptTerm`), followed by the default result. Questions the snapshot cannot answer yet are
collected in :attr:`Evaluation.missing`, so the same code tells the fetcher what to ask next and, once
nothing is missing, tells the flattener what to publish.

Semantics kept exactly:
- ``include:X`` matches only when X evaluates to *pass* (§5.2); X's ``-``/``~``/``?`` terms and its ``all``
  never leak out, so an include contributes the networks X passes, and the include's own qualifier.
- ``redirect=`` is used only when the record has no ``all`` (§6.1); the target's result replaces ours.
- Bare ``a``/``mx`` refer to the domain of the record they appear in (§4.8).
- ``ptr``, ``exists``, and any term with a macro are kept as written; a child holding such a term is
  kept as ``include:`` (its meaning depends on more than the client address).

Limits: flattening exists to lift the processing limits of §4.6.4 — the 10 DNS-querying terms and the two
void lookups — so a tree over either is evaluated to its meaning, and the void lookups become a warning.
What no flattening can give a meaning to stays an error: syntax errors, loops, a target without an SPF
record, two SPF records, more than 10 MX.

Cost: each record of the tree is evaluated once per walk (a shared subtree, reached along many paths, is
walked once and its program reused), and lookup counts and void counts are summed per program, so a tree
whose paths multiply (a "diamond") costs its size, not its number of paths. The whole tree is capped
(:data:`MAX_DEPTH` includes deep, :data:`MAX_TERMS` DNS-querying terms over its records), so a
pathological tree is an error with a message, never a hang or a recursion error.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from sending_domain.core.dnsdata import Answer, Question, Snapshot
from sending_domain.core.errors import SpfError
from sending_domain.core.spf.netset import ALL, NetSet, first_match
from sending_domain.core.spf.terms import Mechanism, SpfRecord, is_spf_record, parse_record

MAX_MX = 10  # RFC 7208 §4.6.4: an mx term may look up at most 10 exchanges
MAX_VOID = 2  # RFC 7208 §4.6.4: at most two void lookups (receivers' limit; flattening lifts it)
MAX_DEPTH = 32  # includes/redirects deep; real vendor trees are under 8
MAX_TERMS = 2000  # DNS-querying terms over the distinct records of one tree; real trees have under 100

VoidCounts = Mapping[str, tuple[int, int]]  # term text -> void lookups (IPv4 clients, IPv6 clients)


@dataclass(frozen=True)
class NetRule:
    """Addresses that get ``qualifier`` (when no earlier rule matched them).

    ``source`` names the term that made the rule (``ip4:192.0.2.0/24 in vendor.example``); ``child`` is the
    included program for an ``include:``, so a message can say which term deep in a tree gave an address.
    """

    qualifier: str
    nets: NetSet
    origin: object = field(default=None, compare=False, repr=False)  # made into text only when a message needs it
    child: Program | None = field(default=None, compare=False, repr=False)

    @property
    def source(self) -> str:
        return "" if self.origin is None else str(self.origin)


@dataclass(frozen=True)
class KeptTerm:
    """A term published as written; ``cost`` is the DNS-querying terms it needs, nested ones included, and
    ``voids`` the void lookups its tree makes (IPv4 clients, IPv6 clients): receivers still make them."""

    qualifier: str
    text: str
    cost: int
    reason: str
    voids: tuple[int, int] = field(default=(0, 0), compare=False)


Rule = NetRule | KeptTerm


@dataclass(frozen=True)
class Program:
    """A record's meaning: first matching rule wins, else ``default`` (None means neutral, §4.7).

    ``redirect`` is set when a ``redirect=`` target had to be kept as written; ``cost`` is the number of
    DNS-querying terms the original record needs (§4.6.4), nested includes and redirects included;
    ``voids`` the void lookups a receiver makes walking it all, per term.
    """

    domain: str
    rules: tuple[Rule, ...]
    default: str | None
    redirect: KeptTerm | None
    cost: int
    voids: VoidCounts = field(default_factory=dict, compare=False, repr=False)

    @property
    def flat(self) -> bool:
        return self.redirect is None and all(isinstance(r, NetRule) for r in self.rules)

    @cached_property
    def decided(self) -> list[NetSet]:
        """For each network rule in order, the addresses it decides: those no earlier one matched (§4.6.2)."""
        return first_match([r.nets for r in self.rules if isinstance(r, NetRule)])

    @cached_property
    def void_total(self) -> dict[int, int]:
        return {4: sum(v4 for v4, _ in self.voids.values()), 6: sum(v6 for _, v6 in self.voids.values())}

    def passes(self) -> NetSet:
        """Addresses for which this (flat) program evaluates to pass (computed once per program)."""
        return self._passes

    @cached_property
    def _passes(self) -> NetSet:
        assert self.flat
        parts = [d for rule, d in zip(self.rules, self.decided) if isinstance(rule, NetRule) and rule.qualifier == "+"]
        if self.default == "+":
            parts.append(ALL - NetSet.union(r.nets for r in self.rules if isinstance(r, NetRule)))
        return NetSet.union(parts)


@dataclass
class Evaluation:
    """The result of one walk: the root program (None while answers are missing) and what was seen."""

    program: Program | None
    missing: set[Question] = field(default_factory=set)
    used: set[Question] = field(default_factory=set)
    voids: dict[int, int] = field(default_factory=lambda: {4: 0, 6: 0})
    warnings: list[str] = field(default_factory=list)


@dataclass
class WalkMemo:
    """What one walk learnt that stays true while the snapshot only grows: complete child programs, and the
    DNS-querying terms of every record seen. A fetcher passes the same memo to each :func:`missing_answers`
    call, so only the part of the tree still waiting for answers is walked again."""

    done: dict[str, Program] = field(default_factory=dict)
    record_terms: dict[str, int] = field(default_factory=dict)
    total_terms: int = 0


_EMPTY = NetSet()


@dataclass(frozen=True)
class _TermRef:
    """A mechanism and the domain whose record holds it; the text is made only when a message needs it."""

    mech: Mechanism
    domain: str
    anonymous: bool = False  # the root of a lock entry: a record published nowhere

    def __str__(self) -> str:
        return str(self.mech) if self.anonymous else f"{self.mech} in {self.domain}"


class _Incomplete(Exception):
    """An answer is not in the snapshot yet."""


def spf_record_of(domain: str, answer: Answer, *, via: str) -> str:
    """Pick the one SPF record from ``domain``'s TXT answer (RFC 7208 §4.5), or raise SpfError."""
    records = [v for v in answer.values if is_spf_record(v)]
    if not records:
        what = "does not exist (NXDOMAIN)" if answer.status == "nxdomain" else "has no SPF record"
        raise SpfError(f"{via}: {domain} {what}, which makes the evaluation permerror (RFC 7208 §5.2)")
    if len(records) > 1:
        raise SpfError(f"{domain} publishes {len(records)} SPF records; receivers return permerror (RFC 7208 §4.5)")
    return records[0]


def missing_answers(domain: str, snapshot: Snapshot, record_text: str | None = None, *, anonymous: bool = False,
                    memo: WalkMemo | None = None) -> set[Question]:
    """The questions the walk of ``domain``'s tree still needs: the same walk as :func:`evaluate`, without
    building any address set. With the same ``memo`` on every call (and a snapshot that only grows), each
    call walks only what still waits for answers."""
    walker = _Walker(snapshot, sets=False, anonymous_root=domain if anonymous else None, memo=memo)
    try:
        walker.root(domain, record_text)
    except _Incomplete:
        pass
    return walker.missing


def evaluate(domain: str, snapshot: Snapshot, record_text: str | None = None, *, anonymous: bool = False) -> Evaluation:
    """Walk ``domain``'s SPF tree (its live record, or ``record_text``) over ``snapshot``.

    ``anonymous``: ``record_text`` is published nowhere (a lock entry's one-term record), so messages name
    its terms without a domain. Raises SpfError for anything that has no meaning to flatten: syntax errors,
    include/redirect loops, a target without an SPF record, two SPF records at one name, more than 10 MX
    exchanges, a tree over the caps. More than two void lookups is a warning (the limit is lifted).
    """
    walker = _Walker(snapshot, anonymous_root=domain if anonymous else None)
    try:
        program: Program | None = walker.root(domain, record_text)
    except _Incomplete:
        program = None
    ev = Evaluation(program, walker.missing, walker.used, warnings=walker.warnings)
    if program is not None and not walker.missing:
        ev.voids = dict(program.void_total)
        if warning := void_warning(domain, program, anonymous=anonymous):
            ev.warnings.append(warning)
    return ev


def void_warning(domain: str, program: Program, *, anonymous: bool = False) -> str | None:
    """A warning when the original tree makes more void lookups than receivers allow, naming each term once."""
    totals = program.void_total
    over = [f for f in (4, 6) if totals[f] > MAX_VOID]
    if not over:
        return None
    counts = " and ".join(f"{totals[f]} for IPv{f} clients" for f in over)
    terms = ", ".join(_void_term(text, v4, v6) for text, (v4, v6) in sorted(program.voids.items()))
    whose = "the record" if anonymous else f"the SPF tree of {domain}"
    return (
        f"{whose} makes more void lookups than receivers allow ({counts}; at most {MAX_VOID}, RFC 7208 §4.6.4): "
        f"receivers that enforce the limit return permerror for the original record today; the flattened set "
        f"does not repeat them (terms kept as written still do). Terms that point at names without addresses: {terms}"
    )


def _void_term(text: str, v4: int, v6: int) -> str:
    only = " (IPv4 clients only)" if not v6 else " (IPv6 clients only)" if not v4 else ""
    return f"{text} ×{max(v4, v6)}{only}"


class _Walker:
    def __init__(self, snapshot: Snapshot, *, sets: bool = True, anonymous_root: str | None = None,
                 memo: WalkMemo | None = None) -> None:
        self.snapshot = snapshot
        self.sets = sets  # False: only find what is missing; address sets stay empty
        self.anonymous_root = anonymous_root
        self.memo = memo if memo is not None else WalkMemo()
        self.incomplete: set[str] = set()  # child domains found waiting for answers in this walk
        self.missing: set[Question] = set()
        self.used: set[Question] = set()
        self.warnings: list[str] = []

    # -- answers -------------------------------------------------------------------------------
    def answer(self, name: str, rdtype: str) -> Answer:
        found = self.snapshot.get((name, rdtype))
        if found is None:
            self.missing.add((name, rdtype))
            raise _Incomplete
        self.used.add((name, rdtype))
        return found

    def spf_text(self, domain: str, *, via: str) -> str:
        return spf_record_of(domain, self.answer(domain, "TXT"), via=via)

    def where(self, domain: str) -> str:
        return "" if domain == self.anonymous_root else f" in {domain}"

    def ref(self, mech: Mechanism, domain: str) -> _TermRef:
        return _TermRef(mech, domain, domain == self.anonymous_root)

    # -- records -------------------------------------------------------------------------------
    def root(self, domain: str, record_text: str | None) -> Program:
        if record_text is None:
            record_text = self.spf_text(domain, via=f"the domain {domain}")
        return self.program(domain, parse_record(record_text, domain), ())

    def program(self, domain: str, record: SpfRecord, stack: tuple[str, ...]) -> Program:
        """The program of ``record`` published at ``domain``; ``stack`` holds the names above it."""
        self.count_terms(domain, record)
        rules: list[Rule] = []
        cost = 0
        voids: dict[str, tuple[int, int]] = {}
        default: str | None = None
        incomplete = False
        for mech in record.mechanisms:
            if mech.kind == "all":
                default = mech.qualifier
                break  # RFC 7208 §5.1: later mechanisms are never evaluated
            try:
                rule, term_cost = self.rule(domain, mech, stack, voids)
            except _Incomplete:
                incomplete = True  # keep walking siblings so every missing answer is found in one pass
                continue
            rules.append(rule)
            cost += term_cost
        redirect_rule: KeptTerm | None = None
        target = record.redirect
        if default is None and target is not None:  # RFC 7208 §6.1
            try:
                default, redirect_rule, extra, more_rules = self.redirect(domain, target, stack, voids)
            except _Incomplete:
                incomplete = True
            else:
                rules.extend(more_rules)
                cost += extra
        if incomplete:
            raise _Incomplete
        return Program(domain, tuple(rules), default, redirect_rule, cost, voids)

    def count_terms(self, domain: str, record: SpfRecord) -> None:
        """Cap the whole tree: the DNS-querying terms of every distinct record walked (§4.6.4 lifted, bounded)."""
        if domain in self.memo.record_terms:
            return
        terms = sum(1 for m in record.mechanisms if m.costs_lookup) + (record.redirect is not None)
        self.memo.record_terms[domain] = terms
        self.memo.total_terms += terms
        if self.memo.total_terms > MAX_TERMS:
            raise SpfError(
                f"the SPF tree has more than {MAX_TERMS} DNS-querying terms over {len(self.memo.record_terms)} records "
                f"(the last one read: {domain}); such a tree cannot be flattened safely (receivers stop after 10, "
                "RFC 7208 §4.6.4): remove the include that leads to it"
            )

    def redirect(
        self, domain: str, target: str, stack: tuple[str, ...], voids: dict[str, tuple[int, int]]
    ) -> tuple[str | None, KeptTerm | None, int, tuple[Rule, ...]]:
        if "%" in target:
            kept = KeptTerm("+", f"redirect={target}", 1, "its target contains a macro")
            self.warnings.append(f"redirect={target}{self.where(domain)} is kept as written; its lookups cannot be counted")
            return None, kept, 1, ()
        child = self.child(domain, target, stack, via=f"redirect={target}{self.where(domain)}")
        _add_voids(voids, child.voids)
        if child.flat:
            return child.default, None, 1 + child.cost, child.rules
        kept = KeptTerm("+", f"redirect={target}", 1 + child.cost, f"{target} holds terms that must stay as written",
                        (child.void_total[4], child.void_total[6]))
        return None, kept, 1 + child.cost, ()

    def child(self, parent: str, target: str, stack: tuple[str, ...], *, via: str) -> Program:
        chain = (*stack, parent)
        if target in chain:
            loop = " -> ".join((*chain[chain.index(target) :], target))
            raise SpfError(f"SPF loop: {loop}; receivers return permerror (RFC 7208 §4.6.4)")
        if len(chain) > MAX_DEPTH:
            shown = [name for name in chain[:3] if name != self.anonymous_root]  # a lock entry's root has no name
            raise SpfError(
                f"{via}: the SPF tree is more than {MAX_DEPTH} includes or redirects deep "
                f"({' -> '.join(shown)} -> ... -> {target}); such a tree cannot be flattened safely "
                "(receivers stop after 10 lookups, RFC 7208 §4.6.4)"
            )
        done = self.memo.done.get(target)
        if done is not None:
            return done
        if target in self.incomplete:
            raise _Incomplete
        try:
            text = self.spf_text(target, via=via)
            program = self.program(target, parse_record(text, target), chain)
        except _Incomplete:
            self.incomplete.add(target)
            raise
        self.memo.done[target] = program
        return program

    # -- mechanisms ----------------------------------------------------------------------------
    def rule(self, domain: str, mech: Mechanism, stack: tuple[str, ...], voids: dict[str, tuple[int, int]]) -> tuple[Rule, int]:
        """The rule for one mechanism of ``domain``'s record, and the lookups the original term needs."""
        if mech.kind in ("ip4", "ip6"):
            assert mech.network is not None
            nets = NetSet.of_network(mech.network) if self.sets else _EMPTY
            return NetRule(mech.qualifier, nets, self.ref(mech, domain)), 0
        if mech.has_macro or mech.kind in ("ptr", "exists"):
            why = "it contains a macro" if mech.has_macro else f"'{mech.kind}' depends on more than the address"
            if mech.kind == "include":
                self.warnings.append(f"{self.ref(mech, domain)} is kept as written; the lookups behind it cannot be counted")
            return KeptTerm(mech.qualifier, str(mech), 1, why), 1
        if mech.kind == "include":
            return self.include(domain, mech, stack, voids)
        term = self.ref(mech, domain)
        host = mech.domain or domain  # RFC 7208 §4.8: a bare a/mx means the current domain
        nets = self.mx_addresses(host, mech, term, voids) if mech.kind == "mx" else self.addresses(host, mech, term, voids)
        return NetRule(mech.qualifier, nets, term), 1

    def include(self, domain: str, mech: Mechanism, stack: tuple[str, ...], voids: dict[str, tuple[int, int]]) -> tuple[Rule, int]:
        assert mech.domain is not None
        child = self.child(domain, mech.domain, stack, via=f"include:{mech.domain}{self.where(domain)}")
        _add_voids(voids, child.voids)
        cost = 1 + child.cost
        if child.flat:
            nets = child.passes() if self.sets else _EMPTY
            return NetRule(mech.qualifier, nets, self.ref(mech, domain), child), cost
        reason = f"{mech.domain} holds terms that must stay as written"
        return KeptTerm(mech.qualifier, str(mech), cost, reason, (child.void_total[4], child.void_total[6])), cost

    def mx_addresses(self, host: str, mech: Mechanism, term: _TermRef, voids: dict[str, tuple[int, int]]) -> NetSet:
        answer = self.answer(host, "MX")
        if answer.void:
            _add_void(voids, str(term), (1, 1))
        exchanges = sorted({v.split(" ", 1)[1] for v in answer.values} - {"", "."})
        if len(answer.values) > MAX_MX:
            raise SpfError(f"{term}: {host} has {len(answer.values)} MX records, more than {MAX_MX}: permerror (RFC 7208 §4.6.4)")
        nets: list[NetSet] = []
        incomplete = False
        for exchange in exchanges:
            try:
                nets.append(self.addresses(exchange, mech, term, voids))
            except _Incomplete:
                incomplete = True
        if incomplete:
            raise _Incomplete
        return NetSet.union(nets)

    def addresses(self, host: str, mech: Mechanism, term: _TermRef, voids: dict[str, tuple[int, int]]) -> NetSet:
        """A and AAAA of ``host`` widened by the term's CIDR lengths (RFC 7208 §5.3, §5.6)."""
        nets = []
        incomplete = False
        for rdtype, family, prefix in (("A", 4, mech.cidr4), ("AAAA", 6, mech.cidr6)):
            try:
                answer = self.answer(host, rdtype)
            except _Incomplete:
                incomplete = True
                continue
            if answer.void:
                _add_void(voids, str(term), (1, 0) if family == 4 else (0, 1))
            if not self.sets:
                continue
            width = prefix if prefix is not None else (32 if family == 4 else 128)
            nets += [ipaddress.ip_network(f"{v}/{width}", strict=False) for v in answer.values]
        if incomplete:
            raise _Incomplete
        return NetSet.of(nets)


def _add_void(voids: dict[str, tuple[int, int]], term: str, count: tuple[int, int]) -> None:
    v4, v6 = voids.get(term, (0, 0))
    voids[term] = (v4 + count[0], v6 + count[1])


def _add_voids(voids: dict[str, tuple[int, int]], child: VoidCounts) -> None:
    """A child's void lookups happen each time the child is reached: they add up along every path."""
    for term, count in child.items():
        _add_void(voids, term, count)

