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
    # libyaml (the C loader) and PyYAML's own parser word the problem differently; both say where
    assert message.startswith("invalid YAML at line 8, column 14: while parsing a flow sequence, ")
    assert "expected ',' or ']'" in message and message.endswith(" (it began at line 7)")


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


# --- bounded input: what a hostile or broken file cannot do ---------------------------------------------

ALIAS_BOMB = """\
config:
  sending-domain:settings:
    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
    i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


@pytest.fixture(params=["libyaml", "python"])
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every bound holds with PyYAML's C loader and with its pure-Python one (where libyaml is missing)."""
    from sending_domain import stack

    if request.param == "libyaml":
        if not hasattr(yaml, "CSafeLoader"):
            pytest.skip("PyYAML built without libyaml")
        monkeypatch.setattr(stack, "_LOADER", yaml.CSafeLoader)
    else:
        monkeypatch.setattr(stack, "_LOADER", yaml.SafeLoader)
    return request.param


def test_the_c_loader_is_used_when_present() -> None:
    from sending_domain import stack

    assert stack._LOADER is getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def test_alias_bomb_is_refused_at_once_in_little_memory(tmp_path: Path, loader: str) -> None:
    import time
    import tracemalloc

    assert len(ALIAS_BOMB.encode()) < 520  # nine levels of nine aliases: 387 million strings from about 400 bytes
    write_stack(tmp_path, "bomb", ALIAS_BOMB)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        problems = load_problems(stack="bomb", project_dir=tmp_path)
    finally:
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert [p[:2] for p in problems] == [("b[0]", "yaml-alias")]
    assert "line 4" in problems[0][2]
    assert peak < 4 * 2**20, f"{peak} bytes"
    assert elapsed < 1.0, f"{elapsed:.2f} s"  # the bound; fully expanded it took 44 s and 1.1 GB


def test_recursive_alias_is_refused(tmp_path: Path, loader: str) -> None:
    write_stack(tmp_path, "loop", "config:\n  sending-domain:settings: &x\n    domains: [*x]\n")
    assert [p[1] for p in load_problems(stack="loop", project_dir=tmp_path)] == ["yaml-alias"]


def test_an_anchor_used_once_is_harmless_but_its_alias_is_not(tmp_path: Path, loader: str) -> None:
    text = MINIMAL.replace("dmarc: {p: none}", "dmarc: &policy {p: none}")
    write_stack(tmp_path, "dev", text)
    assert load_stack(stack="dev", project_dir=tmp_path).settings.domains[0].domain == "example.com"
    write_stack(tmp_path, "dev", text + "      - domain: example.net\n        senders: [amazonses]\n        dmarc: *policy\n")
    ((path, code, message),) = load_problems(stack="dev", project_dir=tmp_path)
    assert (path, code) == ("domains[1].dmarc", "yaml-alias") and "(line 11)" in message


@pytest.mark.parametrize("depth", [40, 20_000])
def test_deep_nesting_is_refused_with_a_line(tmp_path: Path, loader: str, depth: int) -> None:
    write_stack(tmp_path, "deep", "config:\n  sending-domain:settings:\n    domains: " + "[" * depth + "]" * depth + "\n")
    ((_, code, message),) = load_problems(stack="deep", project_dir=tmp_path)
    assert code in ("yaml-depth", "yaml-syntax")  # libyaml stops at 1,000 levels by itself, with the line
    assert "line 3" in message


def test_a_huge_integer_is_refused_with_its_line(tmp_path: Path, loader: str) -> None:
    write_stack(tmp_path, "big", MINIMAL.replace("zone: example.com", "zone: example.com\n        ttl: " + "9" * 5000))
    ((path, code, message),) = load_problems(stack="big", project_dir=tmp_path)
    assert (path, code) == ("domains[0].ttl", "yaml-number") and "(line 7)" in message


def test_a_value_yaml_cannot_build_is_refused(tmp_path: Path, loader: str) -> None:
    write_stack(tmp_path, "date", MINIMAL.replace("zone: example.com", "zone: example.com\n        note: 2026-02-30"))
    ((_, code, message),) = load_problems(stack="date", project_dir=tmp_path)
    assert code == "yaml-value" and "day is out of range" in message


