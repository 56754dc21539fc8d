"""SPF flattening benchmark: our concurrent flattener against pyspf and checkdmarc on one realistic tree.

Not a test: it measures, prints the figures side by side and says PASS or MISS for each target of the
issue (at least 5x faster than both, within 1.5x of the critical-path bound, one query per distinct
(name, type)). The exit code is 0 when every target passes, 1 otherwise.

The tree is ``bench.example.com`` (benchmarks/zones/bench.zone): the vendor stand-ins of
tests/fixtures/zones/vendors.zone plus the deeper ones of benchmarks/zones/nested_vendors.zone, served by
:class:`tests.dnsserver.DnsTestServer` on loopback with a per-answer delay. By default the server runs in
a child process, as a real DNS server would, so its work does not compete for this process's GIL with
the tool being timed; ``--in-process`` runs it on a thread here instead.

Run from the repository root::

    .venv/bin/python -m benchmarks.spf_bench [--delay 0.02] [--repeat 3] [--json] [--in-process]
        [--only vendors|scaling] [--diamond-depth 20]

After the vendor-mix tree it runs the scaling cases (a diamond of shared includes, 2,000 ip4 terms, one
58 KB TXT) and says PASS or MISS for their time targets.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime
import json
import multiprocessing
import multiprocessing.connection
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make `tests` and `sending_domain` importable
    sys.path.insert(0, str(ROOT))

import dns.name  # noqa: E402
import dns.nameserver  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.resolver  # noqa: E402

from tests.dnsserver import DnsTestServer, ZoneData  # noqa: E402

ZONE_FILES = (
    ROOT / "tests/fixtures/zones/vendors.zone",
    ROOT / "benchmarks/zones/nested_vendors.zone",
    ROOT / "benchmarks/zones/bench.zone",
)
DOMAIN = "bench.example.com"
PROBE_IP = "192.0.2.1"  # RFC 5737 TEST-NET-1: no term of the tree matches it, so pyspf walks it all to ~all
PYSPF_MAX_LOOKUP = 1000  # instead of RFC 7208 §4.6.4's 10, so pyspf does not stop at the 11th term
DNS_TIMEOUT = 2.0
SPEEDUP_TARGET = 5.0
BOUND_TARGET = 1.5
MIN_TERMS = 30

Counts = dict[tuple[str, str], int]


# --- the tree's shape, read straight from the zone data (independent of the code under test) --------


@dataclass(frozen=True)
class TreeShape:
    """``depth``: longest chain of dependent queries; ``terms``: DNS-querying terms (RFC 7208 §4.6.4)."""

    depth: int
    terms: int
    questions: frozenset[tuple[str, str]]


def _rdatas(data: ZoneData, name: str, rdtype: str) -> list[Any]:
    _, rrsets = data.lookup(dns.name.from_text(name), dns.rdatatype.from_text(rdtype))
    return [rdata for rrset in rrsets if rrset.rdtype == dns.rdatatype.from_text(rdtype) for rdata in rrset]


def _spf_terms(data: ZoneData, name: str) -> list[str]:
    records = [b"".join(rdata.strings).decode() for rdata in _rdatas(data, name, "TXT")]  # RFC 7208 §3.3
    spf = [r for r in records if r.lower().split(" ", 1)[0] == "v=spf1"]
    if len(spf) != 1:
        raise ValueError(f"{name}: expected one SPF record, found {len(spf)}")
    return spf[0].split()[1:]


def zone_text() -> str:
    """The benchmark's zone files as one text, each starting from ``$ORIGIN .`` (as DnsTestServer.from_files)."""
    return "\n$ORIGIN .\n".join(path.read_text(encoding="utf-8") for path in ZONE_FILES)


