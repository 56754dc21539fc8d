"""``sending-domain spf flatten`` and ``spf lock`` end to end against the loopback DNS server."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sending_domain.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
VENDORS = (ROOT / "tests/fixtures/zones/vendors.zone").read_text(encoding="utf-8")
CUSTOMER = """
$ORIGIN example.com.
@        TXT "v=spf1 include:_spf.google.com include:amazonses.com include:sendgrid.net mx ~all"
@        MX 10 mx1
mx1      A 192.0.2.25
mx1      AAAA 2001:db8::25
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_flatten_json_reads_the_live_record_and_asks_each_question_once(dns_server, capsys) -> None:
    server = dns_server(VENDORS + CUSTOMER)
    code, out, err = run(capsys, "spf", "flatten", "example.com", "--nameserver", server.nameserver, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert list(data) == ["version", "domain", "records", "lookups", "original_lookups", "warnings", "queries"]
    assert data["domain"] == "example.com" and data["records"][0]["name"] == "example.com"
    assert data["records"][0]["value"].endswith(" ~all")
    assert all(len(s.encode()) <= 255 for r in data["records"] for s in r["strings"])
    assert data["lookups"] <= 10 and data["original_lookups"] == 8
    assert data["queries"] == len(server.queries) == server.total_queries  # one query per (name, type)


def test_flatten_text_output_is_byte_identical_across_runs(dns_server, capsys) -> None:
    server = dns_server(VENDORS + CUSTOMER)
    first = run(capsys, "spf", "flatten", "example.com", "--nameserver", server.nameserver)
    second = run(capsys, "spf", "flatten", "example.com", "--nameserver", server.nameserver)
    assert first == second and first[0] == 0
    assert first[1].startswith('example.com. 300 IN TXT "v=spf1 ')


def test_flatten_record_option_does_not_read_the_domain(dns_server, capsys) -> None:
    server = dns_server(VENDORS)
    code, out, _ = run(capsys, "spf", "flatten", "example.org", "--record", "v=spf1 include:amazonses.com -all",
                       "--nameserver", server.nameserver, "--json")
    assert code == 0
    assert ("example.org", "TXT") not in server.queries
    assert json.loads(out)["records"][0]["value"].startswith("v=spf1 ip4:23.249.208.0/20 ")


@pytest.mark.parametrize(("argv", "message"), [
    (["spf", "flatten", "not a domain"], "DOMAIN 'not a domain' is not a valid domain name"),
    (["spf", "flatten", "example.com", "--max-lookups", "11"], "--max-lookups 11 must be from 1 to 10"),
    (["spf", "flatten", "example.com", "--max-bytes", "x"], "--max-bytes 'x' must be a whole number from 100 to 4000"),
    (["spf", "flatten", "example.com", "--nameserver", "dns.example:53"], "--nameserver"),
    (["spf", "flatten", "example.com", "--record", "v=spf1 include:"], "term 'include:' in the SPF record of example.com: empty domain"),
])
def test_bad_input_exits_2_with_a_message_and_no_traceback(capsys, argv: list[str], message: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err


def test_refusal_exits_2_and_prints_no_records(dns_server, capsys) -> None:
    server = dns_server(VENDORS + '$ORIGIN example.com.\n@ TXT "v=spf1 include:nospf.example.net -all"\nnospf.example.net. TXT "hello"\n')
    code, out, err = run(capsys, "spf", "flatten", "example.com", "--nameserver", server.nameserver)
    assert (code, out) == (2, "")
    assert "nospf.example.net has no SPF record" in err


@pytest.mark.parametrize("mode", ["servfail", "timeout"])
def test_dns_failure_exits_3_and_publishes_nothing(dns_server, capsys, mode: str) -> None:
    server = dns_server(VENDORS + CUSTOMER)
    server.fail("_netblocks2.google.com", "TXT", mode)
    argv = ["spf", "flatten", "example.com", "--nameserver", server.nameserver]
    code, out, err = run(capsys, *argv)
    assert (code, out) == (3, "")
    assert "_netblocks2.google.com" in err and "retry" in err


def test_lock_update_then_check_detects_a_vendor_change(dns_server, capsys, tmp_path: Path) -> None:
    shutil.copy(ROOT / "stacks/Pulumi.example.yaml", tmp_path / "Pulumi.example.yaml")
    config = str(tmp_path / "Pulumi.example.yaml")
    server = dns_server(VENDORS)
    code, out, _ = run(capsys, "spf", "lock", "--update", "--config", config, "--nameserver", server.nameserver)
    assert code == 0 and "pinned 5 SPF trees" in out
    lock_text = (tmp_path / "spf.lock.json").read_text()
    assert run(capsys, "spf", "lock", "--check", "--config", config, "--nameserver", server.nameserver)[0] == 0
    # an unchanged tree keeps its entry byte for byte
    assert run(capsys, "spf", "lock", "--update", "--config", config, "--nameserver", server.nameserver)[0] == 0
    assert (tmp_path / "spf.lock.json").read_text() == lock_text

    server.load(VENDORS.replace("ip4:199.255.192.0/22 ", "ip4:203.0.113.0/24 "))
    code, out, _ = run(capsys, "spf", "lock", "--check", "--config", config, "--nameserver", server.nameserver)
    assert code == 1
    assert "include:amazonses.com: its addresses changed; now also sends from 203.0.113.0/24; no longer sends from 199.255.192.0/22" in out


def test_lock_check_without_a_lock_fails(capsys, tmp_path: Path) -> None:
    shutil.copy(ROOT / "stacks/Pulumi.example.yaml", tmp_path / "Pulumi.example.yaml")
    code, _, err = run(capsys, "spf", "lock", "--check", "--config", str(tmp_path / "Pulumi.example.yaml"), "--nameserver", "127.0.0.1:9")
    assert code == 1 and "there is no SPF lock" in err


def test_lock_update_for_one_stack_keeps_the_entries_of_others(dns_server, capsys, tmp_path: Path) -> None:
    shutil.copy(ROOT / "stacks/Pulumi.example.yaml", tmp_path / "Pulumi.example.yaml")
    other = (ROOT / "stacks/Pulumi.example.yaml").read_text().replace("- mailchimp", "- mailgun")
    (tmp_path / "Pulumi.other.yaml").write_text(other)
    server = dns_server(VENDORS)
    ns = ["--nameserver", server.nameserver]
    assert run(capsys, "spf", "lock", "--update", "--config", str(tmp_path / "Pulumi.example.yaml"), *ns)[0] == 0
    assert run(capsys, "spf", "lock", "--update", "--config", str(tmp_path / "Pulumi.other.yaml"), *ns)[0] == 0
    terms = set(json.loads((tmp_path / "spf.lock.json").read_text())["entries"])
    assert {"include:servers.mcsv.net", "include:mailgun.org"} <= terms
