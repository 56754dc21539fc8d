"""``sending-domain spf``: flatten a domain's SPF record; pin and check the vendor trees of a stack."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from sending_domain.cli.common import (
    add_nameserver_option,
    add_stack_options,
    bounded_int,
    domain_argument,
    load_stack_from_args,
    print_json,
    stack_lock_path,
)
from sending_domain.core.errors import CheckFailed
from sending_domain.core.text import printable

if TYPE_CHECKING:  # imported where they are used, so `spf --help` and argument errors stay fast
    from pathlib import Path

    from sending_domain.core.settings import StackSettings
    from sending_domain.core.spf.flatten import Flattened
    from sending_domain.dns.resolver import AsyncResolver

MAX_LOOKUPS = 10  # RFC 7208 §4.6.4; the flattener's own bound (core/spf/flatten.py), checked by a test
MAX_BYTES = 450  # the flattener's default bytes per name (core/spf/flatten.py), checked by a test


def register(commands: argparse._SubParsersAction) -> None:
    spf = commands.add_parser("spf", help="SPF flattening and the vendor lock")
    sub = spf.add_subparsers(dest="spf_command", metavar="SUBCOMMAND", required=True)

    flat = sub.add_parser("flatten", help="print the flattened SPF record set of a domain")
    flat.add_argument("domain", metavar="DOMAIN")
    flat.add_argument("--record", metavar="TEXT", help="flatten this record text instead of DOMAIN's live record")
    add_nameserver_option(flat)
    flat.add_argument("--max-lookups", default=MAX_LOOKUPS, metavar="N", help=f"lookup budget, 1..{MAX_LOOKUPS} (default {MAX_LOOKUPS})")
    flat.add_argument("--max-bytes", default=MAX_BYTES, metavar="N", help=f"bytes of TXT per name, 100..4000 (default {MAX_BYTES})")
    flat.add_argument("--json", action="store_true", help="machine-readable output")
    flat.set_defaults(func=run_flatten)

    lock = sub.add_parser("lock", help="pin the vendor SPF trees of a stack (--update) or compare them with live DNS (--check)")
    add_stack_options(lock)
    mode = lock.add_mutually_exclusive_group(required=True)
    mode.add_argument("--update", action="store_true", help="resolve every tree and rewrite spf.lock.json next to the stack file")
    mode.add_argument("--check", action="store_true", help="exit 1 when a vendor's live tree differs from the lock")
    add_nameserver_option(lock)
    lock.add_argument("--json", action="store_true", help="machine-readable output")
    lock.add_argument("--quiet", action="store_true", help="no progress line on a terminal's stderr")
    lock.set_defaults(func=run_lock)


def run_flatten(args: argparse.Namespace) -> int:
    import asyncio

    from sending_domain.core.spf.flatten import FlattenOptions
    from sending_domain.dns.resolver import AsyncResolver
    from sending_domain.dns.spf_fetch import flatten_live

    domain = domain_argument(args.domain)
    options = FlattenOptions(
        max_lookups=bounded_int(args.max_lookups, name="--max-lookups", low=1, high=MAX_LOOKUPS),
        max_bytes=bounded_int(args.max_bytes, name="--max-bytes", low=100, high=4000),
        refuse_wide=False,  # nothing is published: a set wider than the floor is shown, with a warning
    )
    resolver = AsyncResolver(args.nameserver)
    result = asyncio.run(flatten_live(domain, resolver, args.record, options))
    if args.json:
        print_json({**result.as_json(), "queries": resolver.queries_sent})
    else:
        print(render_text(result, resolver.queries_sent))
    return 0


def render_text(result: Flattened, queries: int) -> str:
    lines = [r.zone_line() for r in result.records]
    lines.append(
        f"; {result.lookups} of at most {MAX_LOOKUPS} lookups (the original tree needs {result.original_lookups}); "
        f"{queries} DNS queries"
    )
    lines += [f"; warning: {printable(w)}" for w in result.warnings]
    return "\n".join(lines)


def run_lock(args: argparse.Namespace) -> int:
    import asyncio

    from sending_domain.desired import read_lock
    from sending_domain.dns.resolver import AsyncResolver
    from sending_domain.spf_lock import check_lock, update_command

    loaded = load_stack_from_args(args)
    path = stack_lock_path(loaded)
    command = update_command(loaded.path, loaded.stack_name)
    resolver = AsyncResolver(args.nameserver)
    if args.update:
        return _update(args, loaded.settings, path, resolver, command)
    previous = read_lock(path, update_command=command)
    if previous is None:
        raise CheckFailed(f"there is no SPF lock at {path}; create it with `{command}`")
    changes = asyncio.run(check_lock(loaded.settings, previous, resolver))
    if args.json:
        print_json({"lock": str(path), "changes": [c.as_json() for c in changes]})
    elif changes:
        print(f"vendor SPF trees changed since {path} was written; run `{command}` and review the diff:")
        for change in changes:
            print(f"  - {printable(str(change))}")
    else:
        print(f"the lock {path} matches live DNS ({len(previous.entries)} trees)")
    return 1 if changes else 0


def _update(args: argparse.Namespace, settings: StackSettings, path: Path, resolver: AsyncResolver, command: str) -> int:
    import asyncio
    import datetime as dt

    from sending_domain.cli import term
    from sending_domain.spf_lock import stack_terms, update_lock_file

    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    progress = term.progress_for(sys.stderr, "resolving SPF trees", items=len(stack_terms(settings)),
                                 quiet=args.quiet or args.json, at_least=10)
    try:
        done = asyncio.run(update_lock_file(path, settings, resolver, now, update_command=command, on_progress=progress))
    finally:
        if progress is not None:
            progress.clear()
    if done.rebuilt:
        problems = "; ".join(printable(str(p)) for p in done.rebuilt)
        print(f"sending-domain: warning: the SPF lock {path} could not be read whole ({problems}); rebuilt it from "
              "live DNS, keeping the entries that were still valid: stacks that share it may need `--update` too",
              file=sys.stderr)
    if args.json:
        print_json({"lock": str(path), "terms": sorted(done.lock.entries), "changed": list(done.changed),
                    "rebuilt": [str(p) for p in done.rebuilt]})
    else:
        print(f"pinned {len(done.lock.entries)} SPF trees in {path}; changed: {', '.join(done.changed) or 'none'}")
    return 0
