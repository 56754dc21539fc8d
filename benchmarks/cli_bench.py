"""Command-line benchmark: start-up of the quick paths, and loading a large stack file.

Not a test. Start-up: each command line runs in a fresh process ``--repeat`` times; the best and the median wall
time are printed, with PASS or MISS against the 150 ms goal for ``--version``, ``--help`` and an argument error
(issue: the command line under real use). Stack loading: a generated stack of ``--domains`` domains (about
180 bytes each): the time of each stage in this process, then of :func:`sending_domain.stack.load_stack` as a
whole in fresh processes, in wall and CPU seconds (CPU time varies less when other work shares the machine).

Run from the repository root::

    .venv/bin/python -m benchmarks.cli_bench [--repeat 10] [--domains 40000] [--skip-stack] [--skip-startup]
        [--compare ../other-checkout [--rounds 3]]

``--compare`` loads the same stack with another checkout's code (say main's, in a git worktree) and this one's,
each in a fresh process and taking turns, and prints both: old and new measured in one run.
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
    """Time each stage of loading a generated stack, in this process (wall and CPU time)."""
    import yaml

    from sending_domain import stack
    from sending_domain.collector import collector_paused
    from sending_domain.core.config import parse_settings

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "Pulumi.big.yaml"
        path.write_text(stack_file(domains), encoding="utf-8")
        text = path.read_text(encoding="utf-8")
        print(f"stack of {domains} domains, {len(text.encode()) / 2**20:.1f} MiB, loader {stack._LOADER.__name__}")
        clock = _Clock()
        with collector_paused():
            loader = stack._LOADER(text)
            node = loader.get_single_node()
            composed = clock.lap()
            data = stack._plain_data(loader, node)
            built = clock.lap()
            parse_settings(data["config"]["sending-domain:settings"])
            parsed = clock.lap()
            loader.dispose()
            del loader, node, data
        print(f"  compose {composed}, direct build {built}, parse_settings {parsed}   [wall / CPU seconds]")
        if hasattr(yaml, "CSafeLoader"):
            with collector_paused():
                clock.lap()
                yaml.SafeLoader(text).get_single_node()
                print(f"  for comparison, PyYAML's pure-Python composer alone: {clock.lap()}")


_ONE_LOAD = """
import sys, time
from pathlib import Path
import sending_domain
from sending_domain.stack import load_stack
wall, cpu = time.perf_counter(), time.process_time()
load_stack(config_file=Path(sys.argv[1]))
print(time.perf_counter() - wall, time.process_time() - cpu, sending_domain.__file__)
"""


def compare(domains: int, trees: list[Path], rounds: int) -> None:
    """``load_stack`` of each tree (a checkout of this project) on the same stack, each run in a fresh process,
    the trees taking turns, so that both see the same load on a shared machine; best of ``rounds``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "Pulumi.big.yaml"
        path.write_text(stack_file(domains), encoding="utf-8")
        times: dict[Path, list[tuple[float, float]]] = {tree: [] for tree in trees}
        for _ in range(rounds):
            for tree in trees:
                out = subprocess.run([sys.executable, "-c", _ONE_LOAD, str(path)], cwd=tree, capture_output=True,
                                     text=True, check=True).stdout.split()
                assert Path(out[2]).is_relative_to(tree.resolve()), f"{out[2]} is not from {tree}"
                times[tree].append((float(out[0]), float(out[1])))
        print(f"load_stack of {domains} domains, best of {rounds} (wall / CPU s), trees taking turns:")
        best = {tree: (min(w for w, _ in runs), min(c for _, c in runs)) for tree, runs in times.items()}
        first = best[trees[0]]
        for tree, (wall, cpu) in best.items():
            print(f"  {str(tree):40} {wall:6.2f} / {cpu:6.2f}   (the first tree's time / this: "
                  f"{first[0] / wall:.1f}x wall, {first[1] / cpu:.1f}x CPU)")


class _Clock:
    """Wall and CPU time since the last lap."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> str:
        wall, cpu = time.perf_counter(), time.process_time()
        text = f"{wall - self.wall:.2f} / {cpu - self.cpu:.2f}"
        self.wall, self.cpu = wall, cpu
        return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--domains", type=int, default=40_000)
    parser.add_argument("--skip-stack", action="store_true")
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--compare", metavar="TREE", type=Path, action="append", default=[],
                        help="also time load_stack of another checkout (repeatable), side by side with this one")
    parser.add_argument("--rounds", type=int, default=3, help="whole loads of each tree, in fresh processes")
    args = parser.parse_args()
    ok = args.skip_startup or startup(args.repeat)
    if not args.skip_stack:
        load(args.domains)
        compare(args.domains, [*args.compare, Path.cwd()], args.rounds)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