def tree_shape(data: ZoneData, domain: str) -> TreeShape:
    """Walk ``domain``'s SPF tree in ``data``; the root TXT is level 1, an a term's A/AAAA one more,
    an mx term's MX one more and its exchanges' A/AAAA one more again (§4.8: bare a/mx mean the
    record's own domain). Macros, ptr, exists and redirect are not in the benchmark mix and are refused."""
    questions: set[tuple[str, str]] = set()

    def record(name: str) -> tuple[int, int]:
        questions.add((name, "TXT"))
        depth, terms = 0, 0
        for term in _spf_terms(data, name):
            if "=" in term.split(":", 1)[0]:  # a modifier (RFC 7208 §6): exp= costs nothing
                if term.lower().startswith("redirect="):
                    raise ValueError(f"{name}: {term} is outside the benchmark mix")
                continue
            kind, _, rest = term.lstrip("+-~?").lower().partition(":")
            kind = kind.split("/", 1)[0]  # a/24, mx/24: the record's own domain
            target = rest.split("/", 1)[0] or name
            if kind in ("ip4", "ip6", "all"):
                continue
            if kind == "include" and "%" not in target:
                sub_depth, sub_terms = record(target)
                depth, terms = max(depth, sub_depth), terms + 1 + sub_terms
            elif kind in ("a", "mx") and "%" not in target:
                depth, terms = max(depth, _address_term(data, kind, target, questions)), terms + 1
            else:  # ptr, exists, macros: their queries depend on the client, not only on the tree
                raise ValueError(f"{name}: {term} is outside the benchmark mix")
        return 1 + depth, terms

    depth, terms = record(domain)
    return TreeShape(depth, terms, frozenset(questions))


def _address_term(data: ZoneData, kind: str, host: str, questions: set[tuple[str, str]]) -> int:
    """Levels below the record for an a or mx term, adding the questions it needs."""
    hosts = [host]
    if kind == "mx":
        questions.add((host, "MX"))
        hosts = sorted({rdata.exchange.to_text().rstrip(".").lower() for rdata in _rdatas(data, host, "MX")})
    questions.update((h, t) for h in hosts for t in ("A", "AAAA"))
    return (2 if hosts else 1) if kind == "mx" else 1


# --- the DNS server: a DnsTestServer here or in a child process ---------------------------------------


class Server(Protocol):
    host: str
    port: int

    @property
    def nameserver(self) -> str: ...

    def reset_counts(self) -> None: ...

    def counts(self) -> Counts: ...


class LocalServer:
    """A :class:`DnsTestServer` on a thread of this process (it shares the GIL with the tool timed)."""

    def __init__(self, delay: float) -> None:
        self._server = DnsTestServer.from_files(*ZONE_FILES, delay=delay).start()
        self.host, self.port, self.nameserver = self._server.host, self._server.port, self._server.nameserver

    def reset_counts(self) -> None:
        self._server.reset_counts()

    def counts(self) -> Counts:
        return dict(self._server.queries)

    def close(self) -> None:
        self._server.stop()


def _serve(conn: multiprocessing.connection.Connection, delay: float) -> None:
    """The child process: run a DnsTestServer and answer "reset"/"counts"/"stop" over the pipe."""
    with DnsTestServer.from_files(*ZONE_FILES, delay=delay) as server:
        conn.send((server.host, server.port))
        while (command := conn.recv()) != "stop":
            if command == "reset":
                server.reset_counts()
                conn.send(None)
            elif command == "counts":
                conn.send(dict(server.queries))


