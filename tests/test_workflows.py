"""The GitHub Actions workflows: schema-valid, audited, least-privileged, running only documented commands.

- Each file passes ``check-jsonschema --builtin-schema vendor.github-workflows``, run for real from the
  virtualenv (the schema ships inside the package; with a dead proxy set, a download would fail the test).
- ``zizmor --offline`` (run for real, no configuration, ignore comments not honoured) reports nothing at
  medium severity or above, and is shown to report a workflow that breaks the rules.
- The trust model of docs/gitops.md, rule by rule: the job that runs the pull request's code has no secret and
  no OIDC token; credentials live only in jobs of the ``preview``, ``production`` and ``drift`` environments;
  deploys run from main only; secrets at step level; ``permissions`` per job from an allow-list; a timeout on
  every job; every action pinned by commit SHA with its version; checkouts keep no credentials.
- CI installs from the hashed lock ``.github/requirements-ci.txt`` with ``--require-hashes``; the lock pins every
  dependency pyproject.toml names, each with hashes, and its refresh command is the one docs/gitops.md gives.
- Every ``sending-domain`` command in a ``run:`` parses with the CLI parser and uses only a subcommand and
  flags that README.md or docs/ document; the test run is the README's.
- The shell steps that turn exit codes into "clean / drift / error", and the step that writes the drift issue,
  are run with bash against stand-in ``pulumi``, ``sending-domain`` and ``gh`` programs.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.test_docs import ALL as DOCUMENTED
from tests.test_docs import Found, argument_lists, parse_error, shell_commands

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW_DIR = ROOT / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOW_DIR.glob("*.yml"))
LOCK = ROOT / ".github" / "requirements-ci.txt"
GITOPS = ROOT / "docs" / "gitops.md"
BIN = Path(sys.executable).parent
VALIDATOR = BIN / "check-jsonschema"
ZIZMOR = BIN / "zizmor"
DEAD_PROXY = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
              "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}

# The trust model (docs/gitops.md): which job runs in which environment, and which permissions each job may hold
# beyond `contents: read`. A job in no environment gets no secret and no OIDC token.
ENVIRONMENTS = {
    ("pull-request.yml", "preview"): "preview",  # required reviewers release its secrets
    ("deploy.yml", "deploy"): "production",  # main only
    ("drift.yml", "check"): "drift",  # main only, read-only credentials
    ("dmarc.yml", "status"): "drift",  # the same read-only role, which also reads the report bucket
}
WRITE_PERMISSIONS = {
    ("pull-request.yml", "preview"): {"pull-requests", "id-token"},
    ("deploy.yml", "deploy"): {"id-token"},
    ("drift.yml", "check"): {"id-token"},
    ("drift.yml", "report"): {"issues"},
    ("drift.yml", "lock-pr"): {"contents", "pull-requests"},
    ("dmarc.yml", "status"): {"id-token"},
    ("dmarc.yml", "propose"): {"contents", "pull-requests"},
}
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^# v\d+\.\d+\.\d+\b")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)\s*(?P<comment>#.*)?$")


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOW_DIR / name).read_text(encoding="utf-8"))


def triggers(workflow: dict) -> dict:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as true


def jobs() -> list[tuple[str, str, dict]]:
    """(workflow file, job id, job) of every job of every workflow."""
    return [(path.name, job_id, job) for path in WORKFLOWS for job_id, job in load(path.name)["jobs"].items()]


JOBS = [pytest.param(workflow, job_id, job, id=f"{workflow}:{job_id}") for workflow, job_id, job in jobs()]


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


def text(value: object) -> str:
    return yaml.safe_dump(value, sort_keys=True)


# --- schema --------------------------------------------------------------------------------------------


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    assert VALIDATOR.exists(), f"{VALIDATOR} is missing: install the test extras (pip install -e '.[test]')"
    command = [str(VALIDATOR), "--builtin-schema", "vendor.github-workflows", str(path)]
    env = {**os.environ, **DEAD_PROXY}
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, check=False)


def test_the_four_workflows_exist() -> None:
    assert [p.name for p in WORKFLOWS] == ["deploy.yml", "dmarc.yml", "drift.yml", "pull-request.yml"]


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


# --- zizmor -------------------------------------------------------------------------------------------


def zizmor(*paths: Path) -> tuple[int, list[dict], str]:
    """zizmor's findings at medium severity or above; no configuration, and ignore comments not honoured."""
    assert ZIZMOR.exists(), f"{ZIZMOR} is missing: install the test extras (pip install -e '.[test]')"
    command = [str(ZIZMOR), "--offline", "--no-config", "--no-ignores", "--min-severity", "medium",
               "--format", "json", "--no-progress", *map(str, paths)]
    env = {**os.environ, **DEAD_PROXY}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, cwd=ROOT, check=False)
    return done.returncode, json.loads(done.stdout or "[]"), done.stderr


