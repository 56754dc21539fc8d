"""Turn an evaluated SPF tree into the records to publish: flattened, merged, split and counted.

The output evaluates exactly as the original for every client address:
- networks are grouped by the qualifier a client in them gets, after removing addresses an earlier
  rule already decided (first match wins, RFC 7208 §4.6.2), so the groups are disjoint and their order
  no longer matters; terms kept as written stay in their place between the groups;
- the root keeps the original ``all`` (or the default inherited through ``redirect=``);
- what does not fit the root goes to chained records (``_spf1.<domain>``, ...) that hold only networks
  and no ``all``, included with the group's qualifier: ``include`` matches exactly when the chained
  record passes (§5.2), which is exactly when the address is in it.
The published set is counted as a receiver would count it (§4.6.4) and refused if over the limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sending_domain.core.dnsdata import Snapshot
from sending_domain.core.errors import SpfError
from sending_domain.core.records import Record
from sending_domain.core.spf.netset import NetSet
from sending_domain.core.spf.terms import Modifier, SpfRecord, format_network, parse_record
from sending_domain.core.spf.tree import Evaluation, KeptTerm, NetRule, Program, evaluate, spf_record_of

MAX_LOOKUPS = 10  # RFC 7208 §4.6.4
MAX_BYTES = 450  # all TXT at one name, so the answer fits a 512-byte UDP reply (RFC 7208 §3.4)
QUALIFIER_ORDER = "+-~?"


@dataclass(frozen=True)
class FlattenOptions:
    max_lookups: int = MAX_LOOKUPS
    max_bytes: int = MAX_BYTES
    chain_prefix: str = "_spf"
    ttl: int = 300


@dataclass(frozen=True)
class Flattened:
    """The records to publish (root first), the lookups they need, and what the original needed."""

    domain: str
    records: tuple[Record, ...]
    lookups: int
    original_lookups: int
    warnings: tuple[str, ...] = ()

    def as_json(self) -> dict:
        return {
            "domain": self.domain,
            "records": [{"name": r.name, "type": r.type, "value": r.value, "strings": list(r.data)} for r in self.records],
            "lookups": self.lookups,
            "original_lookups": self.original_lookups,
            "warnings": list(self.warnings),
        }


@dataclass
class _Group:
    """Networks of one qualifier within one segment (a run of rules between kept terms)."""

    qualifier: str
    tokens: list[str]
    inline: list[str] = field(default_factory=list)
    chains: list[list[str]] = field(default_factory=list)


_Item = _Group | KeptTerm


def flatten(program: Program, root: SpfRecord, options: FlattenOptions = FlattenOptions(), warnings: tuple[str, ...] = ()) -> Flattened:
    """Records that evaluate like ``program`` (the evaluated ``root`` record of ``program.domain``)."""
    items = _items(program)
    tail = _tail(program, root)
    warn = list(warnings) + [f"{k.text} is kept as written ({k.reason}); it costs {k.cost} lookup(s)" for k in items if isinstance(k, KeptTerm)]
    chains = 0
    while True:
        _layout(items, program.domain, tail, chains, options)
        needed = sum(len(g.chains) for g in items if isinstance(g, _Group))
        if needed <= chains:
            break
        chains = needed
    records = _records(items, program.domain, tail, options)
    lookups = _count(items, program) + (len(records) - 1)
    if lookups > options.max_lookups:
        raise SpfError(_over_limit(program.domain, items, program, len(records) - 1, lookups, options))
    return Flattened(program.domain, records, lookups, program.cost, tuple(warn))


def _items(program: Program) -> list[_Item]:
    """Disjoint groups per qualifier between kept terms, in evaluation order."""
    items: list[_Item] = []
    covered = NetSet()
    pending: list[NetRule] = []

    def close() -> None:
        nonlocal covered
        by_q: dict[str, NetSet] = {}
        for rule in pending:
            fresh = rule.nets - covered
            covered = covered | rule.nets
            by_q[rule.qualifier] = by_q.get(rule.qualifier, NetSet()) | fresh
        for q in QUALIFIER_ORDER:
            if by_q.get(q):
                prefix = "" if q == "+" else q
                tokens = [f"{prefix}ip{n.version}:{format_network(n)}" for n in by_q[q].networks]
                items.append(_Group(q, tokens))
        pending.clear()

    for rule in program.rules:
        if isinstance(rule, NetRule):
            pending.append(rule)
        else:
            close()
            items.append(rule)
    close()
    return items


def _tail(program: Program, root: SpfRecord) -> list[str]:
    tail: list[str] = []
    if program.redirect is not None:
        tail.append(program.redirect.text)
    elif program.default is not None:
        tail.append(("" if program.default == "+" else program.default) + "all")
    tail += [str(t) for t in root.terms if isinstance(t, Modifier) and t.name != "redirect"]
    return tail


def _chain_name(index: int, domain: str, options: FlattenOptions) -> str:
    return f"{options.chain_prefix}{index}.{domain}"


def _include_term(q: str, index: int, domain: str, options: FlattenOptions) -> str:
    return ("" if q == "+" else q) + "include:" + _chain_name(index, domain, options)


def _size(terms: list[str]) -> int:
    return len(" ".join(["v=spf1", *terms]).encode("utf-8"))


def _layout(items: list[_Item], domain: str, tail: list[str], chains: int, options: FlattenOptions) -> None:
    """Fill the root first, leaving room for ``chains`` include terms; pack the rest into chains."""
    reserve = [_include_term("~", i, domain, options) for i in range(1, chains + 1)]
    fixed = [k.text for k in items if isinstance(k, KeptTerm)] + tail + reserve
    room = options.max_bytes - _size(fixed)
    for group in (g for g in items if isinstance(g, _Group)):
        group.inline, group.chains = [], []
        for token in group.tokens:
            if room >= len(token) + 1:
                group.inline.append(token)
                room -= len(token) + 1
            else:
                _pack(group, token.lstrip("+-~?"), options.max_bytes)


def _pack(group: _Group, token: str, max_bytes: int) -> None:
    if not group.chains or _size(group.chains[-1] + [token]) > max_bytes:
        group.chains.append([])
    group.chains[-1].append(token)


def _records(items: list[_Item], domain: str, tail: list[str], options: FlattenOptions) -> tuple[Record, ...]:
    root_terms: list[str] = []
    chained: list[Record] = []
    for item in items:
        if isinstance(item, KeptTerm):
            root_terms.append(item.text)
            continue
        root_terms += item.inline
        for tokens in item.chains:
            index = len(chained) + 1
            root_terms.append(_include_term(item.qualifier, index, domain, options))
            chained.append(Record.txt(_chain_name(index, domain, options), " ".join(["v=spf1", *tokens]), options.ttl))
    root_text = " ".join(["v=spf1", *root_terms, *tail])
    if len(root_text.encode("utf-8")) > options.max_bytes:
        raise SpfError(
            f"the SPF record of {domain} needs {len(root_text.encode())} bytes even with every network moved to "
            f"chained records, more than the {options.max_bytes}-byte limit; remove kept terms or raise --max-bytes"
        )
    return (Record.txt(domain, root_text, options.ttl), *chained)


def _count(items: list[_Item], program: Program) -> int:
    kept = sum(k.cost for k in items if isinstance(k, KeptTerm))
    return kept + (program.redirect.cost if program.redirect else 0)


def _over_limit(domain: str, items: list[_Item], program: Program, chains: int, lookups: int, options: FlattenOptions) -> str:
    costs = [f"{k.text} costs {k.cost}" for k in items if isinstance(k, KeptTerm)]
    if program.redirect:
        costs.append(f"{program.redirect.text} costs {program.redirect.cost}")
    if chains:
        costs.append(f"{chains} chained record(s) cost 1 each")
    return (
        f"the flattened SPF set of {domain} would need {lookups} DNS lookups, more than {options.max_lookups} "
        f"(RFC 7208 §4.6.4): {'; '.join(costs)}. Remove senders, replace kept terms with ip4/ip6, or allow more bytes per record"
    )


def flatten_snapshot(domain: str, snapshot: Snapshot, record_text: str | None = None, options: FlattenOptions = FlattenOptions()) -> Flattened:
    """Evaluate and flatten ``domain``'s SPF tree from answers already at hand (e.g. the vendor lock)."""
    ev = evaluate(domain, snapshot, record_text)
    if ev.program is None or ev.missing:
        wanted = ", ".join(f"{n} {t}" for n, t in sorted(ev.missing))
        raise SpfError(f"the answers at hand do not cover the SPF tree of {domain}; missing: {wanted}")
    return flatten_evaluation(domain, ev, snapshot, record_text, options)


def flatten_evaluation(domain: str, ev: Evaluation, snapshot: Snapshot, record_text: str | None, options: FlattenOptions) -> Flattened:
    """Flatten a complete evaluation; ``record_text`` is the root record (read from ``snapshot`` when None)."""
    assert ev.program is not None
    if record_text is None:
        record_text = spf_record_of(domain, snapshot[(domain, "TXT")], via=f"the domain {domain}")
    return flatten(ev.program, parse_record(record_text, domain), options, tuple(ev.warnings))