class ChildServer:
    """A :class:`DnsTestServer` in a child process; counts are fetched over a pipe after each run."""

    def __init__(self, delay: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child_conn = context.Pipe()
        self._process = context.Process(target=_serve, args=(child_conn, delay), daemon=True)
        self._process.start()
        self.host, self.port = self._conn.recv()
        self.nameserver = f"{self.host}:{self.port}"

    def reset_counts(self) -> None:
        self._conn.send("reset")
        self._conn.recv()

    def counts(self) -> Counts:
        self._conn.send("counts")
        return self._conn.recv()

    def close(self) -> None:
        self._conn.send("stop")
        self._process.join(timeout=10)


@contextmanager
def dns_server(delay: float, in_process: bool) -> Iterator[LocalServer | ChildServer]:
    server = LocalServer(delay) if in_process else ChildServer(delay)
    try:
        yield server
    finally:
        server.close()


# --- the three tools: each runs once and returns (seconds, what it concluded) -------------------------


def run_ours(server: Server) -> tuple[float, dict[str, Any]]:
    """flatten_live on a fresh AsyncResolver (empty cache), timed inside the event loop."""
    from sending_domain.dns.resolver import AsyncResolver
    from sending_domain.dns.spf_fetch import flatten_live

    resolver = AsyncResolver([server.nameserver], timeout=DNS_TIMEOUT)

    async def timed() -> tuple[float, Any]:
        start = time.perf_counter()
        flattened = await flatten_live(DOMAIN, resolver)
        return time.perf_counter() - start, flattened

    seconds, flattened = asyncio.run(timed())
    outcome = {
        "original_lookups": flattened.original_lookups,
        "flattened_lookups": flattened.lookups,
        "records": len(flattened.records),
        "queries_sent": resolver.queries_sent,
    }
    return seconds, outcome


@contextmanager
def _default_resolver_at(server: Server) -> Iterator[None]:
    """Point dnspython's default resolver (used by pyspf via dns.resolver.query) at the server."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [server.host]
    resolver.port = server.port
    resolver.cache = None
    resolver.timeout = resolver.lifetime = DNS_TIMEOUT
    saved = dns.resolver.default_resolver
    dns.resolver.default_resolver = resolver
    try:
        yield
    finally:
        dns.resolver.default_resolver = saved


def run_pyspf(server: Server) -> tuple[float, dict[str, Any]]:
    """check_host for an address matching nothing, with spf.MAX_LOOKUP raised so the whole tree is walked."""
    import spf

    saved_limit, spf.MAX_LOOKUP = spf.MAX_LOOKUP, PYSPF_MAX_LOOKUP
    try:
        with _default_resolver_at(server), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # pyspf calls the deprecated dns.resolver.query
            query = spf.query(i=PROBE_IP, s=f"postmaster@{DOMAIN}", h="mta.example.net", timeout=DNS_TIMEOUT)
            start = time.perf_counter()
            result, _code, explanation = query.check()
            seconds = time.perf_counter() - start
    finally:
        spf.MAX_LOOKUP = saved_limit
    return seconds, {"result": result, "lookups": query.lookups, "explanation": explanation}


def run_checkdmarc(server: Server) -> tuple[float, dict[str, Any]]:
    """checkdmarc.spf.check_spf with a dnspython Do53Nameserver carrying the port (its API takes
    Nameserver objects, so no patching is needed); its module DNS cache is cleared before each run."""
    import checkdmarc.spf
    import checkdmarc.utils

    checkdmarc.utils.DNS_CACHE.clear()
    nameservers = [dns.nameserver.Do53Nameserver(server.host, server.port)]
    start = time.perf_counter()
    report = checkdmarc.spf.check_spf(DOMAIN, nameservers=nameservers, timeout=DNS_TIMEOUT, retries=0)
    seconds = time.perf_counter() - start
    return seconds, {"valid": report["valid"], "error": report.get("error"), "dns_lookups": report.get("dns_lookups")}


TOOLS: dict[str, Callable[[Server], tuple[float, dict[str, Any]]]] = {
    "ours (flatten_live)": run_ours,
    "pyspf check_host": run_pyspf,
    "checkdmarc check_spf": run_checkdmarc,
}


# --- measuring and judging ---------------------------------------------------------------------------


@dataclass
class Measured:
    tool: str
    seconds: list[float]
    queries: int
    distinct: int
    max_per_question: int
    stable_counts: bool
    outcome: dict[str, Any]
    asked: list[tuple[str, str]] = field(repr=False, default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def measure(tool: str, server: Server, repeat: int) -> Measured:
    """One untimed warm-up, then ``repeat`` timed runs with the server's counters reset before each."""
    run = TOOLS[tool]
    run(server)
    seconds: list[float] = []
    all_counts: list[Counts] = []
    outcome: dict[str, Any] = {}
    for _ in range(repeat):
        server.reset_counts()
        elapsed, outcome = run(server)
        seconds.append(elapsed)
        all_counts.append(server.counts())
    counts = all_counts[-1]
    return Measured(
        tool, seconds, sum(counts.values()), len(counts), max(counts.values(), default=0),
        all(c == counts for c in all_counts), outcome, sorted(counts),
    )


@dataclass(frozen=True)
class Verdict:
    target: str
    figure: str
    passed: bool


def _over(seconds: float, bound: float) -> float:
    return seconds / bound if bound > 0 else float("inf")


def _speedup(other: Measured, ours: Measured) -> Verdict:
    ratio = other.median / ours.median
    return Verdict(f">= {SPEEDUP_TARGET:g}x faster than {other.tool}", f"{ratio:.1f}x", ratio >= SPEEDUP_TARGET)


def verdicts(shape: TreeShape, results: Sequence[Measured], bound: float) -> list[Verdict]:
    ours, *others = results
    asked = set(ours.asked)
    once = ours.max_per_question == 1 and asked == shape.questions
    return [
        Verdict(f"tree needs {MIN_TERMS}+ DNS-querying terms unflattened", f"{shape.terms} terms", shape.terms >= MIN_TERMS),
        Verdict(
            "ours asks each distinct (name, type) exactly once",
            f"{ours.queries} queries, {ours.distinct} distinct, max {ours.max_per_question} per question, "
            f"{'same' if asked == shape.questions else 'DIFFERENT'} set as the tree needs ({len(shape.questions)})",
            once,
        ),
        *(_speedup(other, ours) for other in others),
        Verdict(
            f"within {BOUND_TARGET:g}x of the critical-path bound",
            f"{_over(ours.median, bound):.2f}x ({ours.median * 1000:.0f} ms vs {bound * 1000:.0f} ms)",
            ours.median <= BOUND_TARGET * bound,
        ),
    ]


@dataclass(frozen=True)
class Report:
    note: dict[str, Any]
    shape: TreeShape
    results: Sequence[Measured]
    bound: float
    judged: Sequence[Verdict]


# --- output ------------------------------------------------------------------------------------------


def machine_note(delay: float, repeat: int, in_process: bool) -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "load_average_1m": round(load[0], 2),
        "python": platform.python_version(),
        "delay_ms": delay * 1000,
        "repeat": repeat,
        "server": "thread in this process" if in_process else "child process",
    }


