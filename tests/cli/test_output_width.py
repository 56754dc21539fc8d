"""Human output fits the width (COLUMNS honoured), colour only on a terminal and never with NO_COLOR, and the full
values stay in JSON and zone output."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from sending_domain.cli import term
from sending_domain.cli.main import main
from tests.cli.test_drift_cli import VENDORS, World, keys, world  # noqa: F401 (fixtures)
from tests.conftest import MakeDnsServer
from tests.verify.deployment import STACK_FILE, outputs_document

ROOT = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def longest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("columns", [40, 60, 80, 120])
def test_plan_table_fits_columns(in_repo, capsys, monkeypatch: pytest.MonkeyPatch, columns: int) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    code, out = run(capsys, "plan", "--stack", "example")
    assert code == 0 and longest(out) <= columns and "…" in out
    assert "warning: DMARC reports for example.com" in out  # warnings wrap, they are not cut


def test_full_values_without_a_terminal_and_in_json_and_zone(in_repo, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    _, table = run(capsys, "plan", "--stack", "example")  # captured: not a terminal, so nothing is shortened
    monkeypatch.setenv("COLUMNS", "60")
    _, data = run(capsys, "plan", "--stack", "example", "--json")
    _, zone = run(capsys, "plan", "--stack", "example", "--format", "zone")
    spf = next(r for d in json.loads(data)["domains"] for r in d["records"] if r["purpose"] == "spf")
    assert len(spf["value"]) > 200 and "…" not in table and "…" not in data and "…" not in zone
    assert all(part in table and part in zone for part in spf["strings"])


def test_verify_text_fits_columns(capsys, monkeypatch: pytest.MonkeyPatch, dns_server: MakeDnsServer, tmp_path: Path) -> None:
    server = dns_server("")  # nothing published: every check fails, with long details and hints
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(outputs_document()), encoding="utf-8")
    args = ["verify", "--config", str(STACK_FILE), "--nameserver", server.nameserver, "--no-ses", "--outputs", str(outputs)]
    monkeypatch.setenv("COLUMNS", "70")
    code, out = run(capsys, *args)
    assert code == 1 and longest(out) <= 70
    assert "\x1b[" not in out  # not a terminal: no colour


def test_drift_text_fits_columns_and_json_keeps_values(capsys, monkeypatch: pytest.MonkeyPatch, world: World) -> None:  # noqa: F811
    world.serve(world.customer.replace("v=DMARC1; p=none", "v=DMARC1; p=reject", 1).replace("~all", "-all"))
    monkeypatch.setenv("COLUMNS", "72")
    code, out, _ = world.drift(capsys)
    assert code == 1 and longest(out) <= 72 and "…" in out
    code, data, _ = world.drift(capsys, "--json")
    assert all("…" not in (c["before"] or "") + (c["after"] or "") for c in json.loads(data)["changes"])


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stream", "env", "enabled"),
    [
        (Tty(), {}, True),
        (Tty(), {"NO_COLOR": "1"}, False),
        (Tty(), {"NO_COLOR": ""}, True),  # no-color.org: only a non-empty value counts
        (Tty(), {"TERM": "dumb"}, False),
        (io.StringIO(), {}, False),
    ],
)
def test_colour_only_on_a_terminal_and_never_with_no_color(stream, env: dict, enabled: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert term.colour_enabled(stream) is enabled
    assert ("\x1b[" in term.paint("FAIL", "fail", term.colour_enabled(stream))) is enabled


@pytest.mark.parametrize(("text", "room", "out"), [
    ("abcdefghij", 10, "abcdefghij"),
    ("abcdefghijkl", 10, "abcdef…jkl"),
    ("abcdefghijkl", 1, "…"),
])
def test_elide_keeps_both_ends(text: str, room: int, out: str) -> None:
    assert term.elide(text, room) == out and len(term.elide(text, room)) <= room


def test_verify_wait_says_what_still_fails_on_stderr_unless_quiet(capsys, dns_server: MakeDnsServer, tmp_path: Path) -> None:
    server = dns_server("")
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(outputs_document()), encoding="utf-8")
    args = ["verify", "--config", str(STACK_FILE), "--nameserver", server.nameserver, "--no-ses", "--outputs", str(outputs), "--wait", "0.5"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "verify: attempt 1: 2 domain(s) not passing yet (example.com, example.net); next attempt in 0 s" in err
    assert main([*args, "--quiet"]) == 1
    assert capsys.readouterr().err == ""


def test_quiet_keeps_stderr_for_errors(in_repo, capsys) -> None:
    assert main(["plan", "--stack", "example", "--format", "zone", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "; warning: example.com: DMARC reports" in captured.out


def test_quiet_drift_still_reports_what_it_left_out(capsys, world: World) -> None:  # noqa: F811
    world.server.fail("_dmarc.example.com", "TXT", "servfail")
    code, out, err = world.drift(capsys, "--quiet")
    assert code == 3 and err == "" and out.startswith("INCOMPLETE")


def test_drift_counts_its_answers_for_progress(world: World) -> None:  # noqa: F811
    from sending_domain.cli.drift import observe
    from sending_domain.desired import desired_domains, read_lock, run_sync
    from sending_domain.dns.resolver import AsyncResolver
    from sending_domain.stack import load_stack

    loaded = load_stack(config_file=world.config)
    desired = run_sync(desired_domains(loaded.settings, lock=read_lock(world.config.parent / "spf.lock.json"), dkim_public=world.dkim_public))
    seen: list[tuple[int, int]] = []
    observed, failed = run_sync(observe(desired, AsyncResolver([world.server.nameserver]), lambda d, k: seen.append((d, k))))
    assert seen and seen[-1] == (len(observed) + len(failed),) * 2
    assert [d for d, _ in seen] == list(range(1, len(seen) + 1))


def test_progress_draws_on_a_terminal_only_for_large_runs() -> None:
    assert term.progress_for(io.StringIO(), "x", items=500, quiet=False) is None  # not a terminal
    assert term.progress_for(Tty(), "x", items=3, quiet=False) is None  # small
    assert term.progress_for(Tty(), "x", items=500, quiet=True) is None
    stream = Tty()
    progress = term.progress_for(stream, "drift: DNS answers", items=500, quiet=False)
    assert progress is not None
    progress(1, 10)
    progress(10, 10)
    progress.clear()
    assert stream.getvalue() == "\rdrift: DNS answers 1/10\rdrift: DNS answers 10/10\r\x1b[K"