def test_a_file_over_the_size_cap_is_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sending_domain import stack

    monkeypatch.setattr(stack, "MAX_STACK_BYTES", 1000)
    write_stack(tmp_path, "huge", MINIMAL + "#" * 2000 + "\n")
    assert [p[1] for p in load_problems(stack="huge", project_dir=tmp_path)] == ["file-too-large"]


def test_text_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    path = write_stack(tmp_path, "latin", MINIMAL)
    path.write_bytes(MINIMAL.encode() + b"# caf\xe9\n")
    ((_, code, message),) = load_problems(stack="latin", project_dir=tmp_path)
    assert code == "file-unreadable" and "(line 9," in message


def test_duplicate_keys_are_still_found_with_settings_problems(tmp_path: Path, loader: str) -> None:
    write_stack(tmp_path, "dup", MINIMAL.replace("zone: example.com", "zone: example.com\n        zone: example.com\n        ttl: 0"))
    codes = [p[1] for p in load_problems(stack="dup", project_dir=tmp_path)]
    assert codes[0] == "yaml-duplicate-key" and "range" in codes


def test_a_list_as_a_key_is_refused_with_its_line_not_a_crash(tmp_path: Path, loader: str) -> None:
    write_stack(tmp_path, "cplx", MINIMAL.replace("        zone: example.com\n", "        zone: example.com\n        ? [a, b]\n        : 1\n"))
    ((_, code, message),) = load_problems(stack="cplx", project_dir=tmp_path)
    assert code == "yaml-syntax" and "unhashable key" in message and "line 7" in message


# --- the direct build: plain documents skip PyYAML's constructor, and give the same data -----------------

PLAIN_DOCUMENTS = [
    "a: text\nb: 'quoted'\nc: \"double\"\nd: |\n  block\n",
    "ints: [0, -7, 1_000, 0x1F, 0o17, 017, 0b101, '12', 1:30]\n",
    "floats: [1.5, -2e3, .inf, -.Inf, .nan, 1_0.5, 1:30.5]\n",
    "bools: [yes, No, on, OFF, true, False, y]\nnulls: [~, null, ]\nempty:\n",
    "1: one\n2.5: two\nno: three\n~: four\nnested: {a: [b, {c: [[d]]}], e: {}}\n",
    "anchored: &only-once {a: 1}\nlist: [&x1 one, two]\n",
    "- a list at the top\n- {with: mappings}\n",
]
NOT_PLAIN_DOCUMENTS = {
    "timestamp": "when: 2026-11-30\n",
    "merge key": "a: {<<: {b: 1}, c: 2}\n",
    "set": "s: !!set {a, b}\n",
    "binary": "b: !!binary aGVsbG8=\n",
    "ordered map": "o: !!omap [a: 1]\n",
    "duplicate key": "a: 1\na: 2\n",
    "keys that read alike": "yes: 1\ntrue: 2\n",
    "same text, other type": "1: a\n'1': b\n",
    "equal in Python": "1: a\ntrue: b\n",
    "a list as a key": "? [a, b]\n: 1\n",
    "a long number": "n: " + "9" * 21 + "\n",
    "deep nesting": "d: " + "[" * 32 + "]" * 32 + "\n",
    "str tag on a list": "s: !!str [a]\n",
    "a tag of its own": "t: !mine x\n",
}


@pytest.mark.parametrize("text", PLAIN_DOCUMENTS)
def test_plain_documents_are_built_as_pyyaml_builds_them(text: str, loader: str) -> None:
    from sending_domain import stack

    parser = stack._LOADER(text)
    expected = yaml.load(text, Loader=stack._LOADER)  # noqa: S506 - the safe loaders only
    data = stack._plain_data(parser, parser.get_single_node())
    assert repr(data) == repr(expected)  # repr: nan != nan, and True == 1 would hide a wrong type


