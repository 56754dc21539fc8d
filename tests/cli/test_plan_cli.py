"""``sending-domain plan`` on the bundled example: offline, deterministic, loadable as a zone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dns.zone
import pytest

from sending_domain.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("fmt", ["table", "json", "zone"])
def test_plan_is_offline_and_identical_across_runs(in_repo, capsys, fmt: str, monkeypatch) -> None:
    import socket

    def no_network(*a, **k):  # the plan must not touch the network
        raise AssertionError("plan opened a socket")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "sendto", no_network)
    first = run(capsys, "plan", "--stack", "example", "--format", fmt)
    assert first[0] == 0, first[2]
    assert run(capsys, "plan", "--stack", "example", "--format", fmt) == first


def test_plan_json_lists_every_record_with_its_purpose(in_repo, capsys) -> None:
    code, out, _ = run(capsys, "plan", "--stack", "example", "--format", "json")
    data = json.loads(out)
    first = data["domains"][0]
    assert first["domain"] == "example.com"
    purposes = [r["purpose"] for r in first["records"]]
    assert purposes == ["spf", "spf-chain", "dmarc", "mail-from-mx", "mail-from-spf"]
    assert [p["selector"] for p in first["pending"]] == ["s2026a", "s2026b", "ed2026a"]
    assert first["records"][0]["value"].endswith("include:_spf1.example.com ~all")
    assert first["dmarc"] == first["records"][2]["value"]


def test_plan_zone_output_loads_in_a_zone_parser(in_repo, capsys) -> None:
    code, out, _ = run(capsys, "plan", "--stack", "example", "--format", "zone")
    sections = out.split("; zone ")[1:]
    assert [s.split("\n", 1)[0] for s in sections] == ["example.com", "example.org"]
    for section in sections:
        origin, body = section.split("\n", 1)
        zone = dns.zone.from_text(body, origin=origin + ".", relativize=False, check_origin=False)
        names = {n.to_text() for n in zone.nodes}
        assert all(n.endswith(origin + ".") for n in names)
    example = dns.zone.from_text(sections[0].split("\n", 1)[1], origin="example.com.", relativize=False, check_origin=False)
    txt = example.find_rdataset("example.com.", "TXT")
    assert b"".join(next(iter(txt)).strings).decode().startswith("v=spf1 ")


def test_plan_shows_deployed_public_keys_from_outputs(in_repo, capsys, tmp_path: Path) -> None:
    from sending_domain.core import dkim

    pem = dkim.generate_private_key_pem("rsa-1024")
    public = dkim.public_key_b64(pem)
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"example.com": {"dkim": {"s2026a": {"public_key": public}}}}))
    code, out, _ = run(capsys, "plan", "--stack", "example", "--format", "json", "--outputs", str(outputs))
    first = json.loads(out)["domains"][0]
    dkim_records = [r for r in first["records"] if r["purpose"] == "dkim"]
    assert [r["name"] for r in dkim_records] == ["s2026a._domainkey.example.com"]
    assert dkim_records[0]["value"] == f"v=DKIM1; k=rsa; p={public}"
    assert pem.split("\n")[1] not in out


def test_plan_without_a_lock_says_how_to_make_one(capsys, tmp_path: Path) -> None:
    shutil.copy(ROOT / "stacks/Pulumi.example.yaml", tmp_path / "Pulumi.example.yaml")
    code, out, err = run(capsys, "plan", "--config", str(tmp_path / "Pulumi.example.yaml"))
    assert (code, out) == (2, "")
    assert "sending-domain spf lock --update" in err


@pytest.mark.parametrize(("argv", "message"), [
    (["plan"], "name a stack: --stack NAME"),
    (["plan", "--stack", "nope"], "nope"),
])
def test_plan_bad_input(in_repo, capsys, argv: list[str], message: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err


@pytest.mark.parametrize("path", sorted((ROOT / "tests/fixtures/bad_stacks").glob("*.yaml")), ids=lambda p: p.name)
def test_every_bad_stack_file_exits_2_naming_each_problem(capsys, path: Path) -> None:
    from sending_domain.core.errors import ConfigError
    from sending_domain.stack import load_stack

    with pytest.raises(ConfigError) as err:
        load_stack(config_file=path)
    code, out, stderr = run(capsys, "plan", "--config", str(path))
    assert (code, out) == (2, "")
    assert "Traceback" not in stderr
    for problem in err.value.problems:
        assert f"{problem.path}: " in stderr and f"[{problem.code}]" in stderr


def test_zone_output_carries_the_warnings_as_comments_and_on_stderr(in_repo, capsys) -> None:
    code, out, err = run(capsys, "plan", "--stack", "example", "--format", "zone")
    assert code == 0
    warning = "example.com: DMARC reports for example.com go to reports.example.net"
    assert f"; warning: {warning}" in out and f"warning: {warning}" in err
    dns.zone.from_text(out, origin=".", relativize=False, check_origin=False)  # comments keep it a zone file


def test_report_authorization_only_across_organizational_domains(in_repo, capsys) -> None:
    # RFC 7489 §7.1: news.example.org reports to dmarc@example.org: the same organization, no record needed
    code, out, _ = run(capsys, "plan", "--stack", "example", "--json")
    names = {r["name"] for d in json.loads(out)["domains"] for r in d["records"]}
    assert code == 0 and not any("._report._dmarc." in n for n in names if n.startswith("news.example.org"))


def test_domain_option_plans_only_those_domains(in_repo, capsys) -> None:
    code, out, _ = run(capsys, "plan", "--stack", "example", "--json", "--domain", "news.example.org")
    assert code == 0 and [d["domain"] for d in json.loads(out)["domains"]] == ["news.example.org"]
    code, _, err = run(capsys, "plan", "--stack", "example", "--domain", "NEWS.example.org.", "--domain", "example.com")
    assert code == 0
    code, _, err = run(capsys, "plan", "--stack", "example", "--domain", "bad_name!")
    assert code == 2 and "[hostname]" in err


def test_outputs_with_a_key_that_is_not_a_key_is_refused(in_repo, capsys, tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"example.com": {"dkim": {"s2026a": {"public_key": "AAAA", "algorithm": "rsa-2048"}}}}), encoding="utf-8")
    code, _, err = run(capsys, "plan", "--stack", "example", "--outputs", str(outputs))
    assert code == 2 and "[outputs-public-key]" in err and "example.com.dkim.s2026a" in err


def test_every_missing_lock_entry_is_listed_at_once(capsys, tmp_path: Path) -> None:
    text = (ROOT / "stacks" / "Pulumi.example.yaml").read_text(encoding="utf-8")
    text = text.replace("          - mailchimp ", "          - include:spf.second.example\n          - mailchimp ", 1)
    text = text.replace("          - amazonses ", "          - include:spf.first.example\n          - amazonses ", 1)
    config = tmp_path / "Pulumi.example.yaml"
    config.write_text(text, encoding="utf-8")
    shutil.copy(ROOT / "stacks" / "spf.lock.json", tmp_path / "spf.lock.json")
    code, _, err = run(capsys, "plan", "--config", str(config))
    assert code == 2
    assert "spf lock [include:spf.first.example]" in err and "spf lock [include:spf.second.example]" in err
    assert err.count("[lock-missing]") == 2