def test_zizmor_finds_nothing_at_medium_or_above() -> None:
    code, findings, log = zizmor(WORKFLOW_DIR.relative_to(ROOT))  # `zizmor --offline .github/workflows/`
    report = [(f["ident"], f["determinations"]["severity"], f["locations"][0]["concrete"]["feature"]) for f in findings]
    assert (code, report) == (0, []), log
    assert all(f"completed .github/workflows/{path.name}" in log for path in WORKFLOWS), log  # every one audited


def test_zizmor_really_audits(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - uses: actions/checkout@v4\n", encoding="utf-8")
    code, findings, log = zizmor(bad)
    assert code != 0, log
    assert {"unpinned-uses", "artipacked"} <= {f["ident"] for f in findings}, log


# --- the trust model ----------------------------------------------------------------------------------


def test_no_trigger_runs_untrusted_code_with_the_repositorys_token() -> None:
    for path in WORKFLOWS:
        assert not {"pull_request_target", "workflow_run"} & set(triggers(load(path.name))), path.name


def test_the_job_that_runs_pull_request_code_has_no_secret_and_no_token() -> None:
    wf = load("pull-request.yml")
    test = wf["jobs"]["test"]
    assert "environment" not in test and test["permissions"] == {"contents": "read"}
    assert "secrets." not in text(test) and "github.token" not in text(test)
    assert "secrets." not in text({k: v for k, v in wf.items() if k != "jobs"})
    assert any(".venv/bin/python -m pytest" in s.get("run", "") for s in test["steps"])


def test_the_preview_waits_for_the_tests_and_an_approval() -> None:
    preview = load("pull-request.yml")["jobs"]["preview"]
    assert preview["needs"] == "test" and preview["environment"] == "preview"
    assert "github.event.pull_request.head.repo.full_name == github.repository" in preview["if"]


@pytest.mark.parametrize(("workflow", "job_id", "job"), JOBS)
def test_credentials_only_in_their_environment(workflow: str, job_id: str, job: dict) -> None:
    environment = ENVIRONMENTS.get((workflow, job_id))
    assert job.get("environment") == environment, f"{workflow} {job_id}: environment {job.get('environment')!r}"
    if environment is None:
        assert "secrets." not in text(job), f"{workflow} {job_id}: a secret outside an environment"
        assert job["permissions"].get("id-token") is None, f"{workflow} {job_id}: an OIDC token outside an environment"


@pytest.mark.parametrize(("workflow", "job_id", "job"), JOBS)
def test_permissions_per_job_least_privilege(workflow: str, job_id: str, job: dict) -> None:
    assert load(workflow)["permissions"] == {}, f"{workflow}: workflow-wide permissions"
    permissions = job["permissions"]
    assert isinstance(permissions, dict), f"{workflow} {job_id}: {permissions!r}"
    assert set(permissions.values()) <= {"read", "write"}
    written = {scope for scope, level in permissions.items() if level == "write"}
    assert written == WRITE_PERMISSIONS.get((workflow, job_id), set()), f"{workflow} {job_id}: writes {written}"
    assert set(permissions) - written <= {"contents"}, f"{workflow} {job_id}: reads more than contents"


@pytest.mark.parametrize(("workflow", "job_id", "job"), JOBS)
def test_every_job_has_a_timeout(workflow: str, job_id: str, job: dict) -> None:
    assert isinstance(job.get("timeout-minutes"), int) and 1 <= job["timeout-minutes"] <= 60, f"{workflow} {job_id}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_secrets_only_at_step_level(path: Path) -> None:
    wf = load(path.name)
    assert "secrets." not in text({k: v for k, v in wf.items() if k != "jobs"}), f"{path.name}: workflow level"
    for job_id, job in wf["jobs"].items():
        assert "secrets." not in text({k: v for k, v in job.items() if k != "steps"}), f"{path.name} {job_id}"


def test_only_main_deploys() -> None:
    wf = load("deploy.yml")
    assert set(triggers(wf)) == {"push", "workflow_dispatch"}
    assert triggers(wf)["push"] == {"branches": ["main"]}
    assert triggers(wf)["workflow_dispatch"] is None  # no inputs: nothing to choose but the branch
    for workflow, job_id, job in jobs():
        if job.get("environment") == "production":
            assert workflow == "deploy.yml"
            assert "github.ref == 'refs/heads/main'" in job["if"], f"{workflow} {job_id}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_a_dispatched_run_works_only_on_main(path: Path) -> None:
    wf = load(path.name)
    if "workflow_dispatch" not in triggers(wf):
        return
    for job_id, job in wf["jobs"].items():
        if "needs" not in job:  # the others wait for these
            assert "github.ref == 'refs/heads/main'" in job.get("if", ""), f"{path.name} {job_id}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_by_commit_with_their_version(path: Path) -> None:
    lines = [m for m in map(USES_LINE.match, path.read_text(encoding="utf-8").splitlines()) if m]
    assert len(lines) == sum("uses" in s for s in steps(load(path.name)))  # every `uses:` was seen
    for match in lines:
        assert PINNED.match(match["ref"]), f"{path.name}: {match['ref']} is not pinned by a 40-hex commit"
        assert VERSION_COMMENT.match(match["comment"] or ""), f"{path.name}: {match['ref']} has no `# vX.Y.Z`"


def test_each_action_is_pinned_to_one_commit_everywhere() -> None:
    pins: dict[str, set[tuple[str, str]]] = {}
    for path in WORKFLOWS:
        for match in filter(None, map(USES_LINE.match, path.read_text(encoding="utf-8").splitlines())):
            action, commit = match["ref"].split("@")
            pins.setdefault(action, set()).add((commit, match["comment"].split()[1]))
    assert all(len(found) == 1 for found in pins.values()), pins
    assert {"actions/checkout", "actions/setup-python", "pulumi/actions"} <= set(pins)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_checkout_keeps_no_credentials(path: Path) -> None:
    checkouts = [s for s in steps(load(path.name)) if s.get("uses", "").startswith("actions/checkout@")]
    assert checkouts
    for s in checkouts:
        assert s["with"]["persist-credentials"] is False, path.name


def test_the_pull_requests_use_the_workflows_own_token() -> None:
    pr = step(load("drift.yml"), "Open the lock pull request")
    assert pr["with"]["token"] == "${{ github.token }}"
    assert step(load("dmarc.yml"), "Open the DMARC stage pull request")["with"]["token"] == "${{ github.token }}"


def test_the_trust_conditions_are_documented_for_each_environment() -> None:
    doc = GITOPS.read_text(encoding="utf-8")
    for environment in set(ENVIRONMENTS.values()):
        condition = f'"token.actions.githubusercontent.com:sub": "repo:acme/sending-domain:environment:{environment}"'
        assert condition in doc, environment
    assert '"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"' in doc
    assert "StringLike" not in doc  # exact subjects only: a wildcard admits pull requests


# --- the hashed lock ----------------------------------------------------------------------------------

_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)")


