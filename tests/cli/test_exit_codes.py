"""Every exit-code path of the real command, in a real process: what CI sees (README, "Commands").

0 success, 1 a check failed, 2 bad input or configuration (AWS configuration included), 3 transient (with the
partial report), 4 internal error; a reader that goes away (``| head``) never changes the status.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MakeDnsServer
from tests.verify.deployment import STACK_FILE, Zone, outputs_document, render

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "stacks" / "Pulumi.example.yaml"
LOCK = ROOT / "stacks" / "spf.lock.json"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No ambient AWS configuration or debug switch: only what a test sets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SENDING_DOMAIN_"))}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def run(args: list[str], tmp_path: Path, *, stdout: int | None = subprocess.PIPE, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sending_domain.cli.main", *args],
        cwd=ROOT, env=_env(tmp_path, **env), stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=60,
    )


def run_closed_pipe(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The command with a standard output whose reader has already gone (``cmd | head -0``)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return run(args, tmp_path, stdout=write)
    finally:
        os.close(write)


def _no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    shutil.copy(LOCK, tmp_path / "spf.lock.json")
    return shutil.copy(EXAMPLE, tmp_path / "Pulumi.example.yaml")


# --- 0 and 1, and a broken pipe that keeps them ---------------------------------------------------------


def test_plan_into_a_closed_pipe_still_exits_0(stack: Path, tmp_path: Path) -> None:
    done = run_closed_pipe(["plan", "--config", str(stack), "--json"], tmp_path)
    assert done.returncode == 0
    _no_traceback(done.stderr)


def test_a_failed_check_into_a_closed_pipe_still_exits_1(stack: Path, tmp_path: Path, dns_server: MakeDnsServer) -> None:
    server = dns_server("")  # nothing published: every record check fails
    args = ["verify", "--config", str(stack), "--nameserver", server.nameserver, "--no-ses", "--json"]
    done = run_closed_pipe(args, tmp_path)
    assert done.returncode == 1, done.stderr
    _no_traceback(done.stderr)
    assert run(args, tmp_path).returncode == 1  # the same with a reader


# --- 2: bad input and configuration ----------------------------------------------------------------


def test_missing_aws_profile_exits_2_naming_it(stack: Path, tmp_path: Path) -> None:
    done = run(["verify", "--config", str(stack), "--nameserver", "127.0.0.1"], tmp_path, AWS_PROFILE="nosuch")
    assert done.returncode == 2
    assert "AWS profile 'nosuch' does not exist" in done.stderr
    _no_traceback(done.stderr)


def test_unparseable_aws_config_exits_2_naming_the_file(stack: Path, tmp_path: Path) -> None:
    config = tmp_path / "aws-config"
    config.write_text("[default\nregion = eu-west-1\n", encoding="utf-8")
    done = run(["verify", "--config", str(stack), "--nameserver", "127.0.0.1"], tmp_path, AWS_CONFIG_FILE=str(config))
    assert done.returncode == 2
    assert str(config) in done.stderr and "does not parse" in done.stderr
    _no_traceback(done.stderr)


def test_failing_credential_process_exits_2(stack: Path, tmp_path: Path) -> None:
    config = tmp_path / "aws-config"
    helper = f"{sys.executable} -c \"import sys; sys.stderr.write('token expired'); sys.exit(1)\""
    config.write_text(f"[profile broken]\ncredential_process = {helper}\n", encoding="utf-8")
    args = ["verify", "--config", str(stack), "--nameserver", "127.0.0.1", "--json"]
    done = run(args, tmp_path, AWS_CONFIG_FILE=str(config), AWS_PROFILE="broken")
    assert done.returncode == 2
    assert "credential provider" in done.stderr and "of profile 'broken'" in done.stderr and "token expired" in done.stderr
    assert json.loads(done.stdout)["error"]["code"] == "aws-config"
    _no_traceback(done.stderr)


def test_lock_that_is_not_utf8_exits_2(stack: Path, tmp_path: Path) -> None:
    (tmp_path / "spf.lock.json").write_bytes(b'\xff\xfe{"version": 1}')
    done = run(["plan", "--config", str(stack)], tmp_path)
    assert done.returncode == 2
    assert "not UTF-8" in done.stderr and "[lock-unreadable]" in done.stderr
    _no_traceback(done.stderr)


@pytest.mark.parametrize("lock", [
    '{"version": 1, "entries": {"include:a.example": {"answers": 5, "resolved_at": 1}}}',
    '{"version": 1, "entries": []}',
    '[1, 2]',
    '{"version": "1"}',
])
def test_lock_with_wrong_types_exits_2(stack: Path, tmp_path: Path, lock: str) -> None:
    (tmp_path / "spf.lock.json").write_text(lock, encoding="utf-8")
    done = run(["plan", "--config", str(stack)], tmp_path)
    assert done.returncode == 2 and "spf.lock.json" in done.stderr
    _no_traceback(done.stderr)


def test_argument_error_exits_2_with_a_json_error(tmp_path: Path) -> None:
    done = run(["verify", "--no-such-option", "--json"], tmp_path)
    assert done.returncode == 2
    document = json.loads(done.stdout)
    assert document["error"]["code"] == "usage" and document["exit_code"] == 2


# --- 3: transient, with the partial report ---------------------------------------------------------------


def test_dns_failure_exits_3_with_the_report(tmp_path: Path, dns_server: MakeDnsServer) -> None:
    server = dns_server()
    server.load(Zone.deployed(render(server)).text())  # all deployed as the stack wants, but one name fails
    server.fail("_dmarc.example.com", "TXT", "servfail")
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(outputs_document()), encoding="utf-8")
    args = ["verify", "--config", str(STACK_FILE), "--nameserver", server.nameserver, "--no-ses", "--outputs", str(outputs)]
    done = run([*args, "--json"], tmp_path)
    assert done.returncode == 3, done.stderr
    report = json.loads(done.stdout)
    assert report["exit_code"] == 3 and [d["domain"] for d in report["domains"]] == ["example.com", "example.net"]
    statuses = {d["domain"]: d["status"] for d in report["domains"]}
    assert statuses == {"example.com": "error", "example.net": "pass"}
    human = run(args, tmp_path)
    assert human.returncode == 3 and "example.com: ERROR" in human.stdout


# --- 4: a bug of ours -------------------------------------------------------------------------------------

_BUG = """
import sys
from sending_domain.cli import plan
def broken(args):
    raise RuntimeError("an invariant broke")
