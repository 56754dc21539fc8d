"""``sending-domain drift``: live DNS and the vendor trees compared with the stack, printed as a plan.

Exit codes: 0 nothing drifted; 1 drift (records or vendors); 2 bad input; 3 DNS failed for now. On 3 the report
still prints: what could be compared is compared, and the domains (or the vendor check) DNS failed for are named
as unchecked.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from sending_domain.cli import term
from sending_domain.cli.common import add_domain_option, add_nameserver_option, add_stack_options, desired_offline, print_json
from sending_domain.core.errors import DnsError
from sending_domain.core.text import printable

if TYPE_CHECKING:  # imported when the command runs: --help and argument errors stay fast
    from sending_domain.core.dnsdata import Answer, Question
    from sending_domain.core.drift import Plan
    from sending_domain.core.render import DesiredDomain
    from sending_domain.core.settings import StackSettings
    from sending_domain.core.spf.lock import SpfLock
    from sending_domain.dns.resolver import AsyncResolver


def register(commands: argparse._SubParsersAction) -> None:
    drift = commands.add_parser("drift", help="compare live DNS and vendor SPF trees with the stack; exit 1 on drift")
    add_stack_options(drift)
    add_domain_option(drift, "compare only this domain (repeatable)")
    add_nameserver_option(drift)
    drift.add_argument("--outputs", metavar="FILE", help="`pulumi stack output --json` file: compare DKIM keys exactly")
    form = drift.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="machine-readable output")
    form.add_argument("--markdown", action="store_true", help="a PR or issue comment")
    drift.add_argument("--quiet", action="store_true", help="nothing on stderr but errors (the report still says what was left out)")
    drift.set_defaults(func=run_drift)


JSON_VERSION = 1


@dataclass
class DriftRun:
    """The plan for what could be compared, and what DNS failed for (a partial run when any)."""

    plan: Plan
    unchecked: dict[str, str] = field(default_factory=dict)  # domain → why it could not be compared
    vendors_error: str | None = None

    @property
    def complete(self) -> bool:
        return not self.unchecked and self.vendors_error is None

    @property
    def exit_code(self) -> int:
        return 1 if self.plan.drifted else 0 if self.complete else 3


def run_drift(args: argparse.Namespace) -> int:
    from sending_domain.core.drift import render_markdown, render_text
    from sending_domain.desired import run_sync
    from sending_domain.dns.resolver import AsyncResolver

    loaded, lock, desired = desired_offline(args)
    assert lock is not None  # desired_domains refuses to plan without one
    settings = loaded.settings
    if args.domain:  # the vendor check covers the chosen domains' senders only
        settings = replace(settings, domains=tuple(d for d in settings.domains if d.domain in {x.domain for x in desired}))
    progress = term.progress_for(sys.stderr, "drift: DNS answers", items=len(desired), quiet=args.quiet)
    try:
        run = run_sync(find_drift(loaded.stack_name, settings, desired, lock, AsyncResolver(args.nameserver), progress))
    finally:
        if progress is not None:
            progress.clear()
    if args.json:
        print_json(json_document(run))
    else:
        columns = None if args.markdown else term.width()
        print(fit(incomplete_header(run, markdown=args.markdown), columns), end="")
        print(fit((render_markdown if args.markdown else render_text)(run.plan), columns), end="")
    if not run.complete and not args.quiet:
        left_out = [*run.unchecked, *(["the vendor SPF trees"] if run.vendors_error is not None else [])]
        print(f"sending-domain: DNS failed for now, retry later; not compared: {', '.join(left_out)}", file=sys.stderr)
    return run.exit_code


def fit(text: str, columns: int | None) -> str:
    """The text report in ``columns``: a diff line's value (``- name. TXT "..."``) is elided in the middle, every
    other line wrapped; the full values are in ``--json`` and ``--markdown``."""
    if not columns:
        return text
    out: list[str] = []
    for line in text.split("\n"):
        if line.lstrip().startswith(("- ", "+ ")):
            out.append(term.elide(line, columns))
        else:
            out += textwrap.wrap(line, columns, subsequent_indent="    ", break_on_hyphens=False) or [line]
    return "\n".join(out)


def incomplete_header(run: DriftRun, *, markdown: bool = False) -> str:
    """Above a partial report: what it does not cover, and that this is worth a retry (exit 3)."""
    if run.complete:
        return ""
    gaps = [f"{d} (not compared: {printable(why)})" for d, why in run.unchecked.items()]
    if run.vendors_error is not None:
        gaps.append(f"the vendor SPF trees (not compared: {printable(run.vendors_error)})")
    head = "INCOMPLETE: DNS failed for now, retry later; this report leaves out "
    lines = [head + "; ".join(gaps)]
    return "".join((f"> **{line}**\n\n" if markdown else f"{line}\n") for line in lines)


def json_document(run: DriftRun) -> dict:
    """The drift JSON (docs/json.md): the plan's fields, with the version and what was left unchecked."""
    from sending_domain.core.drift import render_json

    return {
        "version": JSON_VERSION,
        "kind": "drift",
        "exit_code": run.exit_code,
        "complete": run.complete,
        **json.loads(render_json(run.plan)),
        "unchecked": [{"domain": d, "error": why} for d, why in run.unchecked.items()],
        "vendors_error": run.vendors_error,
    }


