"""DMARC report benchmark: one million report rows ingested, then judged.

Not a test: it writes a report set, times ``dmarc ingest``'s code path (parse in worker processes, store in
SQLite) and ``dmarc status``'s (choose the reports, sum the rows in SQL, classify, judge), prints the figures and
PASS or MISS against the issue's targets (ingest under 60 s on two cores, each query under 2 s). Exit code 0 when
both pass.

``--s3 N`` measures something else: ``dmarc ingest s3://`` run twice over a bucket of N small gzip reports in
moto's in-process S3, the second run listing the bucket and downloading nothing (GetObject calls counted through
botocore's event hook). Exit code 0 when the second run made no GetObject call.

The set: example.com of the example stack, 30 days × 4 reporters in their styles (zip in an email, gzip,
RFC 9990 XML, double gzip), each report ``rows / (30 × 4)`` records. Sources are drawn from a pool of addresses
(SES and Google networks from the SPF lock, the office relay, the partner, forwarders and spoofers), as a real
domain's reports name a few thousand distinct sources, not a million.

Run from the repository root::

    .venv/bin/python -m benchmarks.dmarc_bench [--rows 1000000] [--jobs 2] [--json] [--keep DIR]
    .venv/bin/python -m benchmarks.dmarc_bench --s3 20000 [--jobs 2] [--json]
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
from sending_domain.dmarc_ingest import file_inputs, ingest, s3_inputs  # noqa: E402
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


def run_s3(objects: int, jobs: int, records: int = 20) -> dict:
    """Two ingests of an S3 prefix of ``objects`` gzip reports (``records`` rows each) in moto's S3: the first
    downloads every object, the second only lists them."""
    import boto3
    from moto import mock_aws

    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "testing")
    work = Path(tempfile.mkdtemp(prefix="dmarc-s3-bench-"))
    try:
        with mock_aws():
            s3 = boto3.client("s3")
            s3.create_bucket(Bucket="reports", CreateBucketConfiguration={"LocationConstraint": os.environ["AWS_DEFAULT_REGION"]})
            started = time.perf_counter()
            _put_reports(s3, objects, records)
            put_s = time.perf_counter() - started
            started = time.perf_counter()
            for _ in s3.get_paginator("list_objects_v2").paginate(Bucket="reports", Prefix="inbound/"):
                pass
            list_s = time.perf_counter() - started
            gets: list[str] = []
            s3.meta.events.register("provide-client-params.s3.GetObject", lambda params, **_: gets.append(params["Key"]))
            runs = []
            with ReportStore(work / "reports.sqlite") as store:
                for _ in range(2):
                    gets.clear()
                    started = time.perf_counter()
                    outcomes = ingest(s3_inputs("s3://reports/inbound/", s3, store.read_before), store, jobs=jobs)
                    runs.append({"seconds": round(time.perf_counter() - started, 2), "get_object_calls": len(gets),
                                 "stored": sum(o.status == "stored" for o in outcomes),
                                 "known": sum(o.status == "known" for o in outcomes)})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"objects": objects, "records_per_object": records, "jobs": jobs, "put_s": round(put_s, 2), "list_s": round(list_s, 2),
            "first": runs[0], "second": runs[1],
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def _put_reports(s3: object, objects: int, records: int, seed: int = 3) -> None:
    """``objects`` small Yahoo-style gzip reports under ``inbound/``, one a day in turn over the benchmark's days."""
    settings = load_stack(config_file=ROOT / "stacks" / "Pulumi.example.yaml").settings.domain("example.com")
    lock = read_lock(ROOT / "stacks" / "spf.lock.json")
    assert lock is not None
    rng = random.Random(seed)
    streams = list(example_streams(settings, lock, seed=seed).values())
    reporter = next(r for r in REPORTERS if r.style == "gzip")
    for n in range(objects):
        rows = [(f"192.0.2.{rng.randrange(1, 255)}", rng.randint(1, 40), s.dkim_aligned, s.spf_aligned, "example.com",
                 s.envelope_from, s.dkim, s.reasons, s.spf_result) for s in rng.choices(streams, k=records)]
        day = FIRST_DAY + n % DAYS
        xml = report_xml("example.com", reporter, f"s3-{n}", day * 86400, day * 86400 + 86399, ("none", 100), rows)
        s3.put_object(Bucket="reports", Key=f"inbound/{n:08d}", Body=gzip.compress(xml))  # type: ignore[attr-defined]


def main_s3(objects: int, jobs: int, as_json: bool) -> int:
    result = run_s3(objects, jobs)
    first, second = result["first"], result["second"]
    ok = second["get_object_calls"] == 0 and second["known"] == objects
    if as_json:
        print(json.dumps({**result, "pass": ok}, indent=2))
    else:
        print(f"{objects} objects of {result['records_per_object']} rows in moto's S3, {jobs} jobs, {result['machine']}, {result['date']}")
        for name, r in (("first", first), ("second", second)):
            print(f"{name} run: {r['seconds']} s, {r['get_object_calls']} GetObject calls, {r['stored']} stored, {r['known']} known")
        print(f"listing the prefix alone: {result['list_s']} s; second run / first: "
              f"{second['seconds'] / max(first['seconds'], 1e-9):.1%} — {'PASS' if ok else 'MISS'} (target: no GetObject call)")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", metavar="DIR", help="write the reports and the database here and keep them")
    parser.add_argument("--s3", type=int, metavar="N", help="instead: ingest N S3 objects (moto) twice, the second run incremental")
    args = parser.parse_args(argv)
    if args.s3:
        return main_s3(args.s3, args.jobs, args.json)
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