def locked() -> dict[str, tuple[str, list[str]]]:
    """name → (version, hashes) of every requirement in the lock."""
    entries: dict[str, tuple[str, list[str]]] = {}
    logical = LOCK.read_text(encoding="utf-8").replace("\\\n", " ")
    for line in map(str.strip, logical.splitlines()):
        if not line or line.startswith("#"):
            continue
        match = _PIN.match(line)
        assert match, f"{LOCK.name}: not an exact pin: {line}"
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})\b", line)
        entries[canonicalize_name(match["name"])] = (match["version"], hashes)
    return entries


def project_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    names = [*project["project"]["dependencies"], *project["build-system"]["requires"]]
    for extra in ("pulumi", "test"):
        names += project["project"]["optional-dependencies"][extra]
    return [r for r in map(Requirement, names) if canonicalize_name(r.name) != "sending-domain"]


def test_every_locked_requirement_is_pinned_with_hashes() -> None:
    entries = locked()
    assert len(entries) > 50
    for name, (version, hashes) in entries.items():
        assert hashes, f"{name}=={version} has no sha256 hash"


def test_the_lock_covers_what_pyproject_asks_for() -> None:
    entries = locked()
    for requirement in project_requirements():
        name = canonicalize_name(requirement.name)
        assert name in entries, f"{requirement} is not in {LOCK.name}: refresh the lock (docs/gitops.md)"
        version = entries[name][0]
        assert requirement.specifier.contains(version, prereleases=True), f"{name}=={version} breaks {requirement}"
    assert "zizmor" in entries and "check-jsonschema" in entries and "setuptools" in entries


