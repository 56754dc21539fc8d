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
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from sending_domain.core.dnsdata import Answer, Question, Snapshot
from sending_domain.core.errors import SpfError, SpfVoidLimitError
from sending_domain.core.spf.netset import ALL, NetSet
from sending_domain.core.spf.terms import Mechanism, SpfRecord, is_spf_record, parse_record

MAX_MX = 10  # RFC 7208 §4.6.4: an mx term may look up at most 10 exchanges
MAX_VOID = 2  # RFC 7208 §4.6.4: at most two void lookups


@dataclass(frozen=True)
class NetRule:
    """Addresses that get ``qualifier`` (when no earlier rule matched them)."""

    qualifier: str
    nets: NetSet


@dataclass(frozen=True)
class KeptTerm:
    """A term published as written; ``cost`` is the DNS-querying terms it needs, nested ones included."""

    qualifier: str
    text: str
    cost: int
    reason: str


Rule = NetRule | KeptTerm


@dataclass(frozen=True)
class Program:
    """A record's meaning: first matching rule wins, else ``default`` (None means neutral, §4.7).

    ``redirect`` is set when a ``redirect=`` target had to be kept as written; ``cost`` is the number of
    DNS-querying terms the original record needs (§4.6.4), nested includes and redirects included.
    """

    domain: str
    rules: tuple[Rule, ...]
    default: str | None
    redirect: KeptTerm | None
    cost: int

    @property
    def flat(self) -> bool:
        return self.redirect is None and all(isinstance(r, NetRule) for r in self.rules)

    def passes(self) -> NetSet:
        """Addresses for which this (flat) program evaluates to pass."""
        covered, passed = NetSet(), NetSet()
        for rule in self.rules:
            assert isinstance(rule, NetRule)
            if rule.qualifier == "+":
                passed = passed | (rule.nets - covered)
            covered = covered | rule.nets
        if self.default == "+":
            passed = passed | (ALL - covered)
        return passed


@dataclass
class Evaluation:
    """The result of one walk: the root program (None while answers are missing) and what was seen."""

    program: Program | None
    missing: set[Question] = field(default_factory=set)
    used: set[Question] = field(default_factory=set)
    voids: dict[int, int] = field(default_factory=lambda: {4: 0, 6: 0})
    warnings: list[str] = field(default_factory=list)


_EMPTY = NetSet()


@dataclass(frozen=True)
class _TermRef:
    """A mechanism and the domain whose record holds it; the text is made only when a message needs it."""

    mech: Mechanism
    domain: str

    def __str__(self) -> str:
        return f"{self.mech} in {self.domain}"


class _Incomplete(Exception):
    """An answer is not in the snapshot yet."""


def spf_record_of(domain: str, answer: Answer, *, via: str) -> str:
    """Pick the one SPF record from ``domain``'s TXT answer (RFC 7208 §4.5), or raise SpfError."""
    records = [v for v in answer.values if is_spf_record(v)]
    if not records:
        raise SpfError(f"{via}: {domain} has no SPF record, which makes the evaluation permerror (RFC 7208 §5.2)")
    if len(records) > 1:
        raise SpfError(f"{domain} publishes {len(records)} SPF records; receivers return permerror (RFC 7208 §4.5)")
    return records[0]


def missing_answers(domain: str, snapshot: Snapshot, record_text: str | None = None) -> set[Question]:
    """The questions the walk of ``domain``'s tree still needs: the same walk as :func:`evaluate`, without
    building any address set, so a fetcher can call it after every answer at little cost."""
    walker = _Walker(snapshot, sets=False)
    try:
        if record_text is None:
            record_text = walker.spf_text(domain, via=f"the domain {domain}")
        walker.program(domain, parse_record(record_text, domain), ())
    except _Incomplete:
        pass
    return walker.missing


def evaluate(domain: str, snapshot: Snapshot, record_text: str | None = None) -> Evaluation:
    """Walk ``domain``'s SPF tree (its live record, or ``record_text``) over ``snapshot``.

    Raises SpfError for anything a receiver would fail on: syntax errors, include/redirect loops, a
    target without an SPF record, two SPF records at one name, more than 10 MX exchanges, more than two
    void lookups.
    """
    walker = _Walker(snapshot)
    try:
        if record_text is None:
            record_text = walker.spf_text(domain, via=f"the domain {domain}")
        program = walker.program(domain, parse_record(record_text, domain), ())
    except _Incomplete:
        program = None
    ev = Evaluation(program, walker.missing, walker.used, walker.voids, walker.warnings)
    if program is not None and not walker.missing:
        for family, count in sorted(ev.voids.items()):
            if count > MAX_VOID:
                raise SpfVoidLimitError(
                    f"the SPF tree of {domain} makes {count} void lookups for IPv{family} clients, more than "
                    f"{MAX_VOID}: receivers return permerror (RFC 7208 §4.6.4); fix or remove the terms that "
                    f"point at names without addresses: {', '.join(walker.void_terms[family])}"
                )
    return ev


