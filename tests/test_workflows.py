"""The GitHub Actions workflows: schema-valid, running only documented commands, branching on exit codes right.

- Each file passes ``check-jsonschema --builtin-schema vendor.github-workflows``, run for real from the
  virtualenv (the schema ships inside the package; with a dead proxy set, a download would fail the test).
- Every ``sending-domain`` command in a ``run:`` parses with the CLI parser and uses only a subcommand and
  flags that README.md or docs/ document; the test command is the README's, verbatim.
- The shell steps that turn exit codes into "clean / drift / error" are run with bash against stand-in
  ``pulumi`` and ``sending-domain`` programs, for old (255) and new (7) Pulumi CLIs.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.test_docs import ALL as DOCUMENTED
from tests.test_docs import Found, argument_lists, parse_error, shell_commands

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW_DIR = ROOT / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOW_DIR.glob("*.yml"))
VALIDATOR = Path(sys.executable).parent / "check-jsonschema"
DEAD_PROXY = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
              "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOW_DIR / name).read_text(encoding="utf-8"))


def triggers(workflow: dict) -> dict:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as true


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def step(workflow: dict, name: str) -> dict:
    (found,) = [s for s in steps(workflow) if s.get("name") == name]
    return found


def run_lines(path: Path) -> list[tuple[str, str]]:
    """(where, line) of every line of every ``run:`` script, with ``\\`` continuations joined."""
    out = []
    for index, s in enumerate(steps(yaml.safe_load(path.read_text(encoding="utf-8")))):
        script = s.get("run", "").replace("\\\n", " ")
        out += [(f"{path.name} step {index + 1} ({s.get('name', '')})", line) for line in script.splitlines()]
    return out


def readme_test_command() -> str:
    block = (ROOT / "README.md").read_text(encoding="utf-8").split("```sh\n", 1)[1].split("```", 1)[0]
    (command,) = [line for line in block.splitlines() if line.rstrip().endswith("-m pytest")]
    return command


def workflow_commands() -> list[Found]:
    return [Found(where, cmd) for path in WORKFLOWS for where, line in run_lines(path) for cmd in shell_commands(line)]


# --- schema --------------------------------------------------------------------------------------------


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    assert VALIDATOR.exists(), f"{VALIDATOR} is missing: install the test extras (pip install -e '.[test]')"
    command = [str(VALIDATOR), "--builtin-schema", "vendor.github-workflows", str(path)]
    env = {**os.environ, **DEAD_PROXY}
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, check=False)


def test_the_three_workflows_exist() -> None:
    assert [p.name for p in WORKFLOWS] == ["deploy.yml", "drift.yml", "pull-request.yml"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_passes_the_github_workflow_schema(path: Path) -> None:
    result = validate(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_the_validator_really_validates(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n", encoding="utf-8")
    result = validate(broken)
    assert result.returncode == 1
    assert "'stepz' was unexpected" in result.stdout


# --- commands ------------------------------------------------------------------------------------------


def test_workflows_run_sending_domain_commands() -> None:
    names = {" ".join(argument_lists(f.text)[0][:2]) for f in workflow_commands()}
    assert {"plan --stack", "verify --stack", "drift --stack", "spf lock"} <= names


@pytest.mark.parametrize("found", workflow_commands(), ids=str)
def test_workflow_command_parses(found: Found) -> None:
    for argv in argument_lists(found.text):
        assert parse_error(argv) is None, f"{found}: {parse_error(argv)}"


def _path_and_flags(argv: list[str]) -> tuple[tuple[str, ...], set[str]]:
    path = tuple(word for word in _leading_words(argv))
    return path, {w.split("=", 1)[0] for w in argv if w.startswith("--")}


def _leading_words(argv: list[str]) -> list[str]:
    words = []
    for word in argv:
        if word.startswith("-"):
            break
        words.append(word)
    return words


def _documented_flags() -> dict[tuple[str, ...], set[str]]:
    flags: dict[tuple[str, ...], set[str]] = {}
    for found in DOCUMENTED:
        for argv in argument_lists(found.text):
            path, used = _path_and_flags(argv)
            flags.setdefault(path, set()).update(used)
    return flags


@pytest.mark.parametrize("found", workflow_commands(), ids=str)
def test_workflow_command_is_documented(found: Found) -> None:
    documented = _documented_flags()
    for argv in argument_lists(found.text):
        path, used = _path_and_flags(argv)
        assert path in documented, f"{found}: `sending-domain {' '.join(path)}` is in no doc"
        assert used <= documented[path], f"{found}: {sorted(used - documented[path])} documented nowhere"


def test_the_test_command_is_the_readmes() -> None:
    readme = readme_test_command()
    lines = [line.strip() for path in WORKFLOWS for _, line in run_lines(path) if "pytest" in line]
    assert lines == [readme]
    assert readme in [line.strip() for _, line in run_lines(WORKFLOW_DIR / "pull-request.yml")]


def test_no_secret_is_expanded_into_a_script() -> None:
    for path in WORKFLOWS:
        for s in steps(load(path.name)):
            assert "secrets." not in s.get("run", ""), f"{path.name}: {s.get('name')} puts a secret in its script"


# --- shape ---------------------------------------------------------------------------------------------


def test_pull_request_workflow() -> None:
    wf = load("pull-request.yml")
    assert "pull_request" in triggers(wf)
    assert wf["permissions"]["pull-requests"] == "write" and wf["permissions"]["id-token"] == "write"
    names = [s.get("uses", s.get("name")) for s in steps(wf)]
    assert names.index("Test") < names.index("pulumi/actions@v6")  # the action does not pip-install
    preview = step(wf, "pulumi preview")
    assert preview["with"]["command"] == "preview" and preview["with"]["comment-on-pr"] is True
    assert preview["with"]["work-dir"] == "."
    assert "vars." in preview["with"]["stack-name"] or "env.STACK" in preview["with"]["stack-name"]
    python = next(s for s in steps(wf) if s.get("uses", "").startswith("actions/setup-python"))
    assert python["with"]["python-version"] == "3.11"


def test_deploy_workflow_verifies_what_it_deployed() -> None:
    wf = load("deploy.yml")
    assert triggers(wf)["push"]["branches"] == ["main"]
    assert wf["permissions"]["id-token"] == "write"
    names = [s.get("name") for s in steps(wf)]
    up = step(wf, "pulumi up")
    assert up["uses"] == "pulumi/actions@v6" and up["with"]["command"] == "up"
    assert names.index("pulumi up") < names.index("Stack outputs") < names.index("Verify the deployment")
    assert "pulumi stack output --json" in step(wf, "Stack outputs")["run"]
    assert "> outputs.json" in step(wf, "Stack outputs")["run"]
    verify = step(wf, "Verify the deployment")
    assert "--outputs outputs.json" in verify["run"] and "continue-on-error" not in verify
    aws = next(s for s in steps(wf) if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@v4"))
    assert "role-to-assume" in aws["with"]


def test_drift_workflow_shape() -> None:
    wf = load("drift.yml")
    assert "schedule" in triggers(wf) and "workflow_dispatch" in triggers(wf)
    assert wf["permissions"]["issues"] == "write" and wf["permissions"]["id-token"] == "write"
    refresh = step(wf, "pulumi refresh (preview only)")["run"]
    assert "pulumi refresh" in refresh and "--preview-only" in refresh and "--expect-no-changes" in refresh
    assert step(wf, "Install the Pulumi CLI")["uses"] == "pulumi/actions@v6"
    issue = step(wf, "Open or update the drift issue")["run"]
    assert "gh issue list --label drift" in issue and "gh issue create" in issue and "gh issue comment" in issue
    pr = step(wf, "Open the lock pull request")
    assert pr["uses"] == "peter-evans/create-pull-request@v7" and pr["with"]["add-paths"] == "stacks/spf.lock.json"
    assert "sending-domain spf lock --update" in step(wf, "Refresh the vendor lock")["run"]


# --- the exit-code branching, run for real --------------------------------------------------------------


def fake_program(directory: Path, name: str) -> None:
    path = directory / name
    path.write_text('#!/bin/sh\n[ -n "$FAKE_OUTPUT" ] && echo "$FAKE_OUTPUT"\nexit "$FAKE_EXIT"\n', encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def run_step(tmp_path: Path, name: str, exit_code: int, output: str = "") -> tuple[int, str, str]:
    """Run one step's script as GitHub does (``bash -e``) with stand-ins; returns (exit, result output, log)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for program in ("pulumi", "sending-domain"):
        fake_program(bin_dir, program)
    outputs = tmp_path / "github_output"
    outputs.write_text("", encoding="utf-8")
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "GITHUB_OUTPUT": str(outputs), "STACK": "dev",
           "FAKE_EXIT": str(exit_code), "FAKE_OUTPUT": output}
    script = step(load("drift.yml"), name)["run"]
    done = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    result = dict(line.split("=", 1) for line in outputs.read_text(encoding="utf-8").splitlines())
    return done.returncode, result.get("result", ""), done.stdout + done.stderr


