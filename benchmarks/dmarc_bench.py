"""DMARC report benchmark: one million report rows ingested, then judged.

Not a test: it writes a report set, times ``dmarc ingest``'s code path (parse in worker processes, store in
SQLite) and ``dmarc status``'s (choose the reports, sum the rows in SQL, classify, judge), prints the figures and
PASS or MISS against the issue's targets (ingest under 60 s on two cores, each query under 2 s). Exit code 0 when
both pass.

The set: example.com of the example stack, 30 days × 4 reporters in their styles (zip in an email, gzip,
RFC 9990 XML, double gzip), each report ``rows / (30 × 4)`` records. Sources are drawn from a pool of addresses
(SES and Google networks from the SPF lock, the office relay, the partner, forwarders and spoofers), as a real
domain's reports name a few thousand distinct sources, not a million.

Run from the repository root::

    .venv/bin/python -m benchmarks.dmarc_bench [--rows 1000000] [--jobs 2] [--json] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make `tests` and `sending_domain` importable
    sys.path.insert(0, str(ROOT))

from sending_domain.core.dmarc_gate import domain_status  # noqa: E402
from sending_domain.desired import read_lock  # noqa: E402
from sending_domain.dmarc_ingest import file_inputs, ingest  # noqa: E402
from sending_domain.dmarc_store import ReportStore  # noqa: E402
from sending_domain.stack import load_stack  # noqa: E402
from tests.dmarc_reports import REPORTERS, _deliver, example_streams, report_xml  # noqa: E402

DAYS = 30
FIRST_DAY = 20_400
INGEST_TARGET = 60.0
QUERY_TARGET = 2.0


def write_set(folder: Path, rows: int, seed: int = 3) -> int:
    settings = load_stack(config_file=ROOT / "stacks" / "Pulumi.example.yaml").settings.domain("example.com")
    lock = read_lock(ROOT / "stacks" / "spf.lock.json")
    assert lock is not None
    rng = random.Random(seed)
    streams = list(example_streams(settings, lock, seed=seed).values())
    weights = [s.per_day for s in streams]
    pools = {s.name: _pool(s.ips, rng) for s in streams}
    per_report = rows // (DAYS * len(REPORTERS))
    written = 0
    folder.mkdir(parents=True, exist_ok=True)
    for day in range(FIRST_DAY, FIRST_DAY + DAYS):
        for reporter in REPORTERS:
            picked = rng.choices(streams, weights, k=per_report)
            records = [(rng.choice(pools[s.name]), rng.randint(1, 40), s.dkim_aligned, s.spf_aligned, "example.com",
                        s.envelope_from, s.dkim, s.reasons, s.spf_result) for s in picked]
            xml = report_xml("example.com", reporter, f"{reporter.org or 'anon'}-{day}", day * 86400,
                             day * 86400 + 86399, ("none", 100), records)
            _deliver(folder, reporter, f"{reporter.org or 'anon'}-{day}", xml)
            written += len(records)
    return written


def _pool(ips: tuple[str, ...], rng: random.Random, size: int = 500) -> list[str]:
    """About ``size`` addresses near the stream's own: the same networks, other hosts."""
    out = set(ips)
    for ip in ips:
        if ":" in ip:
            continue
        a, b, c, _ = ip.split(".")
        out.update(f"{a}.{b}.{c}.{rng.randrange(1, 255)}" for _ in range(size // max(1, len(ips))))
    return sorted(out)


def run(rows: int, jobs: int, keep: Path | None) -> dict:
    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="dmarc-bench-"))
    try:
        started = time.perf_counter()
        written = write_set(work / "reports", rows)
        generate = time.perf_counter() - started
        size = sum(p.stat().st_size for p in (work / "reports").iterdir())
        db = work / "reports.sqlite"
        if db.exists():
            db.unlink()
        started = time.perf_counter()
        with ReportStore(db) as store:
            outcomes = ingest(file_inputs([str(work / "reports")]), store, jobs=jobs)
        ingest_s = time.perf_counter() - started
        stored = sum(o.rows for o in outcomes if o.status == "stored")
        settings = load_stack(config_file=ROOT / "stacks" / "Pulumi.example.yaml").settings.domain("example.com")
        lock = read_lock(ROOT / "stacks" / "spf.lock.json")
        now = (FIRST_DAY + DAYS) * 86400 + 3600
        queries = {}
        with ReportStore(db, create=False) as store:
            for days in (14, 30):
                started = time.perf_counter()
                status = domain_status(settings, lock, store.reports("example.com"), store.tallies, now=now, days=days)
                queries[f"status_{days}d"] = (time.perf_counter() - started, status.verdict.status, status.figures.messages,
                                              len(status.selection.ids))
        return {
            "rows": written, "stored_rows": stored, "reports": len(outcomes), "input_bytes": size,
            "db_bytes": db.stat().st_size, "jobs": jobs, "generate_s": round(generate, 2), "ingest_s": round(ingest_s, 2),
            "ingest_rows_per_s": round(stored / ingest_s),
            "queries": {k: {"seconds": round(v[0], 3), "verdict": v[1], "messages": v[2], "reports": v[3]} for k, v in queries.items()},
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        }
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", metavar="DIR", help="write the reports and the database here and keep them")
    args = parser.parse_args(argv)
    result = run(args.rows, args.jobs, Path(args.keep) if args.keep else None)
    ok_ingest = result["ingest_s"] < INGEST_TARGET
    ok_query = all(q["seconds"] < QUERY_TARGET for q in result["queries"].values())
    if args.json:
        print(json.dumps({**result, "pass": ok_ingest and ok_query}, indent=2))
    else:
        print(f"{result['rows']} rows in {result['reports']} reports ({result['input_bytes'] / 2**20:.1f} MiB as delivered), "
              f"{result['machine']}, {result['date']}")
        print(f"ingest, {args.jobs} jobs: {result['ingest_s']} s ({result['ingest_rows_per_s']} rows/s), database "
              f"{result['db_bytes'] / 2**20:.0f} MiB — {'PASS' if ok_ingest else 'MISS'} (target < {INGEST_TARGET:.0f} s)")
        for name, q in result["queries"].items():
            print(f"{name}: {q['seconds']} s over {q['reports']} reports, {q['messages']} messages, verdict {q['verdict']} — "
                  f"{'PASS' if q['seconds'] < QUERY_TARGET else 'MISS'} (target < {QUERY_TARGET:.0f} s)")
    return 0 if ok_ingest and ok_query else 1


if __name__ == "__main__":
    sys.exit(main())
