"""``sending-domain verify`` end to end through ``main([...])``: exit codes, both outputs, and no secret anywhere."""

from __future__ import annotations

import base64
import json
import shutil

import boto3
import pytest
from botocore.stub import Stubber

from sending_domain.cli import verify as cli_verify
from sending_domain.cli.main import main
from sending_domain.core.smtp_auth import smtp_password
from tests.conftest import MakeDnsServer
from tests.verify.deployment import STACK_FILE, Zone, outputs_document, render
from tests.verify.smtp_server import USERNAME, Script, make_ca, smtp_server
from tests.verify.test_ses import READY

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYVERIFYSECRET"
DERIVED = smtp_password(SECRET_KEY, "eu-west-1")
READY_PASSWORD = "BReadySmtpPasswordFromTheEnvironment0123456789"


@pytest.fixture
def env(monkeypatch, tmp_path):
    """No ambient AWS configuration: only what a test sets."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 cli_verify.USERNAME_ENV, cli_verify.PASSWORD_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


@pytest.fixture
def deployed(dns_server: MakeDnsServer, tmp_path):
    server = dns_server()
    zone = Zone.deployed(render(server))
    server.load(zone.text())
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(outputs_document()), encoding="utf-8")
    return server, zone, outputs


def _base(server, outputs) -> list[str]:
    return ["verify", "--config", str(STACK_FILE), "--nameserver", server.nameserver, "--outputs", str(outputs)]


def _stub_ses(env, response: dict = READY, calls: int = 1) -> None:
    client = boto3.client("sesv2", region_name="eu-west-1", aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x")
    stubber = Stubber(client)
    for _ in range(calls):
        stubber.add_response("get_email_identity", response, {"EmailIdentity": "example.com"})
    stubber.activate()
    env.setattr(cli_verify, "ses_clients", lambda session: lambda region: client)


def test_exit_0_human_and_json(deployed, env, capsys) -> None:
    server, _, outputs = deployed
    assert main([*_base(server, outputs), "--no-ses"]) == 0
    text = capsys.readouterr().out
    assert "example.com: PASS" in text and "dkim.s2026a" in text and "2 domain(s): 2 pass" in text
    assert main([*_base(server, outputs), "--no-ses", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["exit_code"] == 0 and [d["domain"] for d in data["domains"]] == ["example.com", "example.net"]
    assert {c["status"] for d in data["domains"] for c in d["checks"]} == {"pass"}


def test_exit_0_with_ses(deployed, env, capsys) -> None:
    server, _, outputs = deployed
    env.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    env.setenv("AWS_SECRET_ACCESS_KEY", "x")
    _stub_ses(env)
    assert main([*_base(server, outputs), "--json"]) == 0
    checks = {c["name"]: c["status"] for d in json.loads(capsys.readouterr().out)["domains"] for c in d["checks"]}
    assert checks["ses.dkim"] == "pass" and checks["ses.mail-from"] == "pass"


def test_exit_1_and_the_hint(deployed, env, capsys) -> None:
    server, zone, outputs = deployed
    zone.remove("bounce.example.com", "MX")
    server.load(zone.text())
    assert main([*_base(server, outputs), "--no-ses", "--domain", "example.com"]) == 1
    out = capsys.readouterr().out
    assert "mail-from.mx" in out and "fail" in out and "hint: publish exactly one MX 10 feedback-smtp.eu-west-1.amazonses.com" in out
    assert "example.net: " not in out and "1 domain(s)" in out  # --domain chose one


def test_exit_3_on_servfail(deployed, env, capsys) -> None:
    server, _, outputs = deployed
    for name in ("example.com", "example.net", "_dmarc.example.com", "_dmarc.example.net"):
        server.fail(name, "TXT", "servfail")
    assert main([*_base(server, outputs), "--no-ses", "--json"]) == 3
    data = json.loads(capsys.readouterr().out)
    assert data["exit_code"] == 3
    assert "SERVFAIL" in json.dumps(data)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--domain", "nope.example"], "not in the stack"),
        (["--wait", "soon"], "--wait"),
        (["--nameserver", "dns.example"], "not an IP address"),
        (["--smtp", "--from", "someone@elsewhere.example", "--domain", "example.com"], "send from an address at example.com"),
        (["--smtp-ca", "/nonexistent/ca.pem", "--smtp"], None),
    ],
)
def test_exit_2_bad_input(deployed, env, capsys, extra: list[str], words: str | None) -> None:
    server, _, outputs = deployed
    env.setenv(cli_verify.USERNAME_ENV, USERNAME)
    env.setenv(cli_verify.PASSWORD_ENV, READY_PASSWORD)
    assert main([*_base(server, outputs), "--no-ses", *extra]) == 2
    err = capsys.readouterr().err
    if words:
        assert words in err


def test_exit_2_without_a_stack_or_with_a_bad_port(env, capsys) -> None:
    assert main(["verify"]) == 2
    assert "--config FILE" in capsys.readouterr().err
    assert main(["verify", "--config", str(STACK_FILE), "--port", "25"]) == 2
    smtp = ["verify", "--config", str(STACK_FILE), "--smtp", "--no-ses"]
    assert main([*smtp, "--smtp-port", "2525"]) == 2
    assert "--smtp-port needs --smtp-host" in capsys.readouterr().err
    assert main([*smtp, "--smtp-host", "localhost", "--smtp-port", "70000"]) == 2
    assert "--smtp-port 70000 must be from 1 to 65535" in capsys.readouterr().err
    assert main([*smtp, "--smtp-deadline", "nan"]) == 2


def test_exit_2_bad_outputs(deployed, env, tmp_path, capsys) -> None:
    server, _, _ = deployed
    bad = tmp_path / "bad.json"
    bad.write_text('{"example.com": {"dkim": {"s2026a": {"public_key": "**"}}}}', encoding="utf-8")
    assert main([*_base(server, bad), "--no-ses"]) == 2
    assert "not valid base64" in capsys.readouterr().err
    bad.write_text('{"example.com": {"dkim": {"s2026a": {"public_key": "AAAA", "algorithm": "rsa-2048"}}}}', encoding="utf-8")
    assert main([*_base(server, bad), "--no-ses"]) == 2
    assert "is not a DKIM public key" in capsys.readouterr().err


def test_temporary_credentials_are_refused_up_front(deployed, env, capsys) -> None:
    server, _, outputs = deployed
    env.setenv("AWS_ACCESS_KEY_ID", "ASIATEMPORARY")
    env.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    env.setenv("AWS_SESSION_TOKEN", "session-token-value")
    assert main([*_base(server, outputs), "--no-ses", "--smtp"]) == 2
    err = capsys.readouterr().err
    assert "temporary" in err and "IAM user" in err and SECRET_KEY not in err and "session-token-value" not in err


def test_missing_aws_credentials_for_ses_is_bad_input(deployed, env, capsys) -> None:
    server, _, outputs = deployed
    assert main(_base(server, outputs)) == 2
    assert "--no-ses" in capsys.readouterr().err


def test_lock_next_to_the_stack_file_is_read(deployed, env, tmp_path, capsys) -> None:
    server, _, outputs = deployed
    stack_dir = tmp_path / "stacks"
    stack_dir.mkdir()
    shutil.copy(STACK_FILE, stack_dir / "Pulumi.verify.yaml")
    (stack_dir / "spf.lock.json").write_text('{"version": 99}', encoding="utf-8")
    args = ["verify", "--config", str(stack_dir / "Pulumi.verify.yaml"), "--nameserver", server.nameserver, "--no-ses"]
    assert main(args) == 2  # the malformed lock was read (and refused)
    assert "spf.lock.json" in capsys.readouterr().err


# --- SMTP through the CLI, and the secret grep ------------------------------------------------------------


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return make_ca(tmp_path_factory.mktemp("cli-ca"))


def _smtp_args(server, outputs, port: int, ca) -> list[str]:
    return [*_base(server, outputs), "--no-ses", "--smtp", "--domain", "example.com", "--smtp-host", "localhost",
            "--smtp-port", str(port), "--smtp-ca", str(ca.ca_file)]


def _secrets(*values: str) -> list[str]:
    """Each value and the forms it takes on the wire (AUTH PLAIN / LOGIN base64)."""
    out = []
    for value in values:
        out += [value, base64.b64encode(value.encode()).decode(), base64.b64encode(f"\0{USERNAME}\0{value}".encode()).decode()]
    return out


@pytest.mark.parametrize("server_password", [DERIVED, "not-the-password"], ids=["accepted", "rejected-535"])
def test_smtp_from_iam_key_and_no_secret_in_any_output(deployed, env, capsys, ca, server_password: str) -> None:
    server, _, outputs = deployed
    env.setenv("AWS_ACCESS_KEY_ID", USERNAME)
    env.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    script = Script(server_password)
    printed = []
    with smtp_server(script, ca) as port:
        for fmt in ([], ["--json"]):
            code = main([*_smtp_args(server, outputs, port, ca), *fmt])
            captured = capsys.readouterr()
            printed.append(captured.out + captured.err)
            assert code == (0 if server_password == DERIVED else 1)
    assert script.logins and script.logins[0] == (USERNAME, DERIVED)  # the derived password went on the wire only
    everything = "\n".join(printed)
    assert "smtp" in everything
    if server_password != DERIVED:
        assert "authentication stage" in everything and "535" in everything
    for secret in _secrets(SECRET_KEY, DERIVED):
        assert secret not in everything


def test_smtp_with_ready_password_from_environment(deployed, env, capsys, ca) -> None:
    server, _, outputs = deployed
    env.setenv(cli_verify.USERNAME_ENV, USERNAME)
    env.setenv(cli_verify.PASSWORD_ENV, READY_PASSWORD)
    script = Script(READY_PASSWORD, data=[ "554 Message rejected: Email address is not verified. The following identities failed the check in region EU-WEST-1: x"])
    with smtp_server(script, ca) as port:
        assert main([*_smtp_args(server, outputs, port, ca), "--json"]) == 1
    out = capsys.readouterr()
    smtp = next(c for d in json.loads(out.out)["domains"] for c in d["checks"] if c["name"] == "smtp")
    assert smtp["status"] == "fail" and smtp["detail"].startswith("acceptance stage at DATA")
    assert "not verified in region eu-west-1" in smtp["hint"]
    for secret in _secrets(READY_PASSWORD):
        assert secret not in out.out + out.err


def test_smtp_untrusted_certificate_through_cli(deployed, env, capsys, ca, tmp_path) -> None:
    server, _, outputs = deployed
    env.setenv(cli_verify.USERNAME_ENV, USERNAME)
    env.setenv(cli_verify.PASSWORD_ENV, READY_PASSWORD)
    rogue = make_ca(tmp_path / "rogue", "rogue")
    script = Script(READY_PASSWORD)
    with smtp_server(script, rogue) as port:
        assert main(_smtp_args(server, outputs, port, ca)) == 1
    out = capsys.readouterr().out
    assert "connection stage" in out and "certificate verify failed" in out
    assert script.logins == []
