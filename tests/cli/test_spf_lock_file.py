"""The vendor lock file cannot be lost: atomic writes, an exclusive lock across read-modify-write (two real
processes), recovery of a damaged file by ``--update``, a reader that checks every value and names the entry,
messages that print the lock's path and commands that work as printed, and a vanished vendor reported as drift."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sending_domain.cli.main import main
from sending_domain.core.errors import ConfigError
from sending_domain.core.spf.lock import SpfLock
from sending_domain.spf_lock import update_command, write_atomically

ROOT = Path(__file__).resolve().parents[2]
VENDORS = (ROOT / "tests/fixtures/zones/vendors.zone").read_text(encoding="utf-8")
EXAMPLE = (ROOT / "stacks/Pulumi.example.yaml").read_text(encoding="utf-8")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def stacks(tmp_path: Path) -> Path:
    """Two stacks in one folder, sharing its lock: ``example`` (with mailchimp) and ``other`` (with mailgun)."""
    (tmp_path / "Pulumi.example.yaml").write_text(EXAMPLE)
    (tmp_path / "Pulumi.other.yaml").write_text(EXAMPLE.replace("- mailchimp", "- mailgun"))
    assert "- mailchimp" in EXAMPLE
    return tmp_path


# --- two processes ------------------------------------------------------------------------------------

CHILD = textwrap.dedent("""
    import sys, time
    import sending_domain.spf_lock as spf_lock
    real = spf_lock.write_atomically
    def slow(path, text):  # widen the read-modify-write window so that, without the lock, one write is lost
        time.sleep(0.6)
        real(path, text)
    spf_lock.write_atomically = slow
    from sending_domain.cli.main import main
    sys.exit(main(["spf", "lock", "--update", "--config", sys.argv[1], "--nameserver", sys.argv[2]]))