@pytest.mark.parametrize("text", NOT_PLAIN_DOCUMENTS.values(), ids=NOT_PLAIN_DOCUMENTS.keys())
def test_anything_else_is_left_to_the_checked_path(text: str, loader: str) -> None:
    from sending_domain import stack

    parser = stack._LOADER(text)
    with pytest.raises(stack._NotPlain):
        stack._plain_data(parser, parser.get_single_node())


def test_the_deepest_nesting_allowed_is_plain(loader: str) -> None:
    from sending_domain import stack

    parser = stack._LOADER("d: " + "[" * 31 + "]" * 31 + "\n")
    assert stack._plain_data(parser, parser.get_single_node()) == yaml.safe_load("d: " + "[" * 31 + "]" * 31)


def many_domains(count: int) -> str:
    """A stack of ``count`` domains with most settings written out, one of them with a problem per section."""
    lines = ["config:", "  sending-domain:settings:", "    defaults: {ttl: 600}", "    domains:"]
    for i in range(count):
        lines += [f"      - domain: d{i}.example.com", "        zone: example.com",
                  "        senders: [amazonses, ip4:192.0.2.0/24]",
                  f"        dkim: {{keys: [{{selector: s{i}, state: active}}, {{selector: n{i}, algorithm: ed25519, state: pending}}]}}",
                  "        dmarc: {p: quarantine, pct: 50, rua: [mailto:dmarc@example.com], fo: 1}",
                  f"        ses: {{region: eu-west-1, mailFrom: bounce{i}}}"]
    return "\n".join(lines) + "\n"


def checked_path_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make load_stack take the checked path (PyYAML's constructor) for every document."""
    from sending_domain import stack

    def refuse(*_: object) -> object:
        raise stack._NotPlain

    monkeypatch.setattr(stack, "_plain_data", refuse)


@pytest.mark.parametrize("text", [EXAMPLE.read_text(), many_domains(30)], ids=["example", "30-domains"])
def test_direct_and_checked_paths_give_the_same_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loader: str, text: str
) -> None:
    from sending_domain import stack

    built: list[object] = []
    plain = stack._plain_data
    monkeypatch.setattr(stack, "_plain_data", lambda *args: built.append(plain(*args)) or built[-1])
    path = write_stack(tmp_path, "dev", text)
    direct = load_stack(config_file=path).settings
    assert built, "the direct build was not used"
    checked_path_only(monkeypatch)
    assert load_stack(config_file=path).settings == direct


def test_direct_and_checked_paths_report_the_same_problems_and_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loader: str
) -> None:
    text = many_domains(3).replace("pct: 50", "pct: 0", 1).replace("region: eu-west-1", "region: eu-westt-1")
    text = text.replace("bounce2}", "bounce2, behaviorOnMxFailure: nope}").replace("ip4:192.0.2.0/24", "ip4:192.0.2.1/24", 1)
    write_stack(tmp_path, "dev", text)
    direct = load_problems(stack="dev", project_dir=tmp_path)
    assert ("domains[0].dmarc.pct", "range", "must be 1..100 (percent) (line 9)") in direct
    assert ("domains[0].senders[1]", "spf-term") == direct[0][:2] and direct[0][2].endswith("(line 7)")
    assert len(direct) == 6  # the pct, the sender, three regions, one behaviour
    checked_path_only(monkeypatch)
    assert load_problems(stack="dev", project_dir=tmp_path) == direct


def test_a_star_in_the_text_takes_the_checked_path_with_the_same_result(tmp_path: Path, loader: str) -> None:
    write_stack(tmp_path, "plain", MINIMAL)
    write_stack(tmp_path, "star", MINIMAL + "# * marks nothing here, but could be an alias elsewhere\n")
    assert load_stack(stack="star", project_dir=tmp_path).settings == load_stack(stack="plain", project_dir=tmp_path).settings


def test_the_cycle_collector_is_back_on_after_loading(tmp_path: Path) -> None:
    import gc

    write_stack(tmp_path, "dev", MINIMAL)
    write_stack(tmp_path, "bad", MINIMAL.replace("{p: none}", "{p: nope}"))
    load_stack(stack="dev", project_dir=tmp_path)
    assert gc.isenabled()
    load_problems(stack="bad", project_dir=tmp_path)
    assert gc.isenabled()
