"""Ask DNS what the checks of one domain need, concurrently, through one :class:`AsyncResolver` (I/O only).

Every question of :func:`~.observed.questions`, the live SPF tree (walked with
:func:`~sending_domain.dns.spf_fetch.fetch_and_evaluate`, a receiver's view), and each sender's networks
(from the vendor lock when it pins the sender's tree — the same source ``plan`` used — else live) run at
once; the resolver asks each (name, type) once for the whole run.
"""

from __future__ import annotations

import asyncio

from sending_domain.core.dnsdata import Answer
from sending_domain.core.errors import DnsError, SpfError, SpfVoidLimitError
from sending_domain.core.render import DesiredDomain
from sending_domain.core.settings import DomainSettings
from sending_domain.core.spf.lock import SpfLock, lock_terms, term_record
from sending_domain.core.spf.terms import parse_record
from sending_domain.core.spf.tree import Evaluation, evaluate
from sending_domain.dns.resolver import AsyncResolver
from sending_domain.dns.spf_fetch import fetch_and_evaluate
from sending_domain.verify.observed import LiveSpf, Lookup, ObservedDns, SenderNets, Unanswered, questions


async def observe_domain(desired: DesiredDomain, settings: DomainSettings, resolver: AsyncResolver, lock: SpfLock | None) -> ObservedDns:
    asked = questions(desired, settings)
    answers = [resolver.ask(*q) for q in asked]  # futures, not a task per question
    live, senders = await asyncio.gather(
        live_spf(settings.domain, resolver),
        asyncio.gather(*(sender_nets(settings.domain, term, resolver, lock) for term in settings.spf_terms)),
    )
    pending = [f for f in answers if not f.done()]
    if pending:
        await asyncio.wait(pending)
    return ObservedDns({q: _lookup(f) for q, f in zip(asked, answers)}, live, dict(zip(settings.spf_terms, senders)))


def _lookup(answer: asyncio.Future[Answer]) -> Lookup:
    error = answer.exception()
    if error is None:
        return answer.result()
    if isinstance(error, DnsError):
        return Unanswered(str(error))
    raise error


async def live_spf(domain: str, resolver: AsyncResolver) -> LiveSpf:
    try:
        ev, _ = await fetch_and_evaluate(domain, resolver)
    except SpfError as e:
        return LiveSpf(error=str(e), void_limit=isinstance(e, SpfVoidLimitError))
    except DnsError as e:
        return LiveSpf(transient=str(e))
    assert ev.program is not None
    return LiveSpf(ev.program, ev.program.cost, dict(ev.voids))


async def sender_nets(domain: str, term: str, resolver: AsyncResolver, lock: SpfLock | None) -> SenderNets:
    """The addresses ``term`` passes when published at ``domain``."""
    text = term_record(term)
    try:
        pinned = lock_terms(domain, parse_record(text, domain))
        if lock is not None and all(t in lock.entries for t in pinned):
            ev = evaluate(domain, lock.snapshot(pinned), text)
        else:
            ev, _ = await fetch_and_evaluate(domain, resolver, text)
    except SpfError as e:
        return SenderNets(error=str(e))
    except DnsError as e:
        return SenderNets(transient=str(e))
    return _nets_of(ev)


def _nets_of(ev: Evaluation) -> SenderNets:
    if ev.program is None or ev.missing:
        return SenderNets(error="the vendor lock does not hold this sender's whole tree; run `sending-domain spf lock --update`")
    if not ev.program.flat:
        return SenderNets(opaque=True)
    return SenderNets(ev.program.passes())