""")


def test_two_concurrent_updates_for_two_stacks_keep_both_stacks_entries(dns_server, stacks: Path) -> None:
    server = dns_server(VENDORS)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD, str(stacks / f"Pulumi.{name}.yaml"), server.nameserver],
                         cwd=stacks, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name in ("example", "other")
    ]
    results = [child.communicate(timeout=60) for child in children]
    assert [child.returncode for child in children] == [0, 0], results
    terms = set(json.loads((stacks / "spf.lock.json").read_text())["entries"])
    assert {"include:servers.mcsv.net", "include:mailgun.org"} <= terms  # neither stack's entries were lost
    assert sorted(p.name for p in stacks.iterdir() if p.name.endswith(".tmp")) == []


# --- atomic writes and recovery ------------------------------------------------------------------------


def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary_file(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "spf.lock.json"
    path.write_text("old\n")

    def crash(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        write_atomically(path, "new\n" * 1000)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["spf.lock.json"]


def test_a_truncated_lock_is_refused_by_readers_and_rebuilt_by_update(dns_server, capsys, stacks: Path) -> None:
    server = dns_server(VENDORS)
    config = str(stacks / "Pulumi.example.yaml")
    lock = stacks / "spf.lock.json"
    assert run(capsys, "spf", "lock", "--update", "--config", config, "--nameserver", server.nameserver)[0] == 0
    whole = lock.read_text()
    lock.write_text(whole[: len(whole) // 2])  # a write cut short

    code, out, err = run(capsys, "plan", "--config", config)
    assert (code, out) == (2, "")
    assert str(lock) in err and "not JSON, or cut short" in err
    assert f"`sending-domain spf lock --update --config {config}`" in err and "Traceback" not in err

    code, out, err = run(capsys, "spf", "lock", "--update", "--config", config, "--nameserver", server.nameserver)
    assert code == 0
    assert f"the SPF lock {lock} could not be read whole" in err and "rebuilt it from live DNS" in err
    rebuilt = json.loads(lock.read_text())["entries"]
    assert {t: e["answers"] for t, e in rebuilt.items()} == {t: e["answers"] for t, e in json.loads(whole)["entries"].items()}


def test_update_keeps_the_valid_entries_of_a_damaged_lock(dns_server, capsys, stacks: Path) -> None:
    server = dns_server(VENDORS)
    ns = ["--nameserver", server.nameserver]
    assert run(capsys, "spf", "lock", "--update", "--config", str(stacks / "Pulumi.other.yaml"), *ns)[0] == 0
    lock = stacks / "spf.lock.json"
    data = json.loads(lock.read_text())
    data["entries"]["include:amazonses.com"]["answers"]["amazonses.com TXT"]["values"] = [7]
    lock.write_text(json.dumps(data))
    code, _, err = run(capsys, "spf", "lock", "--update", "--config", str(stacks / "Pulumi.example.yaml"), *ns)
    assert code == 0 and "entries['include:amazonses.com'].answers['amazonses.com TXT'].values[0]: must be text" in err
    terms = set(json.loads(lock.read_text())["entries"])
    assert {"include:mailgun.org", "include:servers.mcsv.net", "include:amazonses.com"} <= terms


# --- the reader --------------------------------------------------------------------------------------

GOOD = {"resolved_at": "2026-01-01T00:00:00Z", "answers": {
    "v.example.net TXT": {"status": "ok", "values": ["v=spf1 a:h.example.net -all"]},
    "h.example.net A": {"status": "ok", "values": ["192.0.2.1"]},
    "h.example.net AAAA": {"status": "nodata", "values": []},
}}


def lock_text(entry: object, term: str = "include:v.example.net") -> str:
    return json.dumps({"version": 1, "entries": {term: entry}})


def with_answer(key: str, value: object) -> dict:
    return {**GOOD, "answers": {**GOOD["answers"], key: value}}


@pytest.mark.parametrize(("entry", "term", "problem"), [
    (with_answer("h.example.net A", {"status": "ok", "values": ["2001:db8::1"]}), "include:v.example.net",
     "entries['include:v.example.net'].answers['h.example.net A'].values[0]: '2001:db8::1' is not an IPv4 address in canonical form [lock-value]"),
    (with_answer("h.example.net AAAA", {"status": "ok", "values": ["192.0.2.1"]}), "include:v.example.net",
     "entries['include:v.example.net'].answers['h.example.net AAAA'].values[0]: '192.0.2.1' is not an IPv6 address in canonical form [lock-value]"),
    (with_answer("v.example.net MX", {"status": "ok", "values": ["mx.example.net"]}), "include:v.example.net",
     "entries['include:v.example.net'].answers['v.example.net MX'].values[0]: 'mx.example.net' is not '<preference> <exchange>' [lock-value]"),
    (with_answer("v.example.net TXT", {"status": "ok", "values": "v=spf1 -all"}), "include:v.example.net",
     "entries['include:v.example.net'].answers['v.example.net TXT'].values: must be a list [lock-type]"),
    (with_answer("v.example.net TXT", {"status": "gone"}), "include:v.example.net",
     "entries['include:v.example.net'].answers['v.example.net TXT']: must be an object with status ok, nxdomain or nodata [lock-type]"),
    (with_answer("v.example.net SPF", {"status": "ok", "values": []}), "include:v.example.net",
     "entries['include:v.example.net'].answers['v.example.net SPF']: must be '<lower-case name> <type>' with type one of TXT, A, AAAA, MX [lock-key]"),
    ({**GOOD, "resolved_at": 20260101}, "include:v.example.net",
     "entries['include:v.example.net'].resolved_at: must be a time as text [lock-type]"),
    ([], "include:v.example.net", "entries['include:v.example.net']: must be an object with 'resolved_at' and 'answers' [lock-type]"),
    (GOOD, "ip4:192.0.2.1", "entries['ip4:192.0.2.1']: is not a term the lock pins (include:, a:, mx: or redirect= with a domain) [lock-term]"),
    (with_answer("v.example.net TXT", {"status": "ok", "values": ["v=spf1 \x1b[31m ::error::x"]}), "include:v.example.net", None),
])
def test_the_reader_checks_every_value_and_names_the_entry(entry: object, term: str, problem: str | None) -> None:
    text = lock_text(entry, term)
    if problem is None:  # odd TXT text is the vendor's business; the lock holds it as it was answered
        assert SpfLock.from_json(text).entries[term].answers[("v.example.net", "TXT")].values == ("v=spf1 \x1b[31m ::error::x",)
        return
    with pytest.raises(ConfigError) as err:
        SpfLock.from_json(text, source="stacks/spf.lock.json", update_command="sending-domain spf lock --update --stack prod")
    assert str(err.value).splitlines() == [
        "stacks/spf.lock.json: 2 problems:",
        f"  - {problem}",
        "  - the SPF lock file is malformed; regenerate it with `sending-domain spf lock --update --stack prod` [lock-fix]",
    ]


def test_a_control_character_in_a_lock_key_is_escaped() -> None:
    with pytest.raises(ConfigError) as err:
        SpfLock.from_json(lock_text(GOOD, "include:v.example.net\x1b[2J"))
    assert "\x1b" not in str(err.value) and "\\x1b[2J" in str(err.value)


def test_the_suggested_command_names_the_stack_as_the_user_can_type_it(tmp_path: Path) -> None:
    (tmp_path / "stacks").mkdir()
    standard = tmp_path / "stacks" / "Pulumi.prod.yaml"
    standard.write_text("")
    assert update_command(standard, "prod", cwd=tmp_path) == "sending-domain spf lock --update --stack prod"
    elsewhere = tmp_path / "my stacks" / "Pulumi.prod.yaml"
    assert update_command(elsewhere, "prod", cwd=tmp_path) == f"sending-domain spf lock --update --config '{elsewhere}'"


def test_lock_messages_print_the_lock_path(dns_server, capsys, stacks: Path) -> None:
    server = dns_server(VENDORS)
    config = str(stacks / "Pulumi.example.yaml")
    lock = stacks / "spf.lock.json"
    code, _, err = run(capsys, "spf", "lock", "--check", "--config", config, "--nameserver", server.nameserver)
    assert code == 1 and f"there is no SPF lock at {lock}; create it with `sending-domain spf lock --update --config {config}`" in err
    code, _, err = run(capsys, "plan", "--config", config)
    assert code == 2 and f"there is no SPF lock at {lock} to plan from offline; create it with `sending-domain spf lock --update --config {config}`" in err
    code, out, _ = run(capsys, "spf", "lock", "--update", "--config", config, "--nameserver", server.nameserver)
    assert code == 0 and str(lock) in out
    code, out, _ = run(capsys, "spf", "lock", "--check", "--config", config, "--nameserver", server.nameserver)
    assert code == 0 and f"the lock {lock} matches live DNS" in out
    other = str(stacks / "Pulumi.other.yaml")
    code, _, err = run(capsys, "plan", "--config", other)
    assert code == 2
    assert f"spf lock [include:mailgun.org]: not pinned; run `sending-domain spf lock --update --config {other}` to pin it in {lock}" in err


# --- a vanished vendor ----------------------------------------------------------------------------------


@pytest.mark.parametrize("gone", ["nxdomain", "no-spf"])
def test_a_vanished_vendor_is_drift_with_a_full_report(dns_server, capsys, stacks: Path, gone: str) -> None:
    server = dns_server(VENDORS)
    config = str(stacks / "Pulumi.example.yaml")
    ns = ["--nameserver", server.nameserver]
    assert run(capsys, "spf", "lock", "--update", "--config", config, *ns)[0] == 0
    lines = [line for line in VENDORS.splitlines() if not line.startswith("servers.mcsv.net.")]
    if gone == "no-spf":
        lines.append('servers.mcsv.net. 300 IN TXT "mailchimp-verification=1"')
    assert not any(line.startswith("servers.mcsv.net.") and "v=spf1" in line for line in lines)
    server.load("\n".join(lines) + "\n")

    code, out, err = run(capsys, "spf", "lock", "--check", "--config", config, *ns)
    assert code == 1, err
    assert "include:servers.mcsv.net: its live SPF tree no longer evaluates: include:servers.mcsv.net: servers.mcsv.net" in out
    assert "lock.invalid" not in out + err

    code, out, err = run(capsys, "spf", "lock", "--check", "--config", config, *ns, "--json")
    (change,) = json.loads(out)["changes"]
    assert code == 1 and change["term"] == "include:servers.mcsv.net" and change["error"] and change["removed"]

    for form in ([], ["--json"], ["--markdown"]):
        code, out, err = run(capsys, "drift", "--config", config, *ns, *form)
        assert code == 1, err
        assert "vendor include:servers.mcsv.net is gone from live DNS or broken" in out
        assert f"sending-domain spf lock --update --config {config}" in out
        assert "lock.invalid" not in out + err

    code, out, err = run(capsys, "spf", "lock", "--update", "--config", config, *ns)
    assert (code, out) == (2, "")
    assert "include:servers.mcsv.net: servers.mcsv.net" in err and "lock.invalid" not in err


class _Terminal:
    """A stderr that says it is a terminal, keeping what was written."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return True


def test_update_shows_progress_on_a_terminal_and_not_with_quiet(dns_server, capsys, stacks: Path, monkeypatch) -> None:
    server = dns_server(VENDORS)
    many = EXAMPLE.replace("- mailchimp", "- mailchimp\n          - mailgun\n          - postmark\n          - zendesk\n"
                           "          - mandrill\n          - microsoft365\n          - ip4:192.0.2.99")
    config = stacks / "Pulumi.many.yaml"
    config.write_text(many)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["spf", "lock", "--update", "--config", str(config), "--nameserver", server.nameserver]) == 0
    assert "\rresolving SPF trees 1/" in terminal.text and terminal.text.endswith("\r\x1b[K")  # drawn, then cleared
    total = terminal.text.split("\rresolving SPF trees 1/", 1)[1].split()[0]
    assert f"\rresolving SPF trees {total}/{total}" in terminal.text
    quiet = _Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    assert main(["spf", "lock", "--update", "--config", str(config), "--nameserver", server.nameserver, "--quiet"]) == 0
    assert "resolving" not in quiet.text