def test_the_lock_says_how_it_was_made_and_the_docs_say_the_same() -> None:
    header = LOCK.read_text(encoding="utf-8").split("\n\n", 1)[0]
    assert "autogenerated by pip-compile with Python 3.11" in header
    (command,) = [line[1:].strip() for line in header.splitlines() if line.startswith("#    pip-compile")]
    assert "--generate-hashes" in command and "--output-file=.github/requirements-ci.txt" in command
    assert command in GITOPS.read_text(encoding="utf-8")
    pythons = {s["with"]["python-version"] for s in steps_of_all() if s.get("uses", "").startswith("actions/setup-python@")}
    assert pythons == {"3.11"}  # the lock is resolved for the Python the workflows run


def steps_of_all() -> list[dict]:
    return [s for path in WORKFLOWS for s in steps(load(path.name))]


@pytest.mark.parametrize(("workflow", "job_id", "job"), JOBS)
def test_installs_come_from_the_hashed_lock(workflow: str, job_id: str, job: dict) -> None:
    installs = [line.strip() for s in job.get("steps", []) for line in s.get("run", "").splitlines() if "pip install" in line]
    for line in installs:
        assert line in (
            ".venv/bin/pip install -q --require-hashes --no-deps -r .github/requirements-ci.txt",
            ".venv/bin/pip install -q --no-deps --no-build-isolation -e .",  # the project itself, nothing else
        ), f"{workflow} {job_id}: {line}"
    if installs:
        assert len(installs) == 2 and "--require-hashes" in installs[0], f"{workflow} {job_id}"


# --- commands ------------------------------------------------------------------------------------------


def test_workflows_run_sending_domain_commands() -> None:
    names = {" ".join(argument_lists(f.text)[0][:2]) for f in workflow_commands()}
    assert {"plan --stack", "verify --stack", "drift --stack", "spf lock", "dmarc ingest", "dmarc status", "dmarc propose"} <= names


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


def test_ci_runs_the_readmes_tests_on_the_locked_install() -> None:
    venv, _, run = (part.strip() for part in readme_test_command().split("&&"))
    lines = [line.strip() for path in WORKFLOWS for _, line in run_lines(path) if "pytest" in line]
    assert lines == [run]
    test = {s.get("name"): s for s in load("pull-request.yml")["jobs"]["test"]["steps"]}
    assert list(test).index("Install (hashed lock)") < list(test).index("Test")
    assert test["Test"]["run"].strip() == run
    assert venv in [line.strip() for line in test["Install (hashed lock)"]["run"].splitlines()]


def test_no_secret_is_expanded_into_a_script() -> None:
    for path in WORKFLOWS:
        for s in steps(load(path.name)):
            assert "secrets." not in s.get("run", ""), f"{path.name}: {s.get('name')} puts a secret in its script"


# --- shape ---------------------------------------------------------------------------------------------