class _Walker:
    def __init__(self, snapshot: Snapshot, *, sets: bool = True) -> None:
        self.snapshot = snapshot
        self.sets = sets  # False: only find what is missing; address sets stay empty
        self.missing: set[Question] = set()
        self.used: set[Question] = set()
        self.voids = {4: 0, 6: 0}
        self.void_terms: dict[int, list[str]] = {4: [], 6: []}
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

    def count_void(self, answer: Answer, families: tuple[int, ...], term: _TermRef) -> None:
        if answer.void:
            for family in families:
                self.voids[family] += 1
                self.void_terms[family].append(str(term))

    # -- records -------------------------------------------------------------------------------
    def program(self, domain: str, record: SpfRecord, stack: tuple[str, ...]) -> Program:
        """The program of ``record`` published at ``domain``; ``stack`` holds the names above it."""
        rules: list[Rule] = []
        cost = 0
        default: str | None = None
        incomplete = False
        for mech in record.mechanisms:
            if mech.kind == "all":
                default = mech.qualifier
                break  # RFC 7208 §5.1: later mechanisms are never evaluated
            try:
                rule, term_cost = self.rule(domain, mech, stack)
            except _Incomplete:
                incomplete = True  # keep walking siblings so every missing answer is found in one pass
                continue
            rules.append(rule)
            cost += term_cost
        redirect_rule: KeptTerm | None = None
        target = record.redirect
        if default is None and target is not None:  # RFC 7208 §6.1
            try:
                default, redirect_rule, extra, more_rules = self.redirect(domain, target, stack)
            except _Incomplete:
                incomplete = True
            else:
                rules.extend(more_rules)
                cost += extra
        if incomplete:
            raise _Incomplete
        return Program(domain, tuple(rules), default, redirect_rule, cost)

    def redirect(
        self, domain: str, target: str, stack: tuple[str, ...]
    ) -> tuple[str | None, KeptTerm | None, int, tuple[Rule, ...]]:
        if "%" in target:
            kept = KeptTerm("+", f"redirect={target}", 1, "its target contains a macro")
            self.warnings.append(f"{domain}: redirect={target} is kept as written; its lookups cannot be counted")
            return None, kept, 1, ()
        child = self.child(domain, target, stack, via=f"redirect={target} in {domain}")
        if child.flat:
            return child.default, None, 1 + child.cost, child.rules
        kept = KeptTerm("+", f"redirect={target}", 1 + child.cost, f"{target} holds terms that must stay as written")
        return None, kept, 1 + child.cost, ()

    def child(self, parent: str, target: str, stack: tuple[str, ...], *, via: str) -> Program:
        chain = (*stack, parent)
        if target in chain:
            loop = " -> ".join((*chain[chain.index(target) :], target))
            raise SpfError(f"SPF loop: {loop}; receivers return permerror (RFC 7208 §4.6.4)")
        text = self.spf_text(target, via=via)
        return self.program(target, parse_record(text, target), chain)

    # -- mechanisms ----------------------------------------------------------------------------
    def rule(self, domain: str, mech: Mechanism, stack: tuple[str, ...]) -> tuple[Rule, int]:
        """The rule for one mechanism of ``domain``'s record, and the lookups the original term needs."""
        if mech.kind in ("ip4", "ip6"):
            assert mech.network is not None
            return NetRule(mech.qualifier, NetSet.of([mech.network]) if self.sets else _EMPTY), 0
        if mech.has_macro or mech.kind in ("ptr", "exists"):
            why = "it contains a macro" if mech.has_macro else f"'{mech.kind}' depends on more than the address"
            if mech.kind == "include":
                self.warnings.append(f"{domain}: {mech} is kept as written; the lookups behind it cannot be counted")
            return KeptTerm(mech.qualifier, str(mech), 1, why), 1
        if mech.kind == "include":
            return self.include(domain, mech, stack)
        term = _TermRef(mech, domain)
        host = mech.domain or domain  # RFC 7208 §4.8: a bare a/mx means the current domain
        nets = self.mx_addresses(host, mech, term) if mech.kind == "mx" else self.addresses(host, mech, term)
        return NetRule(mech.qualifier, nets), 1

    def include(self, domain: str, mech: Mechanism, stack: tuple[str, ...]) -> tuple[Rule, int]:
        assert mech.domain is not None
        child = self.child(domain, mech.domain, stack, via=f"include:{mech.domain} in {domain}")
        cost = 1 + child.cost
        if child.flat:
            return NetRule(mech.qualifier, child.passes() if self.sets else _EMPTY), cost
        reason = f"{mech.domain} holds terms that must stay as written"
        return KeptTerm(mech.qualifier, str(mech), cost, reason), cost

    def mx_addresses(self, host: str, mech: Mechanism, term: _TermRef) -> NetSet:
        answer = self.answer(host, "MX")
        self.count_void(answer, (4, 6), term)
        exchanges = sorted({v.split(" ", 1)[1] for v in answer.values} - {"", "."})
        if len(answer.values) > MAX_MX:
            raise SpfError(f"{term}: {host} has {len(answer.values)} MX records, more than {MAX_MX}: permerror (RFC 7208 §4.6.4)")
        nets = NetSet()
        incomplete = False
        for exchange in exchanges:
            try:
                nets = nets | self.addresses(exchange, mech, term)
            except _Incomplete:
                incomplete = True
        if incomplete:
            raise _Incomplete
        return nets

    def addresses(self, host: str, mech: Mechanism, term: _TermRef) -> NetSet:
        """A and AAAA of ``host`` widened by the term's CIDR lengths (RFC 7208 §5.3, §5.6)."""
        nets = []
        incomplete = False
        for rdtype, family, prefix in (("A", 4, mech.cidr4), ("AAAA", 6, mech.cidr6)):
            try:
                answer = self.answer(host, rdtype)
            except _Incomplete:
                incomplete = True
                continue
            self.count_void(answer, (family,), term)
            if not self.sets:
                continue
            width = prefix if prefix is not None else (32 if family == 4 else 128)
            nets += [ipaddress.ip_network(f"{v}/{width}", strict=False) for v in answer.values]
        if incomplete:
            raise _Incomplete
        return NetSet.of(nets)

