"""Pin and check the vendor SPF trees a stack includes (the lock file next to the stack files)."""

from __future__ import annotations

import asyncio

from sending_domain.core.render import spf_root_text
from sending_domain.core.settings import StackSettings
from sending_domain.core.spf.lock import EVAL_DOMAIN, LockEntry, SpfLock, VendorChange, compare_entry, lock_terms, term_record
from sending_domain.core.spf.terms import parse_record
from sending_domain.dns.resolver import AsyncResolver
from sending_domain.dns.spf_fetch import fetch_and_evaluate


def stack_terms(stack: StackSettings) -> list[str]:
    """Every pinnable root term of every domain of ``stack``, sorted."""
    terms: set[str] = set()
    for domain in stack.domains:
        terms.update(lock_terms(domain.domain, parse_record(spf_root_text(domain), domain.domain)))
    return sorted(terms)


async def resolve_entry(term: str, resolver: AsyncResolver, now: str) -> LockEntry:
    _, answers = await fetch_and_evaluate(EVAL_DOMAIN, resolver, term_record(term))
    return LockEntry(term, now, answers)


async def refresh_lock(stack: StackSettings, resolver: AsyncResolver, now: str, previous: SpfLock | None = None) -> SpfLock:
    """Resolve every term of ``stack`` afresh. An unchanged entry keeps its old time, so the file only changes with DNS.

    The lock is shared by the stacks next to it: entries of terms this stack does not use are kept as they were.
    """
    terms = stack_terms(stack)
    fresh = await asyncio.gather(*(resolve_entry(t, resolver, now) for t in terms))
    entries = {t: e for t, e in previous.entries.items() if t not in terms} if previous else {}
    for entry in fresh:
        old = previous.entries.get(entry.term) if previous else None
        entries[entry.term] = old if old is not None and dict(old.answers) == dict(entry.answers) else entry
    return SpfLock(entries)


async def check_lock(stack: StackSettings, lock: SpfLock, resolver: AsyncResolver) -> list[VendorChange]:
    """Pinned trees whose live answers differ, and stack terms the lock does not pin; sorted by term."""
    terms = stack_terms(stack)
    pinned = [t for t in terms if t in lock.entries]
    fresh = await asyncio.gather(*(resolve_entry(t, resolver, "") for t in pinned))
    changes = [c for c in (compare_entry(lock.entries[e.term], e) for e in fresh) if c is not None]
    changes += [VendorChange(t, (), (), "is in the stack but not pinned in the lock") for t in terms if t not in lock.entries]
    return sorted(changes, key=lambda c: c.term)