async def find_drift(
    stack: str, settings: StackSettings, desired: Collection[DesiredDomain], lock: SpfLock, resolver: AsyncResolver,
    on_answer: Callable[[int, int], None] | None = None,
) -> DriftRun:
    """Ask live DNS for our records and the vendors' trees at once; a domain whose questions DNS failed for is
    left out of the comparison and named, the rest are compared."""
    import asyncio

    from sending_domain.core.drift import compare, questions

    (observed, failed), vendors = await asyncio.gather(observe(desired, resolver, on_answer), _vendors(settings, lock, resolver))
    unchecked: dict[str, str] = {}
    for domain in desired:
        errors = [failed[q] for q in sorted(questions([domain], observed) & failed.keys())]
        if errors:
            unchecked[domain.domain] = str(errors[0]) + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
    compared = [d for d in desired if d.domain not in unchecked]
    vendor_changes, vendors_error = vendors
    return DriftRun(compare(stack, compared, observed, vendor_changes), unchecked, vendors_error)


async def _vendors(settings: StackSettings, lock: SpfLock, resolver: AsyncResolver) -> tuple[list, str | None]:
    from sending_domain.spf_lock import check_lock

    try:
        return await check_lock(settings, lock, resolver), None
    except DnsError as e:
        return [], str(e)


async def observe(
    desired: Collection[DesiredDomain], resolver: AsyncResolver, on_answer: Callable[[int, int], None] | None = None
) -> tuple[dict[Question, Answer], dict[Question, DnsError]]:
    """Answers to every question the comparison needs; new answers may reveal more (chained SPF names).
    Questions DNS failed for are returned apart, never asked again in this run. ``on_answer(done, known)`` after
    each answer, for progress."""
    import asyncio

    from sending_domain.core.drift import questions

    observed: dict[Question, Answer] = {}
    failed: dict[Question, DnsError] = {}
    done = 0

    async def ask(name: str, rdtype: str, known: int) -> Answer:
        nonlocal done
        try:
            return await resolver.query(name, rdtype)
        finally:
            done += 1
            if on_answer is not None:
                on_answer(done, known)

    while todo := sorted(questions(desired, observed) - observed.keys() - failed.keys()):
        known = done + len(todo)
        answers = await asyncio.gather(*(ask(name, rdtype, known) for name, rdtype in todo), return_exceptions=True)
        for question, answer in zip(todo, answers):
            if isinstance(answer, DnsError):
                failed[question] = answer
            elif isinstance(answer, BaseException):
                raise answer
            else:
                observed[question] = answer
    return observed, failed
