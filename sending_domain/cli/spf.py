"""``sending-domain spf``: flatten a domain's SPF record; pin and check vendor trees."""

from __future__ import annotations

import argparse
import asyncio

from sending_domain.cli.common import add_nameserver_option, bounded_int, domain_argument, print_json
from sending_domain.core.spf.flatten import MAX_BYTES, MAX_LOOKUPS, FlattenOptions, Flattened
from sending_domain.dns.resolver import AsyncResolver
from sending_domain.dns.spf_fetch import flatten_live


def register(commands: argparse._SubParsersAction) -> None:
    spf = commands.add_parser("spf", help="SPF flattening and the vendor lock")
    sub = spf.add_subparsers(dest="spf_command", metavar="SUBCOMMAND", required=True)
    flat = sub.add_parser("flatten", help="print the flattened SPF record set of a domain")
    flat.add_argument("domain", metavar="DOMAIN")
    flat.add_argument("--record", metavar="TEXT", help="flatten this record text instead of DOMAIN's live record")
    add_nameserver_option(flat)
    flat.add_argument("--max-lookups", default=MAX_LOOKUPS, metavar="N", help=f"lookup budget, 1..{MAX_LOOKUPS} (default {MAX_LOOKUPS})")
    flat.add_argument("--max-bytes", default=MAX_BYTES, metavar="N", help=f"bytes of TXT per name (default {MAX_BYTES})")
    flat.add_argument("--json", action="store_true", help="machine-readable output")
    flat.set_defaults(func=run_flatten)


def run_flatten(args: argparse.Namespace) -> int:
    domain = domain_argument(args.domain)
    options = FlattenOptions(
        max_lookups=bounded_int(args.max_lookups, name="--max-lookups", low=1, high=MAX_LOOKUPS),
        max_bytes=bounded_int(args.max_bytes, name="--max-bytes", low=100, high=4000),
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
    lines += [f"; warning: {w}" for w in result.warnings]
    return "\n".join(lines)
