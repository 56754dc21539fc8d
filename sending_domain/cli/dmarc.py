"""``sending-domain dmarc``: read aggregate reports into the report database (``ingest``), judge the evidence
for the next DMARC stage of each domain (``status``, which records its verdicts in the reviewed evidence file
with ``--write``), and take the steps judged safe by editing the stack file (``propose``).

Exit codes: ``ingest`` 0 when every report was stored or already known (emails without a report are skipped;
an S3 object refused on an earlier run is known, not refused again), 2 when one was refused (the others are
stored all the same), 3 when S3 or the database is busy or failed for now; ``status`` 0 for PASS or
INSUFFICIENT_EVIDENCE, 1 when a domain's verdict is FAIL, 2 for bad input; ``propose`` 0 (whether or not a step
was proposed), 1 when a step has to be edited by hand, 2 for bad input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sending_domain.cli.common import add_domain_option, add_stack_options, bounded_int, chosen_domains, load_stack_from_args, print_json, stack_lock_path
from sending_domain.core.text import printable

if TYPE_CHECKING:
    from sending_domain.core.dmarc_gate import DomainStatus

STATUSES = ("stored", "duplicate", "refused", "skipped", "known")  # an ingest outcome's, counted in this order


def register(commands: argparse._SubParsersAction) -> None:
    dmarc = commands.add_parser("dmarc", help="DMARC aggregate reports: ingest them, and judge the next stage on them")
    sub = dmarc.add_subparsers(dest="dmarc_command", metavar="SUBCOMMAND", required=True)

    ingest = sub.add_parser("ingest", help="read aggregate reports (.xml, .xml.gz, .zip, .eml, mbox, s3://BUCKET/PREFIX) into the database")
    ingest.add_argument("inputs", nargs="+", metavar="PATH", help="files, folders, or s3://BUCKET/PREFIX")
    ingest.add_argument("--db", metavar="FILE", help="the report database (default: stacks/dmarc-reports.sqlite)")
    ingest.add_argument("--jobs", default=None, metavar="N", help="worker processes (default: one per CPU, at most 8)")
    ingest.add_argument("--rescan", action="store_true",
                        help="download every S3 object again, also those read before and unchanged (same ETag)")
    ingest.add_argument("--json", action="store_true", help="machine-readable output")
    ingest.set_defaults(func=run_ingest)

    status = sub.add_parser("status", help="per domain and sender: volume, alignment, unknown sources, and the verdict for the next stage")
    add_stack_options(status)
    add_domain_option(status, "only this domain (repeatable; default: every domain of the stack)")
    status.add_argument("--db", metavar="FILE", help="the report database (default: dmarc-reports.sqlite next to the stack file)")
    status.add_argument("--days", default=None, metavar="N", help="count the reports of the last N days (default: the gate's window for the next stage)")
    form = status.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="machine-readable output")
    form.add_argument("--markdown", action="store_true", help="a PR or issue comment")
    status.add_argument("--html", metavar="FILE", help="also write one self-contained HTML page with a chart")
    status.add_argument("--write", nargs="?", const="", default=None, metavar="FILE",
                        help="record the verdicts in the reviewed evidence file the program reads "
                             "(default: dmarc-evidence.json next to the stack file)")
    status.set_defaults(func=run_status)

    propose = sub.add_parser("propose", help="set dmarc.p/pct to the next stage for each domain with a PASS judged at its stage")
    add_stack_options(propose)
    add_domain_option(propose, "only this domain (repeatable; default: every domain of the stack)")
    propose.add_argument("--evidence", metavar="FILE", help="the evidence file (default: dmarc-evidence.json next to the stack file)")
    propose.add_argument("--json", action="store_true", help="machine-readable output")
    propose.set_defaults(func=run_propose)


# --- ingest ---------------------------------------------------------------------------------------------------


def run_ingest(args: argparse.Namespace) -> int:
    from sending_domain.dmarc_ingest import default_jobs, file_inputs, ingest, s3_inputs
    from sending_domain.dmarc_store import DB_FILE, ReportStore

    jobs = bounded_int(args.jobs, name="--jobs", low=1, high=64) if args.jobs is not None else default_jobs()
    db = Path(args.db) if args.db else Path("stacks") / DB_FILE
    s3 = [i for i in args.inputs if i.startswith("s3://")]
    files = [i for i in args.inputs if not i.startswith("s3://")]

    def inputs(store: ReportStore):  # type: ignore[no-untyped-def]
        yield from file_inputs(files)
        if s3:
            import boto3

            client = boto3.client("s3")
            for url in s3:
                yield from s3_inputs(url, client, read_before=None if args.rescan else store.read_before)

    show = None if args.json else _print_outcome
    with ReportStore(db) as store:
        outcomes = ingest(inputs(store), store, jobs=jobs, on_outcome=show)
    counts = {s: sum(1 for o in outcomes if o.status == s) for s in STATUSES}
    if args.json:
        print_json({"version": 1, "kind": "dmarc-ingest", "db": str(db), "counts": counts,
                    "outcomes": [o.as_json() for o in outcomes]})
    else:
        print(_summary(outcomes, counts, db))
    return 2 if counts["refused"] else 0


def _summary(outcomes: list, counts: dict[str, int], db: Path) -> str:
    """One line: the counts of this run, and the S3 objects not downloaded as read before (a line each would grow
    with the bucket every day)."""
    rows = sum(o.rows for o in outcomes if o.status == "stored")
    line = (f"{counts['stored']} stored ({rows} rows), {counts['duplicate']} already known, "
            f"{counts['refused']} refused, {counts['skipped']} not reports")
    if counts["known"]:
        refused = sum(1 for o in outcomes if o.status == "known" and o.reason)
        line += (f", {counts['known']} S3 objects read before and unchanged, not downloaded"
                 f" ({refused} of them refused then; --rescan reads them again)")
    return f"{line}; database {db}"


def _print_outcome(outcome: object) -> None:
    from sending_domain.dmarc_ingest import Outcome

    assert isinstance(outcome, Outcome)
    if outcome.status == "known":  # counted in the summary line
        return
    if outcome.status in ("refused", "skipped"):
        print(f"{outcome.status:<10} {outcome.name}: {outcome.reason}")
    else:
        about = f"{printable(outcome.reporter)} {printable(outcome.report_id)}, {printable(outcome.domain)}, {outcome.rows} rows"
        print(f"{outcome.status:<10} {outcome.name}: {about}")
    for warning in outcome.warnings:
        print(f"  warning: {printable(warning)}")
    sys.stdout.flush()


# --- status ---------------------------------------------------------------------------------------------------


def run_status(args: argparse.Namespace) -> int:
    from sending_domain.core.dmarc_gate import domain_status
    from sending_domain.core.dmarc_render import render_html, render_json, render_markdown, render_text
    from sending_domain.desired import evidence_path, read_lock
    from sending_domain.dmarc_store import DB_FILE, ReportStore

    loaded = load_stack_from_args(args)
    domains = chosen_domains(loaded.settings, args.domain)
    days = bounded_int(args.days, name="--days", low=1, high=3660) if args.days is not None else None
    lock = read_lock(stack_lock_path(loaded))
    db = Path(args.db) if args.db else loaded.path.parent / DB_FILE
    now = int(dt.datetime.now(dt.timezone.utc).timestamp())
    with ReportStore(db, create=False) as store:
        statuses = [domain_status(loaded.settings.domain(d), lock, store.reports(d), store.tallies, now=now, days=days)
                    for d in domains]
    if args.html:
        _write(Path(args.html), render_html(loaded.stack_name, statuses))
    if args.write is not None:
        _record(Path(args.write) if args.write else evidence_path(loaded.path.parent), loaded.stack_name, statuses)
    render = render_json if args.json else render_markdown if args.markdown else render_text
    text = render(loaded.stack_name, statuses)
    print(text, end="" if text.endswith("\n") else "\n")
    return 1 if any(s.verdict.status == "FAIL" for s in statuses) else 0


def _write(path: Path, text: str) -> None:
    from sending_domain.spf_lock import write_atomically

    write_atomically(path, text)


def _record(path: Path, stack: str, statuses: Sequence[DomainStatus]) -> None:
    """Each judged domain's verdict replaces its entry in the evidence file (the others are kept)."""
    from sending_domain.core.dmarc_render import evidence_entry
    from sending_domain.core.evidence_file import render_evidence, with_entries
    from sending_domain.desired import read_evidence
    from sending_domain.spf_lock import exclusive

    with exclusive(path, holder="dmarc status --write"):
        doc = with_entries(read_evidence(path), stack, {s.domain: evidence_entry(s) for s in statuses})
        _write(path, render_evidence(doc))
    print(f"recorded {len(statuses)} verdict(s) in {path}", file=sys.stderr)


# --- propose --------------------------------------------------------------------------------------------------


def run_propose(args: argparse.Namespace) -> int:
    from sending_domain.core.evidence_file import judgements
    from sending_domain.desired import evidence_path, read_evidence
    from sending_domain.dmarc_propose import propose, steps_to_take

    loaded = load_stack_from_args(args)
    domains = chosen_domains(loaded.settings, args.domain)
    path = Path(args.evidence) if args.evidence else evidence_path(loaded.path.parent)
    judged = judgements(read_evidence(path), loaded.stack_name)
    proposals = propose(loaded, steps_to_take(loaded.settings, judged, domains))
    if args.json:
        print_json({"version": 1, "kind": "dmarc-propose", "stack": loaded.stack_name, "stack_file": str(loaded.path),
                    "evidence": str(path), "proposals": [p.as_json() for p in proposals]})
    elif not proposals:
        print(f"no domain has a PASS judged at its stage in {path}: nothing to propose")
    else:
        shown = os.path.relpath(loaded.path)
        for p in proposals:
            done = f"set in {shown}" if p.status == "proposed" else f"edit by hand: {p.note}"
            print(f"{p.domain}: {p.stage} → {p.next_stage}: {done}")
    return 1 if any(p.status == "manual" for p in proposals) else 0
