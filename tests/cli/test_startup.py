"""Start-up stays fast because the quick paths import nothing heavy: each process lists what it imported.

The times themselves are benchmarks (benchmarks/cli_bench.py, docs/benchmarks.md); here the cause is checked:
``--version``, ``--help`` and argument errors must not import the DNS, HTTP, YAML, AWS or cryptography stacks,
nor the renderer; a sub-command's ``--help`` imports only that sub-command.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sending_domain.cli.main import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("dns", "httpx", "httpcore", "yaml", "boto3", "botocore", "cryptography", "pulumi", "asyncio", "ssl",
         "sending_domain.core.render", "sending_domain.desired", "sending_domain.stack", "sending_domain.verify")
PROBE = """
import io, json, sys
from contextlib import redirect_stderr, redirect_stdout
from sending_domain.cli.main import main
with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def imported(*args: str) -> tuple[int, list[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(done.stdout.splitlines()[-1])
    return result["code"], result["modules"]


@pytest.mark.parametrize(
    ("args", "code"),
    [(["--version"], 0), (["--help"], 0), (["plan", "--help"], 0), (["verify", "--help"], 0), (["drift", "--help"], 0),
     (["init", "--help"], 0), (["spf", "flatten", "--help"], 0), (["spf", "lock", "--help"], 0), (["dmarc", "status", "--help"], 0),
     (["verify", "--no-such-option"], 2), (["nosuch"], 2), ([], 2)],
)
def test_quick_paths_import_nothing_heavy(args: list[str], code: int) -> None:
    got, modules = imported(*args)
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY))
    assert got == code and heavy == []


def test_a_sub_commands_help_imports_only_that_sub_command() -> None:
    _, modules = imported("verify", "--help")
    commands = {m for m in modules if m.startswith("sending_domain.cli.") and m.rsplit(".", 1)[1] in COMMANDS}
    assert commands == {"sending_domain.cli.verify"}


def test_the_stand_ins_say_what_the_commands_say() -> None:
    """``sending-domain --help`` lists stand-ins; their one-line help must be the commands' own."""
    parser = build_parser()  # every command registered for real
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    real = {action.dest: action.help for action in subparsers._choices_actions}
    assert real == {name: summary for name, (_, summary) in COMMANDS.items()}


def test_the_spf_help_defaults_are_the_flatteners() -> None:
    from sending_domain.cli import spf
    from sending_domain.core.spf import flatten

    assert (spf.MAX_LOOKUPS, spf.MAX_BYTES) == (flatten.MAX_LOOKUPS, flatten.MAX_BYTES)