def table_rows(results: Sequence[Measured], ours: Measured, bound: float) -> list[list[str]]:
    rows = [["tool", "median ms", "runs ms", "queries", "distinct (name,type)", "wall ms/query", "time / ours"]]
    for m in results:
        ratio = "-" if m is ours else f"{m.median / ours.median:.1f}x"
        runs = " ".join(f"{s * 1000:.0f}" for s in m.seconds)
        per_query = f"{m.median * 1000 / max(m.queries, 1):.1f}"
        rows.append([m.tool, f"{m.median * 1000:.1f}", runs, str(m.queries), str(m.distinct), per_query, ratio])
    rows.append(["critical-path bound", f"{bound * 1000:.1f}", "", "", "", "", f"ours / bound = {_over(ours.median, bound):.2f}x"])
    return rows


def coverage(m: Measured, shape: TreeShape) -> str:
    """Which of the tree's questions a tool asked, and what else (by type)."""
    asked = set(m.asked)
    others = collections.Counter(rdtype for _, rdtype in asked - shape.questions)
    skipped = collections.Counter(rdtype for _, rdtype in shape.questions - asked)
    extra = ", ".join(f"{n} {t}" for t, n in sorted(others.items())) or "none"
    missed = ", ".join(f"{n} {t}" for t, n in sorted(skipped.items())) or "none"
    wanted = len(shape.questions)
    return f"asked {len(asked & shape.questions)} of the tree's {wanted} questions (not asked: {missed}; others: {extra})"


def render_text(report: Report) -> str:
    note, shape, results, bound = report.note, report.shape, report.results, report.bound
    ours, pyspf, checkdmarc = results
    lines = [
        f"SPF flatten benchmark — {DOMAIN}, {note['date']}, {note['cpus']} CPUs, load {note['load_average_1m']}, "
        f"Python {note['python']}, DNS server: {note['server']}",
        f"per-answer delay {note['delay_ms']:g} ms; median of {note['repeat']} runs after one warm-up run per tool",
        f"tree: {shape.terms} DNS-querying terms unflattened, {len(shape.questions)} distinct (name, type) questions, "
        f"depth {shape.depth} (longest chain of dependent queries) -> critical-path bound {shape.depth} x "
        f"{note['delay_ms']:g} ms = {bound * 1000:.0f} ms",
        f"pyspf: spf.MAX_LOOKUP = {PYSPF_MAX_LOOKUP} (not 10) and client {PROBE_IP}, so it walks the whole tree; "
        "it asks only A (not AAAA) for an IPv4 client",
        "checkdmarc: check_spf stops resolving once it passes 10 lookups (it reports the error); it also asks "
        "type SPF (99) and CNAME beside TXT",
        "",
    ]
    rows = table_rows(results, ours, bound)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines += [
        "",
        f"ours: {ours.outcome['original_lookups']} lookups unflattened -> {ours.outcome['flattened_lookups']} "
        f"flattened in {ours.outcome['records']} records; {coverage(ours, shape)}",
        f"pyspf: result {pyspf.outcome['result']}, {pyspf.outcome['lookups']} lookups counted; {coverage(pyspf, shape)}",
        f"checkdmarc: valid={checkdmarc.outcome['valid']}, dns_lookups={checkdmarc.outcome['dns_lookups']}, "
        f"error: {checkdmarc.outcome['error']}; {coverage(checkdmarc, shape)}",
    ]
    unstable = [m.tool for m in results if not m.stable_counts]
    if unstable:
        lines.append(f"note: query counts differed between runs for {', '.join(unstable)}")
    lines += [""] + [f"{'PASS' if v.passed else 'MISS'}  {v.target}: {v.figure}" for v in report.judged]
    return "\n".join(lines)


