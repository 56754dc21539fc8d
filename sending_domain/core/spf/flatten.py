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
from sending_domain.core.errors import SpfError, SpfVoidLimitError
from sending_domain.core.records import Record
from sending_domain.core.senders import MIN_PREFIX
from sending_domain.core.spf.floor import wide_networks
from sending_domain.core.spf.netset import NetSet
from sending_domain.core.spf.terms import Modifier, SpfRecord, format_network, parse_record
from sending_domain.core.spf.tree import MAX_VOID, Evaluation, KeptTerm, NetRule, Program, evaluate, spf_record_of

MAX_LOOKUPS = 10  # RFC 7208 §4.6.4
MAX_BYTES = 450  # all TXT at one name, so the answer fits a 512-byte UDP reply (RFC 7208 §3.4)
QUALIFIER_ORDER = "+-~?"


@dataclass(frozen=True)
class FlattenOptions:
    max_lookups: int = MAX_LOOKUPS
    max_bytes: int = MAX_BYTES
    chain_prefix: str = "_spf"
    ttl: int = 300
    # The safety floor (floor.py): a passed network wider than this, or +all, is refused, or only warned
    # about when refuse_wide is False (`spf flatten`, which publishes nothing).
    floor: tuple[int, int] = (MIN_PREFIX[4], MIN_PREFIX[6])
    refuse_wide: bool = True
    allow_wide: tuple[str, ...] = ()  # root terms the stack trusts with wide networks (spf.allowWide)
    sender_keys: tuple[str, ...] = ()  # where each root term comes from in the stack: domains[0].senders[1]


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
    nets: NetSet
    inline: list[str] = field(default_factory=list)
    chains: list[list[str]] = field(default_factory=list)


_Item = _Group | KeptTerm


def flatten(program: Program, root: SpfRecord, options: FlattenOptions = FlattenOptions(), warnings: tuple[str, ...] = ()) -> Flattened:
    """Records that evaluate like ``program`` (the evaluated ``root`` record of ``program.domain``)."""
    items = _items(program)
    tail = _tail(program, root)
    warn = list(warnings) + [f"{k.text} is kept as written ({k.reason}); it costs {k.cost} lookup(s)" for k in items if isinstance(k, KeptTerm)]
    warn += _empty_terms(program, options)
    warn += _floor(program, options)
    chains = 0
    while True:
        _layout(items, program.domain, tail, chains, options)
        needed = sum(len(g.chains) for g in items if isinstance(g, _Group))
        if needed <= chains:
            break
        chains = needed
    records = _records(items, program.domain, tail, options)
    _check_voids(items, program)
    lookups = _count(items, program) + (len(records) - 1)
    if lookups > options.max_lookups:
        raise SpfError(_over_limit(program.domain, items, program, len(records) - 1, lookups, options))
    return Flattened(program.domain, records, lookups, program.cost, tuple(warn))


def _items(program: Program) -> list[_Item]:
    """Disjoint groups per qualifier between kept terms, in evaluation order.

    First match wins across the whole record (§4.6.2), kept terms in between do not change which network
    rule decides an address; one sweep (:func:`first_match`) gives every rule the addresses it decides.
    """
    net_rules = [r for r in program.rules if isinstance(r, NetRule)]
    decided = dict(zip(map(id, net_rules), program.decided))  # computed once per program (floor.py reads it too)
    items: list[_Item] = []
    pending: list[NetRule] = []

    def close() -> None:
        by_q: dict[str, list[NetSet]] = {}
        for rule in pending:
            by_q.setdefault(rule.qualifier, []).append(decided[id(rule)])
        for q in QUALIFIER_ORDER:
            nets = NetSet.union(by_q.get(q, ()))
            if nets:
                prefix = "" if q == "+" else q
                tokens = [f"{prefix}ip{n.version}:{format_network(n)}" for n in nets.networks]
                items.append(_Group(q, tokens, nets))
        pending.clear()

    for rule in program.rules:
        if isinstance(rule, NetRule):
            pending.append(rule)
        else:
            close()
            items.append(rule)
    close()
    return items


def _empty_terms(program: Program, options: FlattenOptions) -> list[str]:
    """A root a/mx/include term that authorizes no address is most likely a typo: say so, by stack key."""
    out = []
    for index, rule in enumerate(program.rules):
        if not isinstance(rule, NetRule) or rule.nets or not rule.source:
            continue
        term = rule.source.split(" ", 1)[0]
        kind = term.lstrip("+-~?").split(":", 1)[0].split("/", 1)[0]
        if kind not in ("a", "mx", "include"):
            continue
        where = f"{options.sender_keys[index]} ({term})" if index < len(options.sender_keys) else rule.source
        why = {"a": "its name has no A or AAAA record", "mx": "its name has no MX hosts with addresses",
               "include": "the included record passes no address"}[kind]
        out.append(f"{where} authorizes no address ({why}), so it adds nothing to the record; check the name")
    return out


def _floor(program: Program, options: FlattenOptions) -> list[str]:
    """Refuse (or warn about) passed networks wider than the floor, unless the stack trusts every root term."""
    floor = {4: options.floor[0], 6: options.floor[1]}
    found = [w for w in wide_networks(program, floor) if not set(w.roots) <= set(options.allow_wide)]
    if not found:
        return []
    what = "; ".join(w.describe() for w in found)
    head = (f"the flattened SPF set of {program.domain} would authorize {what}: wider than the /{floor[4]} (IPv4) "
            f"and /{floor[6]} (IPv6) floor the stack applies to its own senders")
    if not options.refuse_wide:
        return [head]
    roots = sorted({r for w in found for r in w.roots} - set(options.allow_wide))
    raise SpfError(
        f"{head}. Refused: it would let almost anyone send as {program.domain}. Ask the vendor to fix its record, or remove it; "
        f"if you trust it with these addresses, list it in spf.allowWide ({', '.join(roots)})"
    )


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


def _check_voids(items: list[_Item], program: Program) -> None:
    """Terms kept as written make their void lookups at receivers: the published set must stay within two."""
    kept = [k for k in items if isinstance(k, KeptTerm)] + ([program.redirect] if program.redirect else [])
    for family, index in ((4, 0), (6, 1)):
        total = sum(k.voids[index] for k in kept)
        if total > MAX_VOID:
            named = "; ".join(f"{k.text} makes {k.voids[index]}" for k in kept if k.voids[index])
            raise SpfVoidLimitError(
                f"the flattened SPF set of {program.domain} would still make {total} void lookups for IPv{family} "
                f"clients through terms kept as written, more than {MAX_VOID}: receivers return permerror "
                f"(RFC 7208 §4.6.4): {named}. Fix or remove the names without addresses in those trees"
            )


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
