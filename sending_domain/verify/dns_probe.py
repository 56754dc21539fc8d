"""Ask DNS what the checks of one domain need, concurrently, through one :class:`AsyncResolver` (I/O only).

Every question of :func:`~.observed.questions`, the live SPF tree (walked with
:func:`~sending_domain.dns.spf_fetch.fetch_and_evaluate`, a receiver's view), and each sender's networks
(from the vendor lock when it pins the sender's tree — the same source ``plan`` used — else live) run at
once; the resolver asks each (name, type) once for the whole run, and :class:`SenderNetworks` walks a
sender's tree once for all the domains that send through it.
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


async def observe_domain(desired: DesiredDomain, settings: DomainSettings, senders: SenderNetworks) -> ObservedDns:
    resolver = senders.resolver
    asked = questions(desired, settings)
    answers = [resolver.ask(*q) for q in asked]  # futures, not a task per question
    live, nets = await asyncio.gather(
        live_spf(settings.domain, resolver),
        asyncio.gather(*(senders.nets(settings.domain, term) for term in settings.spf_terms)),
    )
    pending = [f for f in answers if not f.done()]
    if pending:
        await asyncio.wait(pending)
    return ObservedDns({q: _lookup(f) for q, f in zip(asked, answers)}, live, dict(zip(settings.spf_terms, nets)))


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


class SenderNetworks:
    """Each configured sender's networks, for the domains of one verify attempt.

    A sender term whose tree does not depend on the domain publishing it — every term names its domain
    (``include:vendor.example``, ``a:host``, ``ip4:…``): no bare ``a``/``mx``/``ptr``, no macro — passes
    the same addresses at every domain, so it is walked once and the result shared. A domain gets its
    own walk when the shared one failed (the message names the domain that walked) or when the tree
    passes through the domain's own name (a loop back to it is an error for that domain alone).
    """

    def __init__(self, resolver: AsyncResolver, lock: SpfLock | None) -> None:
        self.resolver, self.lock = resolver, lock
        self._shared: dict[str, asyncio.Future[tuple[SenderNets, frozenset[str]]]] = {}

    async def nets(self, domain: str, term: str) -> SenderNets:
        """The addresses ``term`` passes when published at ``domain``."""
        if not _domain_free(term):
            return (await self._walk(domain, term))[0]
        shared = self._shared.get(term)
        if shared is None:
            shared = self._shared[term] = asyncio.ensure_future(self._walk(domain, term))
        nets, names = await asyncio.shield(shared)
        if nets.error or nets.transient or domain in names:
            return (await self._walk(domain, term))[0]
        return nets

    async def _walk(self, domain: str, term: str) -> tuple[SenderNets, frozenset[str]]:
        """The networks, and every name the walk read."""
        text = term_record(term)
        try:
            pinned = lock_terms(domain, parse_record(text, domain))
            if self.lock is not None and all(t in self.lock.entries for t in pinned):
                ev = evaluate(domain, self.lock.snapshot(pinned), text)
            else:
                ev, _ = await fetch_and_evaluate(domain, self.resolver, text)
        except SpfError as e:
            return SenderNets(error=str(e)), frozenset()
        except DnsError as e:
            return SenderNets(transient=str(e)), frozenset()
        return _nets_of(ev), frozenset(name for name, _ in ev.used)


def _domain_free(term: str) -> bool:
    """True when ``term``'s tree reads the same at any domain: it names every domain it looks up."""
    try:
        record = parse_record(term_record(term))
    except SpfError:
        return False  # the walk at the domain reports it
    redirect = record.redirect
    return (redirect is None or "%" not in redirect) and all(
        m.kind in ("ip4", "ip6", "all") or (m.domain is not None and not m.has_macro) for m in record.mechanisms
    )


def _nets_of(ev: Evaluation) -> SenderNets:
    if ev.program is None or ev.missing:
        return SenderNets(error="the vendor lock does not hold this sender's whole tree; run `sending-domain spf lock --update`")
    if not ev.program.flat:
        return SenderNets(opaque=True)
    return SenderNets(ev.program.passes())