def _tool_json(m: Measured, ours: Measured) -> dict[str, Any]:
    fields = {k: v for k, v in asdict(m).items() if k != "asked"}
    return fields | {"median_ms": m.median * 1000, "ratio_to_ours": m.median / ours.median}


def render_json(report: Report) -> str:
    shape, ours, bound = report.shape, report.results[0], report.bound
    return json.dumps(
        {
            "machine": report.note,
            "tree": {"domain": DOMAIN, "terms": shape.terms, "questions": len(shape.questions), "depth": shape.depth},
            "critical_path_bound_ms": bound * 1000,
            "tools": [_tool_json(m, ours) for m in report.results],
            "ours_over_bound": ours.median / bound if bound > 0 else None,
            "verdicts": [asdict(v) for v in report.judged],
        },
        indent=2,
    )


# --- scaling: trees whose cost used to grow faster than their size -------------------------------------
#
# Each case is a zone generated here and served without delay by an in-process DnsTestServer; the time is
# flatten_live end to end (resolver, fetch loop, evaluation, flattening) on a fresh resolver, and the core
# alone (flatten_snapshot over the answers the live run used). Targets: the depth-20 diamond well under a
# second with one query per distinct (name, type); 2,000 ip4 terms and a 58 KB TXT each under 0.5 s.

SCALE = "scale.example"


@dataclass(frozen=True)
class ScalingCase:
    name: str
    domain: str
    zone: str
    target_s: float


def diamond_case(depth: int) -> ScalingCase:
    """Each level has two records that both include both records of the next: 2**depth paths, 2*depth records."""
    lines = [f'diamond.{SCALE}. TXT "v=spf1 include:a0.d.{SCALE} include:b0.d.{SCALE} -all"']
    for level in range(depth):
        for side in "ab":
            if level == depth - 1:
                body = f"ip4:198.18.{level}.{1 + (side == 'b')} a:h{side}.d.{SCALE}"
            else:
                body = f"include:a{level + 1}.d.{SCALE} include:b{level + 1}.d.{SCALE}"
            lines.append(f'{side}{level}.d.{SCALE}. TXT "v=spf1 {body} -all"')
    lines += [f"ha.d.{SCALE}. A 198.18.200.1", f"hb.d.{SCALE}. A 198.18.200.2"]  # A-only: void for IPv6 clients
    return ScalingCase(f"diamond, depth {depth} ({2 ** depth:,} paths)", f"diamond.{SCALE}", "\n".join(lines), 1.0)


def _txt(value: str) -> str:
    return " ".join(f'"{value[i:i + 255]}"' for i in range(0, len(value), 255))


