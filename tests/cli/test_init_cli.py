"""``sending-domain init`` against a real DNS server on loopback serving a realistic live domain.

The live domain sends through Google Workspace and SendGrid, a raw relay and an office address; it has a
site-verification TXT next to its SPF record, DMARC at quarantine with reports, and two DKIM selectors. ``init``
must write a stack that validates, pin its senders, and ``drift`` on it right after must exit 0.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from sending_domain.cli.main import main
from sending_domain.core import dkim
from sending_domain.desired import read_lock
from sending_domain.stack import load_stack
from tests.dnsserver import DnsTestServer

ROOT = Path(__file__).resolve().parents[2]
VENDORS = (ROOT / "tests" / "fixtures" / "zones" / "vendors.zone").read_text(encoding="utf-8")
LIVE_SPF = "v=spf1 include:_spf.google.com include:sendgrid.net ip4:192.0.2.10 a:relay.example.net ~all"
LIVE_DMARC = "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.net,mailto:reports@dmarc-vendor.example; adkim=s; ri=86400"


def live_zone(key1: str, key2: str, spf: tuple[str, ...] = (LIVE_SPF,)) -> str:
    spf_lines = "\n".join(f'@ TXT "{s}"' for s in spf)
    return f"""
$ORIGIN example.net.
{spf_lines}
@ TXT "google-site-verification=abc123"
relay A 192.0.2.25
_dmarc TXT "{LIVE_DMARC}"
google._domainkey TXT "v=DKIM1; k=rsa; p={key1}"
s1._domainkey TXT "v=DKIM1; k=rsa; p={key2}"
"""


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    return tuple(dkim.public_key_b64(dkim.generate_private_key_pem("rsa-1024")) for _ in range(2))  # type: ignore[return-value]


@pytest.fixture
def server(dns_server: Callable[..., DnsTestServer], keys: tuple[str, str]) -> DnsTestServer:
    return dns_server(VENDORS + "\n$ORIGIN .\n" + live_zone(*keys))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def init(capsys: pytest.CaptureFixture[str], server: DnsTestServer, out: Path, *extra: str) -> tuple[int, str, str]:
    return run(capsys, "init", "example.net", "--dkim-selector", "google", "--dkim-selector", "s1",
               "--nameserver", server.nameserver, "--output", str(out), *extra)


def test_init_writes_a_stack_that_validates_pins_its_senders_and_shows_no_drift(
    capsys: pytest.CaptureFixture[str], server: DnsTestServer, tmp_path: Path
) -> None:
    out = tmp_path / "Pulumi.live.yaml"
    code, stdout, err = init(capsys, server, out)
    assert code == 0, err
    assert stdout.startswith(f"wrote {out}: 1 domain(s), adopting what they publish; pinned ")
    loaded = load_stack(config_file=out)
    [domain] = loaded.settings.domains
    assert domain.senders == ("google-workspace", "sendgrid", "ip4:192.0.2.10", "a:relay.example.net")
    assert domain.spf.all == "~all" and domain.adopt is True and domain.dkim == () and domain.ses is None
    assert (domain.dmarc.p, domain.dmarc.pct, domain.dmarc.adkim) == ("quarantine", 100, "s")
    assert domain.dmarc.rua == ("mailto:dmarc@example.net", "mailto:reports@dmarc-vendor.example")
    text = out.read_text(encoding="utf-8")
    assert "#   google: a live rsa key, 1024 bits: someone signs with it today; this stack leaves it alone" in text
    assert "# note: live DMARC tags not kept by the stack: ri" in text
    lock = read_lock(tmp_path / "spf.lock.json")
    assert lock is not None and {"include:_spf.google.com", "include:sendgrid.net"} <= set(lock.entries)

    code, stdout, err = run(capsys, "drift", "--config", str(out), "--nameserver", server.nameserver)
    assert code == 0, stdout + err
    assert "the live SPF record is the stack's record as written" in stdout

    code, stdout, err = run(capsys, "plan", "--config", str(out), "--live", "--nameserver", server.nameserver)
    assert code == 0, stdout + err
    assert "live: update    example.net TXT 'v=spf1 include:_spf.google.com" in stdout
    assert "live: keep      example.net TXT 'google-site-verification=abc123'" in stdout


def test_the_written_file_is_the_same_for_the_same_dns(capsys: pytest.CaptureFixture[str], server: DnsTestServer, tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "Pulumi.a.yaml", tmp_path / "b" / "Pulumi.a.yaml"
    assert init(capsys, server, first)[0] == 0 and init(capsys, server, second)[0] == 0
    assert first.read_text(encoding="utf-8") == second.read_text(encoding="utf-8")


def test_init_refuses_to_overwrite_without_force(capsys: pytest.CaptureFixture[str], server: DnsTestServer, tmp_path: Path) -> None:
    out = tmp_path / "Pulumi.live.yaml"
    out.write_text("keep me\n", encoding="utf-8")
    code, _, err = init(capsys, server, out)
    assert code == 2 and f"{out} exists; pass --force to overwrite it" in err
    assert out.read_text(encoding="utf-8") == "keep me\n" and not (tmp_path / "spf.lock.json").exists()
    assert init(capsys, server, out, "--force")[0] == 0


def test_two_spf_records_exit_2_naming_both(capsys: pytest.CaptureFixture[str], server: DnsTestServer, keys: tuple[str, str], tmp_path: Path) -> None:
    server.load(VENDORS + "\n$ORIGIN .\n" + live_zone(*keys, spf=(LIVE_SPF, "v=spf1 mx -all")))
    out = tmp_path / "Pulumi.live.yaml"
    code, _, err = init(capsys, server, out)
    assert code == 2 and "publishes 2 SPF records" in err
    assert repr(LIVE_SPF) in err and "'v=spf1 mx -all'" in err and not out.exists()


def test_a_domain_without_spf_gets_no_senders_and_a_comment(capsys: pytest.CaptureFixture[str], server: DnsTestServer, keys: tuple[str, str], tmp_path: Path) -> None:
    server.load(VENDORS + "\n$ORIGIN .\n" + live_zone(*keys, spf=()))
    out = tmp_path / "Pulumi.live.yaml"
    assert init(capsys, server, out)[0] == 0
    text = out.read_text(encoding="utf-8")
    assert "# No SPF record is live: list who sends as this domain before deploying\n        senders: []" in text
    assert load_stack(config_file=out).settings.domains[0].senders == ()


def test_a_term_a_stack_cannot_express_is_refused_with_the_reason(capsys: pytest.CaptureFixture[str], server: DnsTestServer, keys: tuple[str, str], tmp_path: Path) -> None:
    server.load(VENDORS + "\n$ORIGIN .\n" + live_zone(*keys, spf=("v=spf1 -ip4:192.0.2.66 include:sendgrid.net ptr ~all",)))
    code, _, err = init(capsys, server, tmp_path / "Pulumi.live.yaml")
    assert code == 2
    assert "the live SPF term '-ip4:192.0.2.66' cannot be written as a sender" in err
    assert "the live SPF term 'ptr' cannot be written as a sender: ptr is deprecated" in err


def test_a_dns_failure_exits_3_and_writes_nothing(capsys: pytest.CaptureFixture[str], server: DnsTestServer, tmp_path: Path) -> None:
    server.fail("_dmarc.example.net", "TXT", "servfail")
    out = tmp_path / "Pulumi.live.yaml"
    code, _, err = run(capsys, "init", "example.net", "--nameserver", server.nameserver, "--output", str(out))
    assert code == 3 and "_dmarc.example.net" in err and not out.exists()


def test_with_ses_the_stack_gets_its_own_key_on_a_free_selector(capsys: pytest.CaptureFixture[str], server: DnsTestServer, tmp_path: Path) -> None:
    out = tmp_path / "Pulumi.live.yaml"
    assert init(capsys, server, out, "--ses", "eu-west-1")[0] == 0
    [domain] = load_stack(config_file=out).settings.domains
    assert [(k.selector, k.state) for k in domain.dkim] == [("sd1", "active")]
    assert domain.ses is not None and (domain.ses.region, domain.ses.mail_from) == ("eu-west-1", "bounce.example.net")
    raw = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert json.dumps(raw).count("sd1") == 1


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = str(tmp_path / "x.yaml")
    assert run(capsys, "init", "not a domain", "--output", out)[0] == 2
    assert run(capsys, "init", "example.net", "--dkim-selector", "a.b", "--output", out)[0] == 2
    assert run(capsys, "init", "example.net", "--ses", "Europe", "--output", out)[0] == 2
    assert run(capsys, "init", "example.net")[0] == 2  # --stack or --output is required


def test_init_and_plan_live_json_follow_their_schemas(capsys: pytest.CaptureFixture[str], server: DnsTestServer, tmp_path: Path) -> None:
    from tests.cli.test_json_contract import valid

    out = tmp_path / "Pulumi.live.yaml"
    code, stdout, err = init(capsys, server, out, "--json")
    document = valid("init", stdout)
    assert code == 0 and document["domains"][0]["senders"][:2] == ["google-workspace", "sendgrid"]
    code, stdout, err = run(capsys, "plan", "--config", str(out), "--live", "--json", "--nameserver", server.nameserver)
    steps = valid("plan", stdout)["domains"][0]["live"]
    assert code == 0 and {"update", "keep", "create"} <= {s["action"] for s in steps}
    code, stdout, _ = init(capsys, server, out, "--json")  # exists: the error document
    assert code == 2 and valid("error", stdout)["error"]["code"] == "exists"


def test_a_subdomain_gets_its_registrable_domain_as_zone(capsys: pytest.CaptureFixture[str], server: DnsTestServer, tmp_path: Path) -> None:
    out = tmp_path / "Pulumi.news.yaml"
    code, _, err = run(capsys, "init", "news.example.net", "example.co.uk", "--nameserver", server.nameserver, "--output", str(out))
    assert code == 0, err
    zones = {d.domain: d.zone_name for d in load_stack(config_file=out).settings.domains}
    assert zones == {"news.example.net": "example.net", "example.co.uk": "example.co.uk"}
