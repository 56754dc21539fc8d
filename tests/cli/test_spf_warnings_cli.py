"""What the SPF commands say about the trees they flatten: a sender without addresses by its stack key, the
safety floor (a warning for `spf flatten`, a refusal for a stack unless it allows the vendor), and text from
DNS with its control characters escaped in every output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sending_domain.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
VENDORS = (ROOT / "tests/fixtures/zones/vendors.zone").read_text(encoding="utf-8")
EXAMPLE = (ROOT / "stacks/Pulumi.example.yaml").read_text(encoding="utf-8")
OPEN = 'open.example.net. 300 IN TXT "v=spf1 ip4:0.0.0.0/1 ip4:128.0.0.0/1 -all"\n'


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def stack_with(tmp_path: Path, sender: str, allow_wide: str = "") -> str:
    text = EXAMPLE.replace("          - include:_spf.partner.example.net\n",
                           f"          - include:_spf.partner.example.net\n          - {sender}\n", 1)
    if allow_wide:
        text = text.replace("          maxBytes: 450 ", f"          allowWide: [{allow_wide}]\n          maxBytes: 450 ", 1)
    assert f"- {sender}\n" in text and text.count("allowWide") == bool(allow_wide)
    path = tmp_path / "Pulumi.example.yaml"
    path.write_text(text)
    return str(path)


def test_a_sender_without_addresses_is_warned_by_its_stack_key(dns_server, capsys, tmp_path: Path) -> None:
    server = dns_server(VENDORS)
    config = stack_with(tmp_path, "a:relay.typo-nowhere.example")
    assert run(capsys, "spf", "lock", "--update", "--config", config, "--nameserver", server.nameserver)[0] == 0
    code, out, err = run(capsys, "plan", "--config", config)
    assert code == 0, err
    assert ("domains[0].senders[5] (a:relay.typo-nowhere.example) authorizes no address (its name has no A or AAAA "
            "record), so it adds nothing to the record; check the name") in out + err


def test_a_stack_refuses_a_vendor_wider_than_the_floor_unless_it_allows_it(dns_server, capsys, tmp_path: Path) -> None:
    server = dns_server(VENDORS + OPEN)
    config = stack_with(tmp_path, "include:open.example.net")
    code, out, err = run(capsys, "spf", "lock", "--update", "--config", config, "--nameserver", server.nameserver)
    assert code == 0, err
    code, out, err = run(capsys, "plan", "--config", config)
    assert (code, out) == (2, "")
    assert "0.0.0.0/0 (every IPv4 address) through include:open.example.net (ip4:0.0.0.0/1 in open.example.net" in err
    assert "list it in spf.allowWide (include:open.example.net)" in err

    allowed = stack_with(tmp_path, "include:open.example.net", allow_wide="include:open.example.net")
    code, out, err = run(capsys, "plan", "--config", allowed)
    assert code == 0, err
    assert "ip4:0.0.0.0/0" in out


def test_flatten_of_a_pass_all_record_warns(dns_server, capsys) -> None:
    server = dns_server(VENDORS)
    code, out, err = run(capsys, "spf", "flatten", "example.org", "--record", "v=spf1 +all", "--nameserver", server.nameserver)
    assert code == 0, err
    assert "; warning: the flattened SPF set of example.org would authorize 0.0.0.0/0 (every IPv4 address) through +all" in out


ESCAPE = "\\027[31m"  # zone-file form of ESC [ 3 1 m


def test_control_characters_from_dns_are_escaped_on_stderr(dns_server, capsys) -> None:
    zone = f'$ORIGIN example.com.\n@ TXT "v=spf1 include:evil.example.net -all"\nevil.example.net. TXT "v=spf1 {ESCAPE}::error::x -all"\n'
    server = dns_server(VENDORS + zone)
    code, out, err = run(capsys, "spf", "flatten", "example.com", "--nameserver", server.nameserver)
    assert (code, out) == (2, "")
    assert "\x1b" not in err and "\\x1b[31m::error::x" in err
    code, out, err = run(capsys, "spf", "flatten", "example.com", "--nameserver", server.nameserver, "--json")
    assert code == 2 and "\x1b" not in out + err


def test_control_characters_in_a_vanished_vendors_report_are_escaped(dns_server, capsys, tmp_path: Path) -> None:
    server = dns_server(VENDORS)
    config = stack_with(tmp_path, "include:odd.example.net")
    server.load(VENDORS + 'odd.example.net. 300 IN TXT "v=spf1 ip4:192.0.2.7 -all"\n')
    assert run(capsys, "spf", "lock", "--update", "--config", config, "--nameserver", server.nameserver)[0] == 0
    server.load(VENDORS + f'odd.example.net. 300 IN TXT "v=spf1 {ESCAPE} -all"\n')
    for form in ([], ["--json"], ["--markdown"]):
        code, out, err = run(capsys, "drift", "--config", config, "--nameserver", server.nameserver, *form)
        assert code == 1, err
        assert "\x1b" not in out + err and "include:odd.example.net" in out
    code, out, err = run(capsys, "spf", "lock", "--check", "--config", config, "--nameserver", server.nameserver)
    assert code == 1 and "\x1b" not in out + err and "\\x1b[31m" in out
    data = json.loads(run(capsys, "spf", "lock", "--check", "--config", config, "--nameserver", server.nameserver, "--json")[1])
    assert data["changes"][0]["error"].count("\\x1b") == 1


def test_a_live_value_with_control_characters_is_escaped_in_the_drift_report() -> None:
    from sending_domain.core.drift import Change, Plan, render_markdown, render_text

    plan = Plan("example", (Change("update", "example.com", "TXT", "v=spf1 \x1b[2J\n::error::x -all", "v=spf1 -all", "differs"),))
    for out in (render_text(plan), render_markdown(plan)):
        assert "\x1b" not in out and "\n::error::" not in out and 'v=spf1 \\x1b[2J\\n::error::x -all' in out
