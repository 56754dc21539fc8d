"""What is live at the names a stack publishes, read from DNS: the offline counterpart of the program's pre-flight.

``plan --live`` asks DNS for the TXT (and, at the MAIL FROM name, MX) records at every name each domain
publishes and hands them to the same :func:`~.core.adopt.classify` the Pulumi program uses on Cloudflare's
records. DNS shows no record ids or comments, so a live record counts as this stack's own only when it holds
exactly the value the stack publishes; the reasons say where DNS cannot tell. Any DNS failure raises
(:class:`~.core.errors.DnsError`, exit 3): a partial view would hide a record that blocks the deploy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sending_domain.core.adopt import Adoption, LiveRecord, classify
from sending_domain.core.dnsdata import Answer, Question
from sending_domain.core.render import DesiredDomain
from sending_domain.core.settings import StackSettings
from sending_domain.dns.resolver import AsyncResolver


def questions(desired: DesiredDomain) -> list[Question]:
    """TXT at every name the domain publishes, and MX where it publishes an MX."""
    asked = {(r.record.name, r.record.type) for r in desired.records} | {(p.name, "TXT") for p in desired.pending}
    asked |= {(name, "TXT") for name, _ in asked}
    return sorted(asked)


def records_from_answers(answers: dict[Question, Answer]) -> list[LiveRecord]:
    records: list[LiveRecord] = []
    for (name, rdtype), answer in sorted(answers.items()):
        for value in answer.values:
            if rdtype == "MX":
                preference, _, host = value.partition(" ")
                records.append(LiveRecord(name, "MX", host, priority=int(preference)))
            else:
                records.append(LiveRecord(name, rdtype, value))
    return records


async def live_adoptions(
    stack: StackSettings, desired: Sequence[DesiredDomain], resolver: AsyncResolver
) -> list[Adoption]:
    """The adoption steps for every domain of ``desired`` against what DNS answers now."""
    settings = {d.domain: d for d in stack.domains}
    asked = [(d, questions(d)) for d in desired]
    answers = await asyncio.gather(*(asyncio.gather(*(resolver.query(n, t) for n, t in qs)) for _, qs in asked))
    adoptions = []
    for (domain, qs), got in zip(asked, answers):
        live = records_from_answers(dict(zip(qs, got)))
        own = settings[domain.domain]
        adoptions.append(classify(domain, live, adopt=own.adopt, force=own.dmarc.force))
    return adoptions
