"""Command-line benchmark: start-up of the quick paths, and loading a large stack file.

Not a test. Start-up: each command line runs in a fresh process ``--repeat`` times; the best and the median wall
time are printed, with PASS or MISS against the 150 ms goal for ``--version``, ``--help`` and an argument error
(issue: the command line under real use). Stack loading: a generated stack of ``--domains`` domains (about
180 bytes each) is loaded by :func:`sending_domain.stack.load_stack`, and the time of each stage is printed.

Run from the repository root::

    .venv/bin/python -m benchmarks.cli_bench [--repeat 10] [--domains 40000] [--skip-stack]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL = 0.150
QUICK = [["--version"], ["--help"], ["plan", "--help"], ["verify", "--help"], ["drift", "--help"],
         ["spf", "--help"], ["verify", "--no-such-option"], ["nosuch"]]


def startup(repeat: int) -> bool:
    ok = True
    for args in QUICK:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "sending_domain.cli.main", *args], capture_output=True, check=False)
            times.append(time.perf_counter() - started)
        best, median = min(times), statistics.median(times)
        verdict = "PASS" if median <= GOAL else "MISS"
        ok &= verdict == "PASS"
        print(f"{' '.join(args):28} best {best * 1000:6.0f} ms  median {median * 1000:6.0f} ms  {verdict}")
    return ok


def stack_file(domains: int) -> str:
    lines = ["config:", "  sending-domain:settings:", "    domains:"]
    for i in range(domains):
        lines += [f"      - domain: d{i}.example.com", "        zone: example.com", "        senders: [ip4:192.0.2.0/24]",
                  f"        dkim: {{keys: [{{selector: s{i}, state: active}}]}}", "        dmarc: {p: none}"]
    return "\n".join(lines) + "\n"


def load(domains: int) -> None:
    import yaml

    from sending_domain import stack

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "Pulumi.big.yaml"
        path.write_text(stack_file(domains), encoding="utf-8")
        text = path.read_text(encoding="utf-8")
        print(f"stack of {domains} domains, {len(text.encode()) / 2**20:.1f} MiB, loader {stack._LOADER.__name__}")
        started = time.perf_counter()
        loader = stack._LOADER(text)
        node = loader.get_single_node()
        composed = time.perf_counter()
        stack._inspect(node)
        inspected = time.perf_counter()
        loader.construct_document(node)
        built = time.perf_counter()
        loader.dispose()
        stack.load_stack(config_file=path)
        whole = time.perf_counter()
        print(f"  compose {composed - started:.2f} s, inspect {inspected - composed:.2f} s, "
              f"construct {built - inspected:.2f} s; load_stack (all of it again, with parse_settings) "
              f"{whole - built:.2f} s")
        if hasattr(yaml, "CSafeLoader"):
            started = time.perf_counter()
            yaml.SafeLoader(text).get_single_node()
            print(f"  for comparison, PyYAML's pure-Python composer alone: {time.perf_counter() - started:.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--domains", type=int, default=40_000)
    parser.add_argument("--skip-stack", action="store_true")
    args = parser.parse_args()
    ok = startup(args.repeat)
    if not args.skip_stack:
        load(args.domains)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
