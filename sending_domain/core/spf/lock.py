"""The vendor lock: pinned DNS answers for the SPF trees a stack includes.

Each entry pins one root term that needs DNS (``include:_spf.google.com``, ``mx:example.com``, …) with
every answer its tree needed and when they were resolved. Planning from the lock is offline and
deterministic; when a vendor changes its records, the fresh answers differ from the pinned ones and the
change arrives as a reviewed diff of the lock file (DNSControl's ``spfcache.json`` idea).

The file is input like a stack file: :meth:`SpfLock.from_json` checks the type of every value (an IPv6
address under an ``A`` answer is an error, not a network) and names the entry and the key of each problem.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sending_domain.core.dnsdata import QUERY_TYPES, Answer, Question
from sending_domain.core.errors import ConfigError, Problem, SpfError
from sending_domain.core.spf.netset import NetSet
from sending_domain.core.spf.terms import Mechanism, Modifier, SpfRecord, parse_record
from sending_domain.core.spf.tree import NetRule, evaluate
from sending_domain.core.text import printable

LOCK_VERSION = 1
EVAL_DOMAIN = "lock.invalid"  # RFC 6761 §6.4: never resolves; every pinned term names its own domain; never shown
UPDATE_COMMAND = "sending-domain spf lock --update"  # callers that know the stack add --stack/--config
_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*$")
_MX = re.compile(r"^(?:0|[1-9][0-9]{0,4}) (?:\.|[a-z0-9_.-]+)$")


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
        ev = evaluate(EVAL_DOMAIN, self.answers, term_record(self.term), anonymous=True)
        if ev.program is None or not ev.program.flat:
            return None
        return NetSet.union(rule.nets for rule in ev.program.rules if isinstance(rule, NetRule))


@dataclass(frozen=True)
class SpfLock:
    """The pinned entries by term; ``path`` and ``update_command`` are what messages print (not compared)."""

    entries: Mapping[str, LockEntry]
    path: str = field(default="", compare=False)
    update_command: str = field(default=UPDATE_COMMAND, compare=False)

    def snapshot(self, terms: Iterable[str], *, source: str = "") -> dict[Question, Answer]:
        """The merged pinned answers for ``terms``; a term not in the lock is a ConfigError."""
        missing = [t for t in terms if t not in self.entries]
        if missing:
            where = f" to pin it in {self.path}" if self.path else ""
            raise ConfigError(
                [Problem(f"spf lock [{t}]", "lock-missing", f"not pinned; run `{self.update_command}`{where}") for t in missing],
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
    def from_json(cls, text: str, *, source: str = "", update_command: str = UPDATE_COMMAND) -> SpfLock:
        """Read a lock file's text, checking every value; every problem is reported at once, by entry and key."""
        entries, problems = _read(text)
        if problems:
            fix = f"regenerate it with `{update_command}`"
            raise ConfigError([*problems, Problem("", "lock-fix", f"the SPF lock file is malformed; {fix}")], source=source)
        return cls(entries, source, update_command)

    @classmethod
    def salvage(cls, text: str, *, source: str = "", update_command: str = UPDATE_COMMAND) -> tuple[SpfLock, list[Problem]]:
        """The entries of a damaged lock that are still valid, and the problems of the rest (for ``--update``)."""
        entries, problems = _read(text)
        return cls(entries, source, update_command), problems


def merge_lock(previous: SpfLock | None, fresh: Iterable[LockEntry], terms: Iterable[str]) -> SpfLock:
    """The lock after resolving ``terms`` afresh: entries of other terms (other stacks') are kept, and an
    entry whose answers did not change keeps its old time, so the file only changes when DNS did."""
    wanted = set(terms)
    old = dict(previous.entries) if previous else {}
    entries = {t: e for t, e in old.items() if t not in wanted}
    for entry in fresh:
        before = old.get(entry.term)
        entries[entry.term] = before if before is not None and dict(before.answers) == dict(entry.answers) else entry
    return SpfLock(entries, previous.path if previous else "", previous.update_command if previous else UPDATE_COMMAND)


# --- reading ---------------------------------------------------------------------------------------


def _read(text: str) -> tuple[dict[str, LockEntry], list[Problem]]:
    try:
        data = json.loads(text)
    except ValueError as e:
        return {}, [Problem("", "lock-json", f"not JSON, or cut short ({printable(str(e))})")]
    if not isinstance(data, dict):
        return {}, [Problem("", "lock-type", "must be a JSON object with 'version' and 'entries'")]
    if data.get("version") != LOCK_VERSION:
        return {}, [Problem("version", "lock-version", f"unsupported version {printable(repr(data.get('version')))}, expected {LOCK_VERSION}")]
    raw_entries = data.get("entries")
    if not isinstance(raw_entries, dict):
        return {}, [Problem("entries", "lock-type", "must be an object of pinned terms")]
    entries: dict[str, LockEntry] = {}
    problems: list[Problem] = []
    for term, raw in raw_entries.items():
        found = _entry_problems(term, raw)
        if found:
            problems += found
        else:
            entries[term] = LockEntry(term, raw["resolved_at"], _answers(raw["answers"]))
    return entries, problems