@pytest.mark.parametrize(
    ("exit_code", "output", "result", "step_exit"),
    [
        (0, "", "clean", 0),
        (7, "Resources: 1 changed", "drift", 0),  # recent CLIs: a code of its own for "changes found"
        (255, "error: no changes were expected but changes occurred", "drift", 0),  # older CLIs
        (255, "error: failed to decrypt: incorrect passphrase", "error", 1),
        (1, "error: something else", "error", 1),
    ],
)
def test_refresh_step_tells_drift_from_errors(tmp_path: Path, exit_code: int, output: str, result: str, step_exit: int) -> None:
    code, found, log = run_step(tmp_path, "pulumi refresh (preview only)", exit_code, output)
    assert (found, code) == (result, step_exit), log
    if result == "error":
        assert f"::error::pulumi refresh failed (exit {exit_code})" in log


@pytest.mark.parametrize("name", ["sending-domain drift", "sending-domain spf lock --check"])
@pytest.mark.parametrize(("exit_code", "result", "step_exit"), [(0, "clean", 0), (1, "drift", 0), (2, "", 2), (3, "", 3)])
def test_sending_domain_steps_tell_drift_from_errors(tmp_path: Path, name: str, exit_code: int, result: str, step_exit: int) -> None:
    code, found, log = run_step(tmp_path, name, exit_code, "some output")
    assert (found, code) == (result, step_exit), log
