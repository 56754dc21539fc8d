"""verify benchmark: our concurrent DNS verification of many domains against checkdmarc checking them one by one.

Not a test: it measures and prints the figures side by side, with PASS/MISS for the issue's targets (at least
20x faster than checkdmarc; wall time near (queries / concurrency) x delay). Exit code 0 when both pass.

Setup: ``--domains`` sending domains (default 500) rendered by the same code as ``plan`` (SPF with SES and an
office network, one RSA DKIM key, DMARC, SES custom MAIL FROM), the zone built from that render, served by
:class:`tests.dnsserver.DnsTestServer` in a child process (a real server's work must not compete for this
process's GIL), each answer sent ``--delay`` seconds after its question arrived.

- ours: :func:`sending_domain.verify.runner.verify_stack` — every DNS check of every domain (SPF set, live tree,
  senders, DKIM, DMARC, report authorization, MAIL FROM, alignment), SES and SMTP off.
- checkdmarc: ``checkdmarc.spf.check_spf`` + ``checkdmarc.dmarc.check_dmarc`` per domain, one domain after the
  other (its ``check_domains`` does the same sequentially, plus MX/NS/DNSSEC/MTA-STS/BIMI lookups we leave out).
  checkdmarc only takes nameserver IPs as strings (port 53), but passes ``dns.nameserver.Nameserver`` objects
  through to dnspython, so ``Do53Nameserver("127.0.0.1", port)`` points it at the test server's port. Its
  module-level DNS cache is cleared first, and its per-domain work is less than ours (no DKIM, no MAIL FROM).
  With ``--sample N`` only N domains are timed and the total is extrapolated (labelled as such).

Run from the repository root::

    .venv/bin/python -m benchmarks.verify_bench [--domains 500] [--delay 0.02] [--concurrency 64] [--sample N] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import multiprocessing.connection
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

import dns.nameserver  # noqa: E402

from sending_domain.core import dkim  # noqa: E402
from sending_domain.core.checks import exit_code  # noqa: E402
from sending_domain.core.config import parse_settings  # noqa: E402
from sending_domain.core.settings import StackSettings  # noqa: E402
from sending_domain.desired import desired_domains  # noqa: E402
from sending_domain.dns.resolver import AsyncResolver  # noqa: E402
from sending_domain.verify.runner import VerifyIO, verify_stack  # noqa: E402
from tests.dnsserver import DnsTestServer  # noqa: E402

VENDORS = (ROOT / "tests/fixtures/verify/vendors.zone").read_text(encoding="utf-8")
SPEEDUP_TARGET = 20.0
BOUND_TARGET = 1.5  # wall time within 1.5x of (queries / concurrency) x delay


def bench_stack(count: int) -> StackSettings:
    domains = []
    for i in range(count):
        name = f"d{i:04d}.bench.example"
        domains.append(
            {
                "domain": name,
                "zone": name,
                "senders": ["amazonses", f"ip4:198.18.{i // 256}.{i % 256}"],
                "dkim": {"keys": [{"selector": "s1", "algorithm": "rsa-2048", "state": "active"}]},
                "dmarc": {"p": "none", "rua": [f"mailto:dmarc@{name}"]},
                "ses": {"region": "eu-west-1", "mailFrom": "bounce"},
            }
        )
    return parse_settings({"domains": domains}, source="benchmark")


# --- the DNS server in a child process -------------------------------------------------------------------


def _serve(conn: multiprocessing.connection.Connection, zone: str, delay: float) -> None:
    server = DnsTestServer(zone, delay=delay).start()
    conn.send(server.port)
    while True:
        command = conn.recv()
        if command == "stop":
            server.stop()
            conn.send(None)
            return
        if command == "reset":
            server.reset_counts()
            conn.send(None)
        elif command == "count":
            conn.send(server.total_queries)
        elif isinstance(command, tuple) and command[0] == "delay":
            server.delay = command[1]
            conn.send(None)


class ChildServer:
    def __init__(self, zone: str, delay: float) -> None:
        self.conn, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(target=_serve, args=(child, zone, delay), daemon=True)
        self.process.start()
        self.port = self.conn.recv()

    def ask(self, command: str) -> object:
        self.conn.send(command)
        return self.conn.recv()

    def stop(self) -> None:
        self.ask("stop")
        self.process.join(10)


# --- the two contenders ------------------------------------------------------------------------------------


@dataclass
class Figures:
    tool: str
    domains_timed: int
    seconds: float
    queries: int
    extrapolated_seconds: float | None = None
    note: str = ""


def render_zone(stack: StackSettings, public: dict[tuple[str, str], str]) -> str:
    with DnsTestServer(VENDORS) as server:
        resolver = AsyncResolver([server.nameserver], concurrency=256)
        desired = asyncio.run(desired_domains(stack, resolver=resolver, dkim_public=public))
    lines = [r.record.zone_line() for d in desired for r in d.records]
    return "\n".join([VENDORS, "$ORIGIN .", *lines]) + "\n"


def run_ours(stack: StackSettings, public: dict[tuple[str, str], str], server: ChildServer, concurrency: int) -> Figures:
    server.ask("reset")
    io = VerifyIO(resolver=lambda: AsyncResolver([f"127.0.0.1:{server.port}"], concurrency=concurrency, timeout=5.0))
    start = time.perf_counter()
    run = asyncio.run(verify_stack(stack, lock=None, dkim_public=public, io=io))
    seconds = time.perf_counter() - start
    code = exit_code(run.reports)
    return Figures("sending-domain verify", len(run.reports), seconds, int(server.ask("count")), note=f"exit code {code}")


def run_checkdmarc(stack: StackSettings, server: ChildServer, sample: int | None) -> Figures:
    from checkdmarc.dmarc import check_dmarc
    from checkdmarc.spf import check_spf
    from checkdmarc.utils import DNS_CACHE

    DNS_CACHE.clear()
    nameservers = [dns.nameserver.Do53Nameserver("127.0.0.1", server.port)]
    domains = [d.domain for d in stack.domains]
    timed = domains[:sample] if sample else domains
    server.ask("reset")
    problems = 0
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for domain in timed:
            spf = check_spf(domain, nameservers=nameservers, timeout=5.0)
            dmarc = check_dmarc(domain, nameservers=nameservers, timeout=5.0)
            problems += ("error" in spf) + ("error" in dmarc)
    seconds = time.perf_counter() - start
    queries = int(server.ask("count"))
    figures = Figures("checkdmarc (sequential)", len(timed), seconds, queries, note=f"{problems} domain errors")
    if len(timed) < len(domains):
        figures.extrapolated_seconds = seconds * len(domains) / len(timed)
        figures.queries = round(queries * len(domains) / len(timed))
        figures.note += f"; EXTRAPOLATED from {len(timed)} of {len(domains)} domains (queries too)"
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=500)
    parser.add_argument("--delay", type=float, default=0.02, help="seconds from a question reaching the DNS server to its answer leaving (default 0.02)")
    parser.add_argument("--concurrency", type=int, default=64, help="our resolver's questions in flight (default 64)")
    parser.add_argument("--sample", type=int, default=None, help="time checkdmarc on N domains and extrapolate")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    stack = bench_stack(args.domains)
    key = dkim.public_key_b64(dkim.generate_private_key_pem("rsa-2048"))  # one key for every domain: DNS is what we time
    public = {(d.domain, "s1"): key for d in stack.domains}
    server = ChildServer(render_zone(stack, public), args.delay)
    try:
        server.ask(("delay", 0.0))
        floor = run_ours(stack, public, server, args.concurrency)  # no DNS delay: our own CPU time per run
        server.ask(("delay", args.delay))
        ours = run_ours(stack, public, server, args.concurrency)
        theirs = run_checkdmarc(stack, server, args.sample)
    finally:
        server.stop()

    their_seconds = theirs.extrapolated_seconds or theirs.seconds
    speedup = their_seconds / ours.seconds
    bound = ours.queries / args.concurrency * args.delay
    result = {
        "domains": args.domains,
        "delay_seconds": args.delay,
        "concurrency": args.concurrency,
        "ours": asdict(ours),
        "checkdmarc": asdict(theirs),
        "speedup": round(speedup, 1),
        "bound_seconds": round(bound, 3),
        "ours_vs_bound": round(ours.seconds / bound, 2),
        "ours_without_delay_seconds": round(floor.seconds, 3),
        "targets": {
            f">= {SPEEDUP_TARGET:g}x faster": speedup >= SPEEDUP_TARGET,
            f"within {BOUND_TARGET:g}x of (queries / concurrency) x delay": ours.seconds <= BOUND_TARGET * bound,
        },
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(_text(result))
    return 0 if all(result["targets"].values()) else 1


def _text(r: dict) -> str:
    ours, theirs = r["ours"], r["checkdmarc"]
    lines = [
        f"{r['domains']} domains, {r['delay_seconds'] * 1000:g} ms per DNS answer, our concurrency {r['concurrency']}",
        f"{'tool':<26} {'timed':>6} {'seconds':>9} {'queries':>8}  note",
        f"{ours['tool']:<26} {ours['domains_timed']:>6} {ours['seconds']:>9.2f} {ours['queries']:>8}  {ours['note']}",
        f"{theirs['tool']:<26} {theirs['domains_timed']:>6} {theirs['seconds']:>9.2f} {theirs['queries']:>8}  {theirs['note']}",
    ]
    if theirs["extrapolated_seconds"] is not None:
        lines.append(f"{'':<26} {r['domains']:>6} {theirs['extrapolated_seconds']:>9.2f} {'':>8}  (extrapolated)")
    lines.append(f"speedup: {r['speedup']}x; bound (queries / concurrency x delay) {r['bound_seconds']} s, ours is {r['ours_vs_bound']}x of it")
    lines.append(f"ours with no DNS delay (its own CPU time, dnspython included): {r['ours_without_delay_seconds']} s")
    lines += [f"{'PASS' if ok else 'MISS'}  {name}" for name, ok in r["targets"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