def test_pull_request_workflow() -> None:
    wf = load("pull-request.yml")
    assert set(triggers(wf)) == {"pull_request"}
    preview = wf["jobs"]["preview"]
    names = [s.get("name") for s in preview["steps"]]
    assert names.index("Install (hashed lock)") < names.index("pulumi preview")  # the action does not pip-install
    up = step(wf, "pulumi preview")
    assert up["uses"].startswith("pulumi/actions@")
    assert up["with"]["command"] == "preview" and up["with"]["comment-on-pr"] is True
    assert up["with"]["work-dir"] == "."
    assert "env.STACK" in up["with"]["stack-name"]
    assert set(up["env"]) == {"PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "CLOUDFLARE_API_TOKEN"}
    python = next(s for s in steps(wf) if s.get("uses", "").startswith("actions/setup-python"))
    assert python["with"]["python-version"] == "3.11"
    assert "sending-domain plan" in step(wf, "Plan (offline, from the SPF lock)")["run"]


def test_deploy_workflow_verifies_what_it_deployed() -> None:
    wf = load("deploy.yml")
    job = wf["jobs"]["deploy"]
    assert job["permissions"]["id-token"] == "write"
    names = [s.get("name") for s in steps(wf)]
    up = step(wf, "pulumi up")
    assert up["uses"].startswith("pulumi/actions@") and up["with"]["command"] == "up"
    assert names.index("pulumi up") < names.index("Stack outputs") < names.index("Verify the deployment")
    assert "pulumi stack output --json" in step(wf, "Stack outputs")["run"]
    assert "> outputs.json" in step(wf, "Stack outputs")["run"]
    verify = step(wf, "Verify the deployment")
    assert "--outputs outputs.json" in verify["run"] and "continue-on-error" not in verify
    aws = next(s for s in steps(wf) if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@"))
    assert "role-to-assume" in aws["with"]
    assert wf["concurrency"]["cancel-in-progress"] is False  # never cancel a deployment half way


def test_drift_workflow_shape() -> None:
    wf = load("drift.yml")
    assert set(triggers(wf)) == {"schedule", "workflow_dispatch"}
    check, report, lock_pr = (wf["jobs"][name] for name in ("check", "report", "lock-pr"))
    refresh = step(wf, "pulumi refresh (preview only)")["run"]
    assert "pulumi refresh" in refresh and "--preview-only" in refresh and "--expect-no-changes" in refresh
    assert step(wf, "Install the Pulumi CLI")["uses"].startswith("pulumi/actions@")
    assert set(check["outputs"]) == {"refresh", "dns", "vendors", "dns-report", "vendors-report"}
    assert report["needs"] == "check" and lock_pr["needs"] == "check"
    assert all(f"needs.check.outputs.{o} == 'drift'" in report["if"] for o in ("refresh", "dns", "vendors"))
    assert lock_pr["if"] == "needs.check.outputs.vendors == 'drift'"
    issue = step(wf, "Open or update the drift issue")["run"]
    assert "gh issue list --label drift" in issue and "gh issue create" in issue and "gh issue comment" in issue
    pr = step(wf, "Open the lock pull request")
    assert pr["uses"].startswith("peter-evans/create-pull-request@") and pr["with"]["add-paths"] == "stacks/spf.lock.json"
    assert "sending-domain spf lock --update" in step(wf, "Refresh the vendor lock")["run"]
    assert step(wf, "Fail the run on drift")["run"].rstrip().endswith("exit 1")


# --- the shell steps, run for real ------------------------------------------------------------------------


def fake_program(directory: Path, name: str) -> None:
    path = directory / name
    path.write_text('#!/bin/sh\n[ -n "$FAKE_OUTPUT" ] && echo "$FAKE_OUTPUT"\nexit "$FAKE_EXIT"\n', encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def run_step(tmp_path: Path, name: str, exit_code: int = 0, output: str = "",
             env: dict[str, str] | None = None, workflow: str = "drift.yml",
             real: bool = False) -> tuple[int, dict[str, str], str]:
    """Run one step's script as GitHub does (``bash -e``) with stand-ins; returns (exit, step outputs, log)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for program in ("pulumi",) if real else ("pulumi", "sending-domain"):  # real: the installed sending-domain
        fake_program(bin_dir, program)
    gh = bin_dir / "gh"
    # gh records each call in $GH_LOG, with the --body-file it was given; `issue list` answers $FAKE_ISSUE.
    gh.write_text('#!/bin/bash\necho "gh $*" >> "$GH_LOG"\n'
                  'if [ "$1 $2" = "issue list" ]; then echo "$FAKE_ISSUE"; fi\n'
                  'while [ $# -gt 0 ]; do if [ "$1" = --body-file ]; then cat "$2" >> "$GH_LOG"; fi; shift; done\n',
                  encoding="utf-8")
    gh.chmod(gh.stat().st_mode | stat.S_IXUSR)
    outputs = tmp_path / "github_output"
    outputs.write_text("", encoding="utf-8")
    (tmp_path / "gh.log").write_text("", encoding="utf-8")
    variables = {"PATH": f"{bin_dir}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}", "GITHUB_OUTPUT": str(outputs),
                 "STACK": "dev", "RUNNER_TEMP": str(tmp_path), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
                 "FAKE_EXIT": str(exit_code), "FAKE_OUTPUT": output, "GH_LOG": str(tmp_path / "gh.log"),
                 "FAKE_ISSUE": "", "RUN_URL": "https://ci.example/run/1", **(env or {})}
    script = step(load(workflow), name)["run"]
    done = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, env=variables, capture_output=True, text=True,
                          timeout=60, check=False)
    result = dict(line.split("=", 1) for line in outputs.read_text(encoding="utf-8").splitlines())
    return done.returncode, result, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("exit_code", "output", "result", "step_exit"),
    [
        (0, "", "clean", 0),
        (7, "Resources: 1 changed", "drift", 0),  # Pulumi CLI 3.227 and later: a code of its own for "changes found"
        (255, "error: no changes were expected for refresh but changes were proposed", "drift", 0),  # 3.226
        (255, "error: no changes were expected but changes occurred", "drift", 0),  # older CLIs
        (255, "error: failed to decrypt: incorrect passphrase", "error", 1),
        (1, "error: something else", "error", 1),
        (7, "error: something else", "drift", 0),
    ],
)
def test_refresh_step_tells_drift_from_errors(tmp_path: Path, exit_code: int, output: str, result: str,
                                              step_exit: int) -> None:
    code, found, log = run_step(tmp_path, "pulumi refresh (preview only)", exit_code, output)
    assert (found.get("result"), code) == (result, step_exit), log
    if result == "error":
        assert f"::error::pulumi refresh failed (exit {exit_code})" in log


@pytest.mark.parametrize("name", ["sending-domain drift", "sending-domain spf lock --check"])
@pytest.mark.parametrize(("exit_code", "result", "step_exit"), [(0, "clean", 0), (1, "drift", 0), (2, None, 2), (3, None, 3)])
def test_sending_domain_steps_tell_drift_from_errors(tmp_path: Path, name: str, exit_code: int, result: str | None,
                                                     step_exit: int) -> None:
    code, found, log = run_step(tmp_path, name, exit_code, "some output")
    assert (found.get("result"), code) == (result, step_exit), log
    if result is not None:  # the report travels to the issue job as base64
        assert base64.b64decode(found["report"]).decode() == "some output\n"


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def issue_step(tmp_path: Path, refresh: str = "clean", vendors: str = "clean", dns_report: str = "",
               vendors_report: str = "", open_issue: str = "") -> tuple[int, str, str]:
    env = {"REFRESH": refresh, "VENDORS": vendors, "DNS_REPORT": b64(dns_report),
           "VENDORS_REPORT": b64(vendors_report), "FAKE_ISSUE": open_issue}
    code, _, log = run_step(tmp_path, "Open or update the drift issue", env=env)
    return code, (tmp_path / "gh.log").read_text(encoding="utf-8"), log


@pytest.mark.parametrize("dns_report", ["", "\n\n  \n"])
def test_an_empty_report_opens_no_issue(tmp_path: Path, dns_report: str) -> None:
    code, calls, log = issue_step(tmp_path, dns_report=dns_report, vendors="drift", vendors_report=" \n")
    assert code == 1 and calls == "", log
    assert "::error::drift was reported but the report is empty" in log


def test_a_report_opens_an_issue(tmp_path: Path) -> None:
    code, calls, log = issue_step(tmp_path, dns_report="| update | example.com TXT | ... |\n")
    assert code == 0, log
    assert "gh issue create --title DNS drift in stack dev --label drift --body-file issue.md" in calls
    assert "| update | example.com TXT | ... |" in calls and "([run](https://ci.example/run/1))" in calls
    assert "pulumi refresh" not in calls


def test_a_standing_drift_is_a_comment_on_the_open_issue(tmp_path: Path) -> None:
    code, calls, log = issue_step(tmp_path, dns_report="| delete | example.com TXT | ... |\n", open_issue="42")
    assert code == 0, log
    assert "gh issue comment 42 --body-file issue.md" in calls and "gh issue create" not in calls


def test_refresh_drift_alone_is_a_report(tmp_path: Path) -> None:
    code, calls, log = issue_step(tmp_path, refresh="drift")
    assert code == 0, log
    assert "**pulumi refresh** found resources that differ from the Pulumi state" in calls


def test_vendor_drift_is_in_the_issue(tmp_path: Path) -> None:
    code, calls, log = issue_step(tmp_path, vendors="drift", vendors_report="include:sendgrid.net: +1 network\n")
    assert code == 0, log
    assert "include:sendgrid.net: +1 network" in calls and "gh issue create" in calls


# --- the DMARC workflow ------------------------------------------------------------------------------------


def test_dmarc_workflow_shape() -> None:
    wf = load("dmarc.yml")
    assert set(triggers(wf)) == {"schedule", "workflow_dispatch"}
    status, propose = wf["jobs"]["status"], wf["jobs"]["propose"]
    assert "vars.DMARC_REPORTS != ''" in status["if"] and set(status["outputs"]) == {"result", "evidence", "report"}
    assert propose["needs"] == "status" and propose["if"] == "needs.status.outputs.result == 'pass'"
    assert "--write" in step(wf, "sending-domain dmarc status")["run"]
    pr = step(wf, "Open the DMARC stage pull request")
    assert pr["if"] == "steps.propose.outputs.changed == 'true'"
    assert pr["with"]["add-paths"].splitlines() == ["stacks/dmarc-evidence.json", "stacks/Pulumi.${{ vars.STACK }}.yaml"]


@pytest.mark.parametrize(("exit_code", "summary", "result", "step_exit"), [
    (0, "### example.com: p=none → p=quarantine pct=10: PASS", "pass", 0),
    (1, "### example.com: p=none → p=quarantine pct=10: FAIL", "none", 0),
    (0, "### example.com: p=none → p=quarantine pct=10: INSUFFICIENT_EVIDENCE", "none", 0),
    (2, "", None, 2),
])
def test_the_status_step_hands_on_a_pass_only(tmp_path: Path, exit_code: int, summary: str, result: str | None,
                                              step_exit: int) -> None:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "dmarc-evidence.json").write_text('{"stacks": {}}\n', encoding="utf-8")
    code, found, log = run_step(tmp_path, "sending-domain dmarc status", exit_code, summary, workflow="dmarc.yml")
    assert (found.get("result"), code) == (result, step_exit), log
    if result is not None:
        assert gzip.decompress(base64.b64decode(found["evidence"])) == b'{"stacks": {}}\n'
        assert base64.b64decode(found["report"]).decode() == summary + "\n"


def test_the_propose_step_edits_the_stack_for_real(tmp_path: Path) -> None:
    """The real ``sending-domain dmarc propose`` in a checkout: the stack file changes and the body says why."""
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    for name in ("spf.lock.json",):
        (stacks / name).write_bytes((ROOT / "stacks" / name).read_bytes())
    (stacks / "Pulumi.dev.yaml").write_bytes((ROOT / "stacks" / "Pulumi.example.yaml").read_bytes())
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "."], cwd=tmp_path, check=True)
    evidence = {"version": 1, "kind": "dmarc-evidence", "stacks": {"dev": {"example.com": {
        "verdict": "PASS", "stage": "p=none", "next_stage": "p=quarantine pct=10", "judged_at": "2026-11-30T07:41:00Z"}}}}
    env = {"EVIDENCE": base64.b64encode(gzip.compress(json.dumps(evidence).encode())).decode(),
           "REPORT": b64("### example.com: p=none → p=quarantine pct=10: PASS\n")}
    code, found, log = run_step(tmp_path, "Take the steps the evidence admits", env=env, workflow="dmarc.yml", real=True)
    assert (code, found.get("changed")) == (0, "true"), log
    assert "example.com: p=none → p=quarantine pct=10: set in stacks/Pulumi.dev.yaml" in log
    body = (tmp_path / "dmarc-pr.md").read_text(encoding="utf-8")
    assert "set in stacks/Pulumi.dev.yaml" in body and "### example.com: p=none → p=quarantine pct=10: PASS" in body
    assert json.loads((stacks / "dmarc-evidence.json").read_text(encoding="utf-8")) == evidence
    # nothing admitted at this stage any more: no change, so no pull request
    code, found, log = run_step(tmp_path, "Take the steps the evidence admits", env=env, workflow="dmarc.yml", real=True)
    subprocess.run(["git", "add", "."], cwd=tmp_path, check=True)
    code, found, log = run_step(tmp_path, "Take the steps the evidence admits", env=env, workflow="dmarc.yml", real=True)
    assert (code, found.get("changed")) == (0, "false"), log
