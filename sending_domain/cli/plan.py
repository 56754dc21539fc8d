"""``sending-domain plan``: the records the Pulumi program will publish, computed offline by the same code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sending_domain.cli.common import add_domain_option, add_stack_options, desired_offline, print_json
from sending_domain.core.render import DesiredDomain, DesiredRecord, PendingDkim
from sending_domain.core.text import printable


def register(commands: argparse._SubParsersAction) -> None:
    plan = commands.add_parser("plan", help="print the records a stack publishes (offline: SPF from the lock)")
    add_stack_options(plan)
    plan.add_argument("--format", choices=("table", "json", "zone"), default="table", help="output format (default table)")
    plan.add_argument("--json", dest="format", action="store_const", const="json", help="the same as --format json")
    add_domain_option(plan, "plan only this domain (repeatable)")
    plan.add_argument("--outputs", metavar="FILE", help="`pulumi stack output --json` file: shows the deployed DKIM public keys")
    plan.set_defaults(func=run_plan)


def run_plan(args: argparse.Namespace) -> int:
    loaded, _, desired = desired_offline(args)
    render = {"table": render_table, "json": render_json, "zone": render_zone}[args.format]
    output = render(desired, loaded.stack_name)
    if args.format == "zone":
        for warning in zone_warnings(desired):
            print(f"warning: {printable(warning)}", file=sys.stderr)
    if output is not None:
        print(output)
    return 0


def _pending_value(p: PendingDkim) -> str:
    return f"(generated at deploy: {p.algorithm} key, {p.state})"


def render_table(desired: Sequence[DesiredDomain], stack: str) -> str:
    lines = [f"# stack {stack}"]
    for d in desired:
        lines += ["", f"## {d.domain}  (SPF: {d.spf.lookups} DNS lookup(s) after flattening, {d.spf.original_lookups} before)"]
        rows = [(r.record.name, r.record.type, str(r.record.ttl), _display(r)) for r in d.records]
        rows += [(p.name, "TXT", "", _pending_value(p)) for p in d.pending]
        width = [max(len(row[i]) for row in rows + [("NAME", "TYPE", "TTL", "")]) for i in range(3)]
        lines.append(f"{'NAME':<{width[0]}}  {'TYPE':<{width[1]}}  {'TTL':>{width[2]}}  VALUE")
        lines += [f"{n:<{width[0]}}  {t:<{width[1]}}  {ttl:>{width[2]}}  {v}" for n, t, ttl, v in rows]
        lines += [f"warning: {w}" for w in d.warnings]
    return "\n".join(lines)


def _display(r: DesiredRecord) -> str:
    rec = r.record
    return f"{rec.priority} {rec.data[0]}" if rec.type == "MX" else rec.content


JSON_VERSION = 1


def render_json(desired: Sequence[DesiredDomain], stack: str) -> None:
    print_json({
        "version": JSON_VERSION,
        "kind": "plan",
        "stack": stack,
        "domains": [
            {
                "domain": d.domain,
                "records": [{"key": r.key, "zone": r.zone.name, "zone_id": r.zone.id, "purpose": r.purpose, **r.record.as_dict()}
                            for r in d.records],
                "pending": [{"key": p.key, "zone": p.zone.name, "zone_id": p.zone.id, "name": p.name, "type": "TXT", "selector": p.selector,
                             "algorithm": p.algorithm, "state": p.state, "value": None} for p in d.pending],
                "spf": {"lookups": d.spf.lookups, "original_lookups": d.spf.original_lookups},
                "dmarc": d.dmarc_value,
                "warnings": list(d.warnings),
            }
            for d in desired
        ],
    })
    return None


def zone_warnings(desired: Sequence[DesiredDomain]) -> list[str]:
    """Every warning, named by its domain: comments in the zone output, and lines on stderr."""
    return [f"{d.domain}: {w}" for d in desired for w in d.warnings]


def render_zone(desired: Sequence[DesiredDomain], stack: str) -> str:
    """RFC 1035 master-file lines, absolute names, one section per Cloudflare zone."""
    by_zone: dict[str, list[str]] = {}
    for d in desired:
        for r in d.records:
            by_zone.setdefault(r.zone.name or d.domain, []).append(r.record.zone_line())
        for p in d.pending:
            by_zone.setdefault(p.zone.name or d.domain, []).append(f"; {p.name}. TXT {_pending_value(p)}")
    lines = [f"; stack {stack}: records managed by sending-domain"]
    lines += [f"; warning: {printable(w)}" for w in zone_warnings(desired)]
    for zone in sorted(by_zone):
        lines += ["", f"; zone {zone}", *sorted(by_zone[zone], key=lambda line: line.lstrip("; "))]
    return "\n".join(lines)
