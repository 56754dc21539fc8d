"""The stack-file loader: --stack resolution, --config files, and clear errors instead of tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sending_domain.core.config import parse_settings
from sending_domain.core.errors import ConfigError
from sending_domain.stack import LoadedStack, load_stack, settings_from_pulumi_config

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "stacks" / "Pulumi.example.yaml"
BAD_STACKS = ROOT / "tests" / "fixtures" / "bad_stacks"

MINIMAL = """\
config:
  aws:region: eu-west-1
  sending-domain:settings:
    domains:
      - domain: example.com
        zone: example.com
        senders: [amazonses]
        dmarc: {p: none}
"""


def write_stack(project: Path, name: str, text: str) -> Path:
    path = project / "stacks" / f"Pulumi.{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load_problems(**kwargs: object) -> list[tuple[str, str, str]]:
    with pytest.raises(ConfigError) as info:
        load_stack(**kwargs)  # type: ignore[arg-type]
    return [(p.path, p.code, p.message) for p in info.value.problems]


# --- finding the file --------------------------------------------------------------------------


def test_stack_name_reads_stacks_dir_of_the_project(tmp_path: Path) -> None:
    path = write_stack(tmp_path, "dev", MINIMAL)
    loaded = load_stack(stack="dev", project_dir=tmp_path)
    assert isinstance(loaded, LoadedStack)
    assert (loaded.path, loaded.stack_name) == (path, "dev")
    assert [d.domain for d in loaded.settings.domains] == ["example.com"]


def test_fully_qualified_stack_name_uses_its_last_part(tmp_path: Path) -> None:
    path = write_stack(tmp_path, "prod", MINIMAL)
    loaded = load_stack(stack="acme/sending-domain/prod", project_dir=tmp_path)
    assert (loaded.path, loaded.stack_name) == (path, "prod")


def test_project_dir_defaults_to_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_stack(tmp_path, "dev", MINIMAL)
    monkeypatch.chdir(tmp_path)
    assert load_stack(stack="dev").path == Path.cwd() / "stacks" / "Pulumi.dev.yaml"


def test_config_file_reads_any_stack_file_and_names_the_stack() -> None:
    loaded = load_stack(config_file=str(EXAMPLE))
    assert loaded.stack_name == "example"
    assert loaded.path == EXAMPLE
    assert loaded.settings == parse_settings(yaml.safe_load(EXAMPLE.read_text())["config"]["sending-domain:settings"])


def test_config_file_with_another_name_uses_its_stem(tmp_path: Path) -> None:
    path = tmp_path / "staging.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert load_stack(config_file=path).stack_name == "staging"


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"stack": "dev", "config_file": "stacks/Pulumi.dev.yaml"}],
    ids=["neither", "both"],
)
def test_exactly_one_of_stack_and_config(kwargs: dict[str, str], tmp_path: Path) -> None:
    assert [p[:2] for p in load_problems(project_dir=tmp_path, **kwargs)] == [("", "usage")]


@pytest.mark.parametrize("name", ["../dev", "a/b/c/dev", "dev yaml", "..", ""])
def test_bad_stack_names_are_refused(name: str, tmp_path: Path) -> None:
    assert [p[:2] for p in load_problems(stack=name, project_dir=tmp_path)] == [("", "stack-name")]


# --- clear errors ------------------------------------------------------------------------------


def test_missing_file_names_the_path_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_stack(stack="nope", project_dir=tmp_path)
    expected = tmp_path / "stacks" / "Pulumi.nope.yaml"
    assert [(p.path, p.code) for p in info.value.problems] == [("", "file-not-found")]
    assert info.value.source == str(expected)
    assert f"no stack file at {expected}" in str(info.value)
    assert info.value.exit_code == 2


def test_a_directory_is_not_readable(tmp_path: Path) -> None:
    (tmp_path / "stacks" / "Pulumi.dir.yaml").mkdir(parents=True)
    assert [p[:2] for p in load_problems(stack="dir", project_dir=tmp_path)] == [("", "file-unreadable")]


def test_yaml_syntax_error_reports_line_and_column(tmp_path: Path) -> None:
    text = MINIMAL.replace("        senders: [amazonses]\n", "        senders: [amazonses\n")
    write_stack(tmp_path, "dev", text)
    ((path, code, message),) = load_problems(stack="dev", project_dir=tmp_path)
    assert (path, code) == ("", "yaml-syntax")
    assert message == (
        "invalid YAML at line 8, column 14: while parsing a flow sequence, expected ',' or ']', but got ':'"
        " (it began at line 7)"
    )


def test_bad_indentation_reports_its_line(tmp_path: Path) -> None:
    write_stack(tmp_path, "dev", "config:\n  sending-domain:settings:\n    domains: []\n   oops: 1\n")
    ((_, code, message),) = load_problems(stack="dev", project_dir=tmp_path)
    assert code == "yaml-syntax"
    assert "line 4" in message


@pytest.mark.parametrize(
    ("text", "path", "hint"),
    [
        ("", "", "top-level config: mapping"),
        ("- just a list\n", "", "top-level config: mapping"),
        ("config:\n  aws:region: eu-west-1\n", "config", "no sending-domain:settings under config:;"),
        ("config:\n  settings: {domains: []}\n", "config", "(found 'settings'; the project is named sending-domain)"),
    ],
    ids=["empty", "list", "no-key", "unqualified-key"],
)
def test_missing_settings_key(tmp_path: Path, text: str, path: str, hint: str) -> None:
    write_stack(tmp_path, "dev", text)
    ((where, code, message),) = load_problems(stack="dev", project_dir=tmp_path)
    assert (where, code) == (path, "missing-settings")
    assert hint in message


def test_duplicate_yaml_keys_are_problems_not_silent(tmp_path: Path) -> None:
    text = MINIMAL.replace("        zone: example.com\n", "        zone: example.com\n        zone: example.com\n")
    write_stack(tmp_path, "dev", text)
    assert load_problems(stack="dev", project_dir=tmp_path) == [
        ("domains[0].zone", "yaml-duplicate-key", "key 'zone' appears twice (lines 6 and 7); keep one"),
    ]


def test_duplicate_keys_and_settings_problems_come_together(tmp_path: Path) -> None:
    text = MINIMAL.replace("aws:region: eu-west-1\n", "aws:region: eu-west-1\n  aws:region: us-east-1\n")
    text = text.replace("{p: none}", "{p: nope}")
    write_stack(tmp_path, "dev", text)
    assert [p[:2] for p in load_problems(stack="dev", project_dir=tmp_path)] == [
        ("config.aws:region", "yaml-duplicate-key"),
        ("domains[0].dmarc.p", "enum"),
    ]


def test_settings_problems_point_at_their_line(tmp_path: Path) -> None:
    text = MINIMAL.replace("{p: none}", "{p: nope}").replace("zone: example.com", "zone: example.com\n        ttl: 5")
    write_stack(tmp_path, "dev", text)
    assert load_problems(stack="dev", project_dir=tmp_path) == [
        ("domains[0].ttl", "range", "must be 1 (automatic) or 60..86400 seconds (line 7)"),
        ("domains[0].dmarc.p", "enum", "must be one of none, quarantine, reject; did you mean 'none'? (line 9)"),
    ]


def test_a_missing_key_points_at_its_parent(tmp_path: Path) -> None:
    write_stack(tmp_path, "dev", MINIMAL.replace("        zone: example.com\n", ""))
    assert load_problems(stack="dev", project_dir=tmp_path) == [
        ("domains[0].zone", "required", "set zone (the Cloudflare zone name) or zoneId (its 32-character id) (line 5)"),
    ]


@pytest.mark.parametrize("fixture", sorted(p.name for p in BAD_STACKS.glob("*.yaml")))
def test_loader_reports_what_the_core_reports_plus_lines(fixture: str) -> None:
    path = BAD_STACKS / fixture
    with pytest.raises(ConfigError) as core:
        parse_settings(yaml.safe_load(path.read_text())["config"]["sending-domain:settings"])
    with pytest.raises(ConfigError) as loaded:
        load_stack(config_file=path)
    assert loaded.value.source == str(path)
    assert [(p.path, p.code) for p in loaded.value.problems] == [(p.path, p.code) for p in core.value.problems]
    for mine, theirs in zip(loaded.value.problems, core.value.problems):
        assert mine.message.startswith(theirs.message + " (line ")


def test_pulumi_config_object_goes_through_the_same_parser() -> None:
    raw = yaml.safe_load(EXAMPLE.read_text())["config"]["sending-domain:settings"]
    assert settings_from_pulumi_config(raw) == load_stack(config_file=EXAMPLE).settings
    with pytest.raises(ConfigError) as info:
        settings_from_pulumi_config({"domains": []})
    assert info.value.source == "Pulumi config sending-domain:settings"
