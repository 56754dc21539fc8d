"""The SMTP test against a real aiosmtpd server on loopback: success, and each failure in its stage."""

from __future__ import annotations

import ssl
from email import message_from_bytes

import pytest

from sending_domain.core.smtp_auth import Secret, SmtpCredentials
from sending_domain.verify.message import build_test_message
from sending_domain.verify.smtp_probe import SmtpTarget, send_test_message
from sending_domain.verify.smtp_result import SmtpOutcome, enhanced_status, smtp_check
from tests.verify.smtp_server import USERNAME, Script, make_ca, smtp_server

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

PASSWORD = "BHsmtp+password+derived+for+test"
NOT_VERIFIED = "554 Message rejected: Email address is not verified. The following identities failed the check in region EU-WEST-1: v@example.com"


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def rogue_ca(tmp_path_factory):
    return make_ca(tmp_path_factory.mktemp("rogue"), "rogue")


def _message():
    from datetime import datetime, timezone

    return build_test_message(sender="v@example.com", recipient="success@simulator.amazonses.com", run_id="run42", now=datetime.now(timezone.utc))


def _send(port: int, ca_file, *, password: str = PASSWORD, retries: int = 2):
    target = SmtpTarget("localhost", port, "eu-west-1", ssl.create_default_context(cafile=str(ca_file)), timeout=10)
    slept: list[float] = []
    outcome = send_test_message(target, SmtpCredentials(USERNAME, Secret(password)), _message(), retries=retries, backoff=0.01, sleep=slept.append)
    return outcome, slept


def test_message_is_accepted_over_starttls(ca) -> None:
    script = Script(PASSWORD)
    with smtp_server(script, ca) as port:
        outcome, _ = _send(port, ca.ca_file)
    assert outcome.stage is None, outcome
    check = smtp_check(outcome)
    assert check.status == "pass" and "<run42@example.com>" in check.detail
    [raw] = script.messages
    received = message_from_bytes(raw)
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert received["Message-ID"] == "<run42@example.com>"
    assert script.logins == [(USERNAME, PASSWORD)]


def test_implicit_tls_on_465_style_port(ca, monkeypatch) -> None:
    from sending_domain.verify import smtp_probe

    script = Script(PASSWORD)
    with smtp_server(script, ca, mode="implicit") as port:
        monkeypatch.setattr(smtp_probe, "IMPLICIT_TLS_PORTS", frozenset({port}))
        outcome, _ = _send(port, ca.ca_file)
    assert outcome.stage is None, outcome
    assert len(script.messages) == 1


# (id, script changes, server mode, stage, status, code, words in the hint)
CASES = [
    ("no-starttls", {}, "plain", "connection", "fail", None, "did not offer STARTTLS"),
    ("bad-credentials", {"password": "something-else"}, "starttls", "authentication", "fail", 535, "IAM user's access key"),
    ("recipient-unknown", {"rcpt": ["550 5.1.1 Recipient address rejected: no such user"]}, "starttls", "recipient", "fail", 550, "recipient does not exist"),
    ("not-verified", {"data": [NOT_VERIFIED]}, "starttls", "acceptance", "fail", 554, "not verified in region eu-west-1"),
    ("throttled-always", {"mail": ["421 4.4.5 Too many connections"]}, "starttls", "application", "error", 421, "throttled"),
]


@pytest.mark.parametrize(("changes", "mode", "stage", "status", "code", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_failures_land_in_their_stage(ca, changes: dict, mode: str, stage: str, status: str, code: int | None, words: str) -> None:
    script = Script(PASSWORD, **{k: v for k, v in changes.items() if k != "password"})
    with smtp_server(script, ca, mode=mode) as port:
        outcome, _ = _send(port, ca.ca_file, password=changes.get("password", PASSWORD))
    assert outcome.stage == stage, outcome
    assert outcome.code == code
    check = smtp_check(outcome)
    assert check.status == status
    assert words in check.hint
    assert script.messages == []
    if stage == "connection":
        assert script.logins == []  # no STARTTLS: the credentials never left


def test_421_then_success_is_retried(ca) -> None:
    script = Script(PASSWORD, mail=["421 4.4.5 Too many connections", "250 OK"])
    with smtp_server(script, ca) as port:
        outcome, slept = _send(port, ca.ca_file)
    assert outcome.stage is None and outcome.attempts == 2
    assert slept == [0.01]
    assert len(script.messages) == 1


def test_untrusted_certificate_fails_at_connection(ca, rogue_ca) -> None:
    script = Script(PASSWORD)
    with smtp_server(script, rogue_ca) as port:
        outcome, _ = _send(port, ca.ca_file)
    assert outcome.stage == "connection"
    assert "certificate verify failed" in outcome.reason
    assert "certificate" in smtp_check(outcome).hint
    assert script.logins == []


def test_nothing_listening_fails_at_connection(ca) -> None:
    from tests.verify.smtp_server import free_port

    outcome, _ = _send(free_port(), ca.ca_file)
    assert outcome.stage == "connection" and outcome.reason == "connection refused"
    assert "--port 2587" in smtp_check(outcome).hint


def test_enhanced_status() -> None:
    assert enhanced_status("5.1.1 no such user") == "5.1.1"
    assert enhanced_status("Message rejected") == ""
    outcome = SmtpOutcome("h", 587, "eu-west-1", stage="recipient", code=550, reply="5.1.1 no such user", command="RCPT TO")
    assert "550 5.1.1" in smtp_check(outcome).detail


def test_non_ascii_password_fails_at_authentication_without_leaking(ca) -> None:
    script = Script(PASSWORD)
    with smtp_server(script, ca) as port:
        outcome, _ = _send(port, ca.ca_file, password="pässwört-secret")
    assert outcome.stage == "authentication" and "not ASCII" in outcome.reason
    assert "pässwört" not in repr(outcome) and "pässwört" not in smtp_check(outcome).detail
