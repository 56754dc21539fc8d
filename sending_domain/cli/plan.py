"""``sending-domain plan``: the records the Pulumi program will publish, computed offline by the same code."""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sending_domain.cli.common import (
    add_domain_option,
    add_nameserver_option,
    add_stack_options,
    desired_offline,
    print_json,
)
from sending_domain.cli import term
from sending_domain.core.text import printable

if TYPE_CHECKING:  # types only: the renderer is imported when the command runs, so --help stays fast
    from sending_domain.core.adopt import Adoption
    from sending_domain.core.render import DesiredDomain, DesiredRecord, PendingDkim
    from sending_domain.core.settings import StackSettings


def register(commands: argparse._SubParsersAction) -> None:
    plan = commands.add_parser("plan", help="print the records a stack publishes (offline: SPF from the lock)")
    add_stack_options(plan)
    plan.add_argument("--format", choices=("table", "json", "zone"), default="table", help="output format (default table)")
    plan.add_argument("--json", dest="format", action="store_const", const="json", help="the same as --format json")
    add_domain_option(plan, "plan only this domain (repeatable)")
    plan.add_argument("--quiet", action="store_true", help="no warnings on stderr (they stay in the output)")
    plan.add_argument("--outputs", metavar="FILE", help="`pulumi stack output --json` file: shows the deployed DKIM public keys")
    plan.add_argument(
        "--live", action="store_true",
        help="also read what is live at every name the stack publishes (DNS) and say, per record, whether the "
             "deploy creates, adopts, updates or deletes it, or is blocked by it (exit 1 when blocked)",
    )
    add_nameserver_option(plan)
    plan.set_defaults(func=run_plan)


def run_plan(args: argparse.Namespace) -> int:
    loaded, _, desired = desired_offline(args)
    adoptions = live_adoptions_from_args(args, loaded.settings, desired) if args.live else None
    if args.format == "table":
        output = render_table(desired, loaded.stack_name, adoptions, columns=term.width())
    else:
        render = {"json": render_json, "zone": render_zone}[args.format]
        output = render(desired, loaded.stack_name, adoptions) if adoptions is not None else render(desired, loaded.stack_name)
    if args.format == "zone" and not args.quiet:
        for warning in zone_warnings(desired):
            print(f"warning: {printable(warning)}", file=sys.stderr)
    if output is not None:
        print(output)
    return 1 if adoptions and any(a.blockers for a in adoptions) else 0


def live_adoptions_from_args(
    args: argparse.Namespace, stack: StackSettings, desired: Sequence[DesiredDomain]
) -> list[Adoption]:
    from sending_domain.desired import run_sync
    from sending_domain.dns.resolver import AsyncResolver
    from sending_domain.live import live_adoptions

    return run_sync(live_adoptions(stack, desired, AsyncResolver(args.nameserver)))


def adoption_lines(adoption: Adoption) -> list[str]:
    """One line per live record or desired record: what the deploy does with it, and why."""
    lines = []
    for step in sorted(adoption.steps, key=lambda s: (s.name, s.type, s.action)):
        live = f" {_elide(step.live.text)!r}" if step.live is not None else ""
        lines.append(f"live: {step.action:<9} {step.name} {step.type}{live}: {printable(step.reason)}")
    return lines


def _elide(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pending_value(p: PendingDkim) -> str:
    return f"(generated at deploy: {p.algorithm} key, {p.state})"


def render_table(
    desired: Sequence[DesiredDomain], stack: str, adoptions: Sequence[Adoption] | None = None, *, columns: int | None = None
) -> str:
    """The records per domain; with ``columns``, every line fits: long values elided, warnings wrapped."""
    lines = [f"# stack {stack}"]
    live = {a.domain: a for a in adoptions or ()}
    for d in desired:
        lines += ["", f"## {d.domain}  (SPF: {d.spf.lookups} DNS lookup(s) after flattening, {d.spf.original_lookups} before)"]
        rows = [(r.record.name, r.record.type, str(r.record.ttl), _display(r)) for r in d.records]
        rows += [(p.name, "TXT", "", _pending_value(p)) for p in d.pending]
        width = [max(len(row[i]) for row in rows + [("NAME", "TYPE", "TTL", "")]) for i in range(3)]
        lines.append(f"{'NAME':<{width[0]}}  {'TYPE':<{width[1]}}  {'TTL':>{width[2]}}  VALUE")
        room = max(20, columns - (width[0] + width[1] + width[2] + 6)) if columns else None
        for n, t, ttl, v in rows:
            line = f"{n:<{width[0]}}  {t:<{width[1]}}  {ttl:>{width[2]}}  {term.elide(v, room) if room else v}"
            lines.append(line)
        for w in d.warnings:
            lines += textwrap.wrap(f"warning: {w}", columns, subsequent_indent="  ") if columns else [f"warning: {w}"]
        if d.domain in live:
            lines += adoption_lines(live[d.domain])
    return "\n".join(term.elide(line, columns) for line in lines) if columns else "\n".join(lines)


def _display(r: DesiredRecord) -> str:
    rec = r.record
    return f"{rec.priority} {rec.data[0]}" if rec.type == "MX" else rec.content


JSON_VERSION = 1


def render_json(desired: Sequence[DesiredDomain], stack: str, adoptions: Sequence[Adoption] | None = None) -> None:
    live = {a.domain: a for a in adoptions or ()}
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
                **({"live": [s.as_json() for s in live[d.domain].steps]} if d.domain in live else {}),
            }
            for d in desired
        ],
    })
    return None


def zone_warnings(desired: Sequence[DesiredDomain]) -> list[str]:
    """Every warning, named by its domain: comments in the zone output, and lines on stderr."""
    return [f"{d.domain}: {w}" for d in desired for w in d.warnings]


def render_zone(desired: Sequence[DesiredDomain], stack: str, adoptions: Sequence[Adoption] | None = None) -> str:
    """RFC 1035 master-file lines, absolute names, one section per Cloudflare zone."""
    by_zone: dict[str, list[str]] = {}
    for d in desired:
        for r in d.records:
            by_zone.setdefault(r.zone.name or d.domain, []).append(r.record.zone_line())
        for p in d.pending:
            by_zone.setdefault(p.zone.name or d.domain, []).append(f"; {p.name}. TXT {_pending_value(p)}")
    lines = [f"; stack {stack}: records managed by sending-domain"]
    lines += [f"; warning: {printable(w)}" for w in zone_warnings(desired)]
    lines += [f"; {a.domain} {line}" for a in adoptions or () for line in adoption_lines(a)]
    for zone in sorted(by_zone):
        lines += ["", f"; zone {zone}", *sorted(by_zone[zone], key=lambda line: line.lstrip("; "))]
    return "\n".join(lines)
