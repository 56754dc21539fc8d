"""``sending-domain drift``: live DNS and the vendor trees compared with the stack, printed as a plan.

Exit codes: 0 nothing drifted; 1 drift (records or vendors); 2 bad input; 3 DNS failed for now.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Collection

from sending_domain.cli.common import add_nameserver_option, add_stack_options, desired_offline
from sending_domain.core.dnsdata import Answer, Question
from sending_domain.core.drift import Plan, compare, questions, render_json, render_markdown, render_text
from sending_domain.core.render import DesiredDomain
from sending_domain.core.settings import StackSettings
from sending_domain.core.spf.lock import SpfLock
from sending_domain.desired import run_sync
from sending_domain.dns.resolver import AsyncResolver
from sending_domain.spf_lock import check_lock


def register(commands: argparse._SubParsersAction) -> None:
    drift = commands.add_parser("drift", help="compare live DNS and vendor SPF trees with the stack; exit 1 on drift")
    add_stack_options(drift)
    add_nameserver_option(drift)
    drift.add_argument("--outputs", metavar="FILE", help="`pulumi stack output --json` file: compare DKIM keys exactly")
    form = drift.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="machine-readable output")
    form.add_argument("--markdown", action="store_true", help="a PR or issue comment")
    drift.set_defaults(func=run_drift)


def run_drift(args: argparse.Namespace) -> int:
    loaded, lock, desired = desired_offline(args)
    assert lock is not None  # desired_domains refuses to plan without one
    plan = run_sync(find_drift(loaded.stack_name, loaded.settings, desired, lock, AsyncResolver(args.nameserver)))
    render = render_json if args.json else render_markdown if args.markdown else render_text
    print(render(plan), end="")
    return 1 if plan.drifted else 0


async def find_drift(
    stack: str, settings: StackSettings, desired: Collection[DesiredDomain], lock: SpfLock, resolver: AsyncResolver
) -> Plan:
    """Ask live DNS for our records and the vendors' trees at once; any DNS failure aborts the whole run."""
    observed, vendors = await asyncio.gather(observe(desired, resolver), check_lock(settings, lock, resolver))
    return compare(stack, desired, observed, vendors)


async def observe(desired: Collection[DesiredDomain], resolver: AsyncResolver) -> dict[Question, Answer]:
    """Answers to every question the comparison needs; new answers may reveal more (chained SPF names)."""
    observed: dict[Question, Answer] = {}
    while todo := sorted(questions(desired, observed) - observed.keys()):
        answers = await asyncio.gather(*(resolver.query(name, rdtype) for name, rdtype in todo))
        observed.update(zip(todo, answers))
    return observed

