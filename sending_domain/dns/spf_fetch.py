"""Fetch everything an SPF tree needs, concurrently, and evaluate or flatten it.

The pure evaluator (:func:`sending_domain.core.spf.tree.evaluate`) says which answers it still misses;
this loop asks for them at once, and asks again for whatever the new answers reveal, as soon as each
answer arrives. So the wall time follows the tree's depth, not its size, and the resolver's cache makes
each (name, type) one query.
"""

from __future__ import annotations

import asyncio

from sending_domain.core.dnsdata import Answer, Question
from sending_domain.core.spf.flatten import FlattenOptions, Flattened, flatten_evaluation
from sending_domain.core.spf.tree import Evaluation, WalkMemo, evaluate, missing_answers
from sending_domain.dns.resolver import AsyncResolver


async def fetch_and_evaluate(
    domain: str, resolver: AsyncResolver, record_text: str | None = None, *, anonymous: bool = False
) -> tuple[Evaluation, dict[Question, Answer]]:
    """Evaluate ``domain``'s SPF tree (or ``record_text`` published there); returns it and the answers used.

    ``anonymous``: ``record_text`` is published nowhere (a lock entry), see :func:`evaluate`. A transient DNS
    failure propagates: nothing is published from a partial tree. Questions still in flight then are left
    to finish in the resolver, for the other callers asking the same. The walk after each answer reuses
    what earlier walks completed (:class:`WalkMemo`), so the work grows with the tree, not its square.
    """
    known: dict[Question, Answer] = {}
    inflight: dict[Question, asyncio.Future[Answer]] = {}
    memo = WalkMemo()
    while True:
        missing = missing_answers(domain, known, record_text, anonymous=anonymous, memo=memo)
        if not missing:
            ev = evaluate(domain, known, record_text, anonymous=anonymous)
            return ev, {q: known[q] for q in ev.used}
        for question in sorted(missing - inflight.keys(), key=_ask_order):
            inflight[question] = resolver.ask(*question)
        if not any(future.done() for future in inflight.values()):  # answers already known need no loop turn
            await asyncio.wait(inflight.values(), return_when=asyncio.FIRST_COMPLETED)
        for question, future in list(inflight.items()):
            if future.done():
                known[question] = future.result()
                del inflight[question]


_RANK = {"TXT": 0, "MX": 1}  # A and AAAA: 2


def _ask_order(question: Question) -> tuple[int, str]:
    """TXT first (an answer can open a whole include subtree), then MX (one more level), then addresses.

    The deepest chains run through TXT, so they start earliest in a burst; the name makes the order
    the same in every run.
    """
    return _RANK.get(question[1], 2), question[0]


async def flatten_live(domain: str, resolver: AsyncResolver, record_text: str | None = None, options: FlattenOptions = FlattenOptions()) -> Flattened:
    """Resolve and flatten ``domain``'s SPF tree; any DNS failure aborts with an error, never a partial set."""
    ev, answers = await fetch_and_evaluate(domain, resolver, record_text)
    return flatten_evaluation(domain, ev, answers, record_text, options)
