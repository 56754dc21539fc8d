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
from sending_domain.core.spf.tree import Evaluation, evaluate, missing_answers
from sending_domain.dns.resolver import AsyncResolver


async def fetch_and_evaluate(domain: str, resolver: AsyncResolver, record_text: str | None = None) -> tuple[Evaluation, dict[Question, Answer]]:
    """Evaluate ``domain``'s SPF tree (or ``record_text`` published there); returns it and the answers used."""
    known: dict[Question, Answer] = {}
    inflight: dict[Question, asyncio.Task[Answer]] = {}
    try:
        while True:
            missing = missing_answers(domain, known, record_text)
            if not missing:
                ev = evaluate(domain, known, record_text)
                return ev, {q: known[q] for q in ev.used}
            for question in missing - inflight.keys():
                inflight[question] = asyncio.create_task(resolver.query(*question))
            await asyncio.wait(inflight.values(), return_when=asyncio.FIRST_COMPLETED)
            for question, task in list(inflight.items()):
                if task.done():
                    known[question] = task.result()  # a transient DNS failure propagates: nothing is published
                    del inflight[question]
    finally:
        for task in inflight.values():
            task.cancel()
        if inflight:
            await asyncio.gather(*inflight.values(), return_exceptions=True)


async def flatten_live(domain: str, resolver: AsyncResolver, record_text: str | None = None, options: FlattenOptions = FlattenOptions()) -> Flattened:
    """Resolve and flatten ``domain``'s SPF tree; any DNS failure aborts with an error, never a partial set."""
    ev, answers = await fetch_and_evaluate(domain, resolver, record_text)
    return flatten_evaluation(domain, ev, answers, record_text, options)