def _entry_problems(term: str, raw: object) -> list[Problem]:
    at = f"entries[{printable(repr(term))}]"
    try:
        record = parse_record(term_record(term))
    except SpfError:
        record = None
    if record is None or len(record.terms) != 1 or lock_terms("", record) != [term]:
        return [Problem(at, "lock-term", "is not a term the lock pins (include:, a:, mx: or redirect= with a domain)")]
    if not isinstance(raw, dict):
        return [Problem(at, "lock-type", "must be an object with 'resolved_at' and 'answers'")]
    problems = []
    if not isinstance(raw.get("resolved_at"), str):
        problems.append(Problem(f"{at}.resolved_at", "lock-type", "must be a time as text"))
    answers = raw.get("answers")
    if not isinstance(answers, dict):
        return [*problems, Problem(f"{at}.answers", "lock-type", "must be an object of 'name TYPE' keys")]
    for key, value in answers.items():
        problems += _answer_problems(f"{at}.answers[{printable(repr(key))}]", key, value)
    return problems


def _answer_problems(at: str, key: str, value: object) -> list[Problem]:
    name, _, rdtype = key.rpartition(" ")
    if rdtype not in QUERY_TYPES or not _NAME.match(name):
        return [Problem(at, "lock-key", f"must be '<lower-case name> <type>' with type one of {', '.join(QUERY_TYPES)}")]
    if not isinstance(value, dict) or value.get("status") not in ("ok", "nxdomain", "nodata"):
        return [Problem(at, "lock-type", "must be an object with status ok, nxdomain or nodata")]
    values = value.get("values", [])
    if not isinstance(values, list):
        return [Problem(f"{at}.values", "lock-type", "must be a list")]
    if value["status"] != "ok" and values:
        return [Problem(f"{at}.values", "lock-value", f"a {value['status']} answer has no values")]
    problems = []
    for index, item in enumerate(values):
        if reason := _value_reason(rdtype, item):
            problems.append(Problem(f"{at}.values[{index}]", "lock-value", reason))
    return problems


def _value_reason(rdtype: str, item: object) -> str | None:
    if not isinstance(item, str):
        return "must be text"
    shown = printable(repr(item))
    if rdtype in ("A", "AAAA"):
        version = 4 if rdtype == "A" else 6
        try:
            address = ipaddress.ip_address(item)
        except ValueError:
            return f"{shown} is not an IPv{version} address"
        return None if address.version == version and str(address) == item else f"{shown} is not an IPv{version} address in canonical form"
    if rdtype == "MX" and not _MX.match(item):
        return f"{shown} is not '<preference> <exchange>'"
    return None


def _answers(raw: Mapping[str, Mapping]) -> dict[Question, Answer]:
    out: dict[Question, Answer] = {}
    for key, value in raw.items():
        name, rdtype = key.rsplit(" ", 1)
        out[(name, rdtype)] = Answer.from_json(value)
    return out


# --- comparing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VendorChange:
    """A pinned tree whose live answers differ from the lock, or whose live tree no longer evaluates.

    ``error`` is why the live tree does not evaluate (the include's target is gone, or has no SPF record any
    more); then ``removed`` holds everything the pinned tree authorized. ``fix`` is the command to run.
    """

    term: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    detail: str
    error: str = ""
    fix: str = field(default=UPDATE_COMMAND, compare=False)

    def __str__(self) -> str:
        parts = [f"{self.term}: {self.detail}"]
        if self.added:
            parts.append("now also sends from " + ", ".join(self.added))
        if self.removed:
            parts.append("no longer sends from " + ", ".join(self.removed))
        return "; ".join(parts)

    def as_json(self) -> dict:
        """``error`` is null unless the vendor's live tree no longer evaluates (its include vanished)."""
        return {"term": self.term, "added": list(self.added), "removed": list(self.removed), "detail": self.detail,
                "error": self.error or None}


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


def broken_entry(old: LockEntry, error: SpfError) -> VendorChange:
    """A pinned term whose live tree no longer evaluates (NXDOMAIN, no SPF record any more, a syntax error)."""
    before = old.networks()
    removed = tuple(str(n) for n in before.networks) if before is not None else ()
    message = printable(str(error))
    return VendorChange(old.term, (), removed, f"its live SPF tree no longer evaluates: {message}", error=message)
