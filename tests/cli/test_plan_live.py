"""``plan --live``: the program's adoption rules applied to what a real DNS server on loopback answers."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from sending_domain.cli.main import main
from sending_domain.core import dkim
from tests.dnsserver import DnsTestServer

ROOT = Path(__file__).resolve().parents[2]
KEY = dkim.public_key_b64(dkim.generate_private_key_pem("rsa-1024"))
ZONE = f"""
$ORIGIN example.com.
@ TXT "v=spf1 include:_spf.google.com ~all"
@ TXT "MS=ms12345"
_dmarc TXT "v=DMARC1; p=reject"
s2026a._domainkey TXT "v=DKIM1; k=rsa; p={KEY}"
bounce MX 10 mx.other.example.
"""


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    """The example stack and its lock, in a folder of their own."""
    shutil.copy(ROOT / "stacks" / "Pulumi.example.yaml", tmp_path / "Pulumi.example.yaml")
    shutil.copy(ROOT / "stacks" / "spf.lock.json", tmp_path / "spf.lock.json")
    return tmp_path / "Pulumi.example.yaml"


def plan_live(capsys: pytest.CaptureFixture[str], stack: Path, server: DnsTestServer, *extra: str) -> tuple[int, str, str]:
    code = main(["plan", "--config", str(stack), "--live", "--nameserver", server.nameserver, *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_live_names_what_blocks_the_deploy(capsys: pytest.CaptureFixture[str], stack: Path, dns_server: Callable[..., DnsTestServer]) -> None:
    server = dns_server(ZONE)
    code, out, err = plan_live(capsys, stack, server)
    assert code == 1, err
    lines = [line for line in out.splitlines() if line.startswith("live: ")]
    assert any(line.startswith("live: block     example.com TXT 'v=spf1 include:_spf.google.com ~all': another SPF record, not created by this stack")
               for line in lines)
    assert any("selector s2026a already publishes a DKIM key" in line for line in lines)
    assert any("enforces p=reject today and the stack asks for p=none" in line for line in lines)
    assert any(line.startswith("live: block     bounce.example.com MX '10 mx.other.example'") for line in lines)
    assert "live: keep      example.com TXT 'MS=ms12345': unrelated record: left as it is" in lines
    assert "live: create    _spf1.example.com TXT: nothing live here" in lines


def test_plan_live_json_carries_every_step(capsys: pytest.CaptureFixture[str], stack: Path, dns_server: Callable[..., DnsTestServer]) -> None:
    server = dns_server(ZONE)
    code, out, _ = plan_live(capsys, stack, server, "--json")
    assert code == 1
    steps = {d["domain"]: d["live"] for d in json.loads(out)["domains"]}
    actions = {(s["action"], s["name"], s["type"]) for s in steps["example.com"]}
    assert ("block", "s2026a._domainkey.example.com", "TXT") in actions
    assert ("create", "news.example.org", "TXT") in {(s["action"], s["name"], s["type"]) for s in steps["news.example.org"]}


def test_with_adopt_only_what_adoption_cannot_fix_blocks(capsys: pytest.CaptureFixture[str], stack: Path, dns_server: Callable[..., DnsTestServer]) -> None:
    text = stack.read_text(encoding="utf-8").replace("      adopt: false                    #", "      adopt: true                     #")
    text = text.replace("        adopt: false\n", "")
    stack.write_text(text, encoding="utf-8")
    server = dns_server(ZONE)
    code, out, _ = plan_live(capsys, stack, server)
    blocked = [line for line in out.splitlines() if line.startswith("live: block")]
    assert code == 1 and len(blocked) == 2, blocked  # the live DKIM key, and lowering DMARC from p=reject
    assert "live: update    example.com TXT 'v=spf1 include:_spf.google.com ~all'" in out
    assert "live: update    bounce.example.com MX '10 mx.other.example'" in out


def test_a_dns_failure_exits_3(capsys: pytest.CaptureFixture[str], stack: Path, dns_server: Callable[..., DnsTestServer]) -> None:
    server = dns_server(ZONE)
    server.fail("_dmarc.example.com", "TXT", "servfail")
    assert plan_live(capsys, stack, server)[0] == 3
