"""The vendor lock: pinned DNS answers for the SPF trees a stack includes.

Each entry pins one root term that needs DNS (``include:_spf.google.com``, ``mx:example.com``, …) with
every answer its tree needed and when they were resolved. Planning from the lock is offline and
deterministic; when a vendor changes its records, the fresh answers differ from the pinned ones and the
change arrives as a reviewed diff of the lock file (DNSControl's ``spfcache.json`` idea).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sending_domain.core.dnsdata import Answer, Question
from sending_domain.core.errors import ConfigError, Problem
from sending_domain.core.spf.netset import NetSet
from sending_domain.core.spf.terms import Mechanism, Modifier, SpfRecord
from sending_domain.core.spf.tree import NetRule, evaluate

LOCK_VERSION = 1
EVAL_DOMAIN = "lock.invalid"  # RFC 6761 §6.4: never resolves; every pinned term names its own domain


def lock_terms(domain: str, record: SpfRecord) -> list[str]:
    """The root terms of ``record`` (published at ``domain``) whose trees come from DNS and can be pinned."""
    terms: list[str] = []
    for term in record.terms:
        if isinstance(term, Mechanism) and term.kind in ("include", "a", "mx") and not term.has_macro:
            pinned = Mechanism("+", term.kind, term.domain or domain, term.cidr4, term.cidr6)
            terms.append(str(pinned))
        elif isinstance(term, Modifier) and term.name == "redirect" and "%" not in term.value and not record.has_all:
            terms.append(str(term))
    return sorted(set(terms))


def term_record(term: str) -> str:
    """A one-term record whose evaluation walks exactly ``term``'s tree."""
    return f"v=spf1 {term}"


@dataclass(frozen=True)
class LockEntry:
    term: str
    resolved_at: str
    answers: Mapping[Question, Answer]

    def networks(self) -> NetSet | None:
        """The networks the term contributes, or None when its tree keeps terms that are not networks."""
        ev = evaluate(EVAL_DOMAIN, self.answers, term_record(self.term))
        if ev.program is None or not ev.program.flat:
            return None
        nets = NetSet()
        for rule in ev.program.rules:
            assert isinstance(rule, NetRule)
            nets = nets | rule.nets
        return nets


@dataclass(frozen=True)
class SpfLock:
    entries: Mapping[str, LockEntry]

    def snapshot(self, terms: Iterable[str], *, source: str = "") -> dict[Question, Answer]:
        """The merged pinned answers for ``terms``; a term not in the lock is a ConfigError."""
        missing = [t for t in terms if t not in self.entries]
        if missing:
            raise ConfigError(
                [Problem(f"spf lock [{t}]", "lock-missing", "not pinned; run `sending-domain spf lock --update`") for t in missing],
                source=source,
            )
        merged: dict[Question, Answer] = {}
        for term in terms:
            merged.update(self.entries[term].answers)
        return merged

    def to_json(self) -> str:
        data = {
            "version": LOCK_VERSION,
            "entries": {
                term: {
                    "resolved_at": entry.resolved_at,
                    "answers": {f"{name} {rdtype}": ans.as_json() for (name, rdtype), ans in sorted(entry.answers.items())},
                }
                for term, entry in sorted(self.entries.items())
            },
        }
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str = "") -> SpfLock:
        try:
            data = json.loads(text)
            if data.get("version") != LOCK_VERSION:
                raise ValueError(f"unsupported version {data.get('version')!r}, expected {LOCK_VERSION}")
            entries = {term: _entry(term, raw) for term, raw in data["entries"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ConfigError(f"the SPF lock file is malformed ({e}); regenerate it with `sending-domain spf lock --update`", source=source) from None
        return cls(entries)


def _entry(term: str, raw: Mapping) -> LockEntry:
    answers: dict[Question, Answer] = {}
    for key, value in raw["answers"].items():
        name, rdtype = key.rsplit(" ", 1)
        answers[(name, rdtype)] = Answer.from_json(value)
    return LockEntry(term, str(raw["resolved_at"]), answers)


@dataclass(frozen=True)
class VendorChange:
    """A pinned tree whose live answers differ from the lock."""

    term: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    detail: str

    def __str__(self) -> str:
        parts = [f"{self.term}: {self.detail}"]
        if self.added:
            parts.append("now also sends from " + ", ".join(self.added))
        if self.removed:
            parts.append("no longer sends from " + ", ".join(self.removed))
        return "; ".join(parts)


def compare_entry(old: LockEntry, new: LockEntry) -> VendorChange | None:
    """What changed between a pinned entry and freshly resolved answers for the same term."""
    if dict(old.answers) == dict(new.answers):
        return None
    before, after = old.networks(), new.networks()
    if before is None or after is None:
        return VendorChange(old.term, (), (), "its DNS answers changed")
    added = tuple(str(n) for n in (after - before).networks)
    removed = tuple(str(n) for n in (before - after).networks)
    detail = "its addresses changed" if added or removed else "its records changed but it covers the same addresses"
    return VendorChange(old.term, added, removed, detail)
