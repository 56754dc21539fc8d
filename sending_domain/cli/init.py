"""``sending-domain init``: write a starter stack from what live domains publish today, and pin its senders.

The edge of :mod:`sending_domain.core.starter`: it asks DNS for each domain's TXT at the apex and at
``_dmarc``, and for each ``--dkim-selector``; the core turns the answers into a commented stack file; this
module checks the file with the loader every command uses, pins the senders' SPF trees in the lock next to it
(as ``spf lock --update`` would), and writes both atomically. ``drift`` against the same DNS right after
reports nothing (the live SPF record is the stack's record as written).

Exit codes: 0 written; 2 bad input, a file in the way (without ``--force``), two SPF records, a term a stack
cannot express; 3 DNS failed for now.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sending_domain.cli.common import add_nameserver_option, domain_argument, print_json
from sending_domain.core.errors import ConfigError, Problem

if TYPE_CHECKING:  # imported where they are used, so `init --help` stays fast
    from sending_domain.core.starter import StarterDomain
    from sending_domain.dns.resolver import AsyncResolver

_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
EXAMPLE = """example:
  sending-domain init example.com --dkim-selector google --dkim-selector s1 --stack prod
  sending-domain init example.com news.example.com --ses eu-west-1 --output stacks/Pulumi.mail.yaml
"""


def register(commands: argparse._SubParsersAction) -> None:
    init = commands.add_parser(
        "init",
        help="write a starter stack from live DNS (SPF senders, DMARC, DKIM selectors) and pin its senders",
        description="Write a stack file that adopts what the domains publish today, so that the first plan shows "
                    "no change, and pin its senders' SPF trees in the lock next to it.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    init.add_argument("domains", nargs="+", metavar="DOMAIN", help="a domain that sends mail today")
    add_nameserver_option(init)
    init.add_argument("--dkim-selector", action="append", default=[], metavar="SEL",
                      help="a DKIM selector the domains use today (repeatable): noted, never managed")
    init.add_argument("--ses", metavar="REGION", help="also set up an SES identity in this region (its own DKIM key)")
    where = init.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", metavar="NAME", help="write stacks/Pulumi.NAME.yaml")
    where.add_argument("--output", metavar="FILE", help="write this file")
    init.add_argument("--force", action="store_true", help="overwrite a stack file that exists")
    init.add_argument("--json", action="store_true", help="print what was written as JSON (docs/schemas/init.schema.json)")
    init.set_defaults(func=run_init)


def run_init(args: argparse.Namespace) -> int:
    from sending_domain.core.config import parse_settings, ses_region_reason
    from sending_domain.core.starter import render_stack
    from sending_domain.desired import lock_path, run_sync
    from sending_domain.dns.resolver import AsyncResolver
    from sending_domain.spf_lock import update_command, update_lock_file, write_atomically

    domains = list(dict.fromkeys(domain_argument(d) for d in args.domains))
    selectors = list(dict.fromkeys(_selector(s) for s in args.dkim_selector))
    if args.ses is not None and (reason := ses_region_reason(args.ses)):
        raise ConfigError(Problem("--ses", reason[0], reason[1]))
    path = _target(args)
    if path.exists() and not args.force:
        raise ConfigError(Problem("", "exists", f"{path} exists; pass --force to overwrite it"))
    resolver = AsyncResolver(args.nameserver)
    starters = run_sync(read_domains(domains, selectors, args.ses, resolver))
    source = "nameserver " + ", ".join(args.nameserver) if args.nameserver else "the system's resolvers"
    text = render_stack(starters, source=source)
    settings = parse_settings(_settings_of(text), source=f"{path} (as init wrote it)")
    lock_file = lock_path(path.parent)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    path.parent.mkdir(parents=True, exist_ok=True)
    # the lock may be shared with other stacks: merged under its file lock, as `spf lock --update` does
    command = update_command(path, path.name.removeprefix("Pulumi.").rsplit(".", 1)[0])
    lock = run_sync(update_lock_file(lock_file, settings, resolver, now, update_command=command)).lock
    write_atomically(path, text)
    if args.json:
        print_json(json_document(path, lock_file, len(lock.entries), starters))
        return 0
    print(f"wrote {path}: {len(domains)} domain(s), adopting what they publish; pinned {len(lock.entries)} SPF trees in {lock_file}")
    for starter in starters:
        for note in (*starter.notes, *starter.dkim_notes):
            print(f"  {starter.domain}: {note}")
    print(f"next: sending-domain plan --live --config {path}")
    return 0


async def read_domains(
    domains: list[str], selectors: list[str], ses: str | None, resolver: AsyncResolver
) -> list[StarterDomain]:
    """The starter of every domain, from one concurrent round of questions (any DNS failure aborts all)."""
    import asyncio

    from sending_domain.core.starter import (
        StarterDomain,
        dkim_note,
        dmarc_from_live,
        new_selector,
        senders_from_spf,
        spf_records,
    )

    from sending_domain.core import dkim

    async def one(domain: str) -> StarterDomain:
        names = [domain, f"_dmarc.{domain}", *(dkim.dkim_record_name(s, domain) for s in selectors)]
        apex, dmarc_answer, *keys = await asyncio.gather(*(resolver.query(n, "TXT") for n in names))
        spf = spf_records(domain, apex.values)
        senders, spf_all, notes = senders_from_spf(domain, spf) if spf else (None, "~all", ())
        policy, dmarc_notes = dmarc_from_live(dmarc_answer.values)
        return StarterDomain(
            domain, senders, spf_all, policy, tuple(notes) + dmarc_notes,
            tuple(dkim_note(s, k.values) for s, k in zip(selectors, keys)),
            ses, new_selector(selectors) if ses else None,
        )

    results = await asyncio.gather(*(one(d) for d in domains), return_exceptions=True)
    problems = [p for r in results if isinstance(r, ConfigError) for p in r.problems]
    for r in results:
        if isinstance(r, BaseException) and not isinstance(r, ConfigError):
            raise r
    if problems:
        raise ConfigError(problems)
    return list(results)


def json_document(path: Path, lock_file: Path, pinned: int, starters: list[StarterDomain]) -> dict:
    return {
        "version": 1,
        "kind": "init",
        "stack_file": str(path),
        "lock_file": str(lock_file),
        "pinned": pinned,
        "domains": [
            {"domain": s.domain, "senders": list(s.senders) if s.senders is not None else None, "spf_all": s.spf_all,
             "dmarc": s.dmarc, "notes": [*s.notes, *s.dkim_notes]}
            for s in starters
        ],
    }


def _selector(text: str) -> str:
    from sending_domain.core import dkim

    selector = text.strip().lower()
    if reason := dkim.validate_selector(selector):
        raise ConfigError(Problem("--dkim-selector", "selector", f"{text!r}: {reason}"))
    return selector


def _target(args: argparse.Namespace) -> Path:
    if args.output:
        return Path(args.output)
    name = args.stack.rsplit("/", 1)[-1]
    if not _STACK_NAME.match(name):
        raise ConfigError(Problem("--stack", "usage", f"{args.stack!r} is not a stack name (letters, digits, _ . -)"))
    return Path.cwd() / "stacks" / f"Pulumi.{name}.yaml"


def _settings_of(text: str) -> object:
    import yaml

    return yaml.safe_load(text)["config"]["sending-domain:settings"]