def terms_case(count: int = 2000) -> ScalingCase:
    """A vendor record of ``count`` ip4 terms in shuffled order, some failed first, that merge to a few blocks."""
    import random

    rng = random.Random(2000)
    terms = [f"ip4:10.{i // 256}.{i % 256}.0/24" for i in range(count)]
    rng.shuffle(terms)
    terms = [f"-ip4:10.{i}.7.0/24" for i in range(0, count // 256, 3)] + terms
    value = "v=spf1 " + " ".join(terms) + " -all"
    zone = f'many.{SCALE}. TXT "v=spf1 include:_many.{SCALE} ~all"\n_many.{SCALE}. TXT {_txt(value)}'
    return ScalingCase(f"{len(terms):,} ip4 terms ({len(value) // 1000} KB TXT)", f"many.{SCALE}", zone, 0.5)


def big_txt_case(size: int = 58_000) -> ScalingCase:
    """One TXT of about ``size`` bytes (over TCP): host addresses in shuffled order that merge into a few networks."""
    import random

    terms: list[str] = []
    length = len("v=spf1 -all")
    index = 0
    while length < size - 20:
        term = f"ip4:10.{100 + index // 65536}.{index // 256 % 256}.{index % 256}"
        length += len(term) + 1
        terms.append(term)
        index += 1
    random.Random(58).shuffle(terms)
    value = " ".join(["v=spf1", *terms, "-all"])
    zone = f'big.{SCALE}. TXT "v=spf1 include:_big.{SCALE} -all"\n_big.{SCALE}. TXT {_txt(value)}'
    return ScalingCase(f"one {len(value) / 1000:.0f} KB TXT ({len(terms):,} terms)", f"big.{SCALE}", zone, 0.5)


@dataclass
class ScalingResult:
    case: str
    live_ms: list[float]
    core_ms: list[float]
    queries: int
    distinct: int
    records: int
    target_ms: float

    @property
    def live_median(self) -> float:
        return statistics.median(self.live_ms)

    one_query_each: bool  # the diamond: each (name, type) asked once (a truncated answer is asked again over TCP)

    @property
    def passed(self) -> bool:
        return self.live_median <= self.target_ms and (self.queries == self.distinct or not self.one_query_each)


def run_scaling(cases: Sequence[ScalingCase], repeat: int) -> list[ScalingResult]:
    from sending_domain.core.spf.flatten import flatten_snapshot
    from sending_domain.dns.resolver import AsyncResolver
    from sending_domain.dns.spf_fetch import fetch_and_evaluate, flatten_live

    results = []
    with DnsTestServer("$TTL 300\n" + "\n".join(c.zone for c in cases)) as server:
        for case in cases:
            live, core = [], []
            for attempt in range(repeat + 1):  # the first run warms up and is not counted
                server.reset_counts()
                resolver = AsyncResolver([server.nameserver], timeout=DNS_TIMEOUT)

                async def timed() -> tuple[float, Any]:
                    start = time.perf_counter()
                    flattened = await flatten_live(case.domain, resolver)
                    return time.perf_counter() - start, flattened

                seconds, flattened = asyncio.run(timed())
                queries, distinct = server.total_queries, len(server.queries)
                _, answers = asyncio.run(fetch_and_evaluate(case.domain, resolver))  # from the resolver's cache
                start = time.perf_counter()
                flatten_snapshot(case.domain, answers)
                if attempt:
                    live.append(seconds * 1000)
                    core.append((time.perf_counter() - start) * 1000)
            results.append(ScalingResult(case.name, live, core, queries, distinct, len(flattened.records), case.target_s * 1000,
                                         case.domain.startswith("diamond.")))
    return results


def render_scaling(results: Sequence[ScalingResult]) -> str:
    rows = [["case", "flatten_live median ms", "runs ms", "core ms (median)", "queries (UDP+TCP)", "distinct", "records", "target"]]
    for r in results:
        rows.append([r.case, f"{r.live_median:.1f}", " ".join(f"{v:.0f}" for v in r.live_ms),
                     f"{statistics.median(r.core_ms):.1f}", str(r.queries), str(r.distinct), str(r.records),
                     f"{'PASS' if r.passed else 'MISS'} < {r.target_ms:.0f} ms" + (", one query per (name, type)" if r.one_query_each else "")])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay", type=float, default=0.02, help="seconds from a question reaching the DNS server to its answer leaving")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per tool; the median is reported")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--in-process", action="store_true", help="run the DNS server on a thread of this process")
    parser.add_argument("--diamond-depth", type=int, default=20, help="depth of the diamond scaling case")
    parser.add_argument("--only", choices=["vendors", "scaling"], help="run only the vendor-mix tree or only the scaling cases")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.delay < 0:
        parser.error("--repeat must be 1 or more and --delay 0 or more")
    passed = True
    if args.only != "scaling":
        shape = tree_shape(ZoneData.from_text(zone_text()), DOMAIN)
        bound = shape.depth * args.delay
        with dns_server(args.delay, args.in_process) as server:
            results = [measure(tool, server, args.repeat) for tool in TOOLS]
        note = machine_note(args.delay, args.repeat, args.in_process)
        report = Report(note, shape, results, bound, verdicts(shape, results, bound))
        print(render_json(report) if args.json else render_text(report))
        passed = all(v.passed for v in report.judged)
    if args.only != "vendors":
        scaling = run_scaling([diamond_case(args.diamond_depth), terms_case(), big_txt_case()], args.repeat)
        if args.json:
            print(json.dumps({"scaling": [asdict(r) | {"passed": r.passed} for r in scaling]}, indent=2))
        else:
            print("\nscaling (no delay, server on a thread of this process):\n" + render_scaling(scaling))
        passed = passed and all(r.passed for r in scaling)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