plan.run_plan = broken
from sending_domain.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def _run_bug(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _BUG, *args], cwd=ROOT, env=_env(tmp_path, **env),
                          capture_output=True, text=True, timeout=60)


def test_unexpected_exception_exits_4_in_one_line(stack: Path, tmp_path: Path) -> None:
    done = _run_bug(["plan", "--config", str(stack)], tmp_path)
    assert done.returncode == 4
    lines = done.stderr.splitlines()
    assert lines[0] == "sending-domain: internal error: RuntimeError: an invariant broke"
    assert "report it" in lines[1] and "--debug" in lines[1] and len(lines) == 2
    _no_traceback(done.stderr)


@pytest.mark.parametrize("how", ["option", "environment"])
def test_traceback_only_when_asked(stack: Path, tmp_path: Path, how: str) -> None:
    if how == "option":
        done = _run_bug(["--debug", "plan", "--config", str(stack)], tmp_path)
    else:
        done = _run_bug(["plan", "--config", str(stack)], tmp_path, SENDING_DOMAIN_DEBUG="1")
    assert done.returncode == 4
    assert "Traceback" in done.stderr and "RuntimeError: an invariant broke" in done.stderr


def test_internal_error_with_json_prints_a_json_error(stack: Path, tmp_path: Path) -> None:
    done = _run_bug(["plan", "--config", str(stack), "--format", "json"], tmp_path)
    assert done.returncode == 4
    assert json.loads(done.stdout)["error"]["code"] == "internal"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["--version"], ["plan", "--json"], ["plan"]])
def test_a_full_disk_is_one_line_and_exit_2(stack: Path, tmp_path: Path, args: list[str]) -> None:
    argv = [*args, "--config", str(stack)] if args[0] == "plan" else args
    with open("/dev/full", "w") as full:
        done = run(argv, tmp_path, stdout=full.fileno())
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["sending-domain: error: cannot write the output: No space left on device"]
