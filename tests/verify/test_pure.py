"""Pure parts of the verifier: SMTP password, organizational domain, outputs file, message, check model."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sending_domain.core import dkim
from sending_domain.core.checks import CheckResult, DomainReport, exit_code
from sending_domain.core.errors import ConfigError
from sending_domain.core.smtp_auth import TEMPORARY_CREDENTIALS_REASON, Secret, SmtpCredentials, smtp_password
from sending_domain.verify.message import build_test_message
from sending_domain.verify.orgdomain import aligned, organizational_domain
from sending_domain.outputs import dkim_public_keys, read_dkim_public_keys as read_outputs


# --- SES SMTP password (terraform-provider-aws internal/service/iam/access_key_test.go vectors) --------------


@pytest.mark.parametrize(
    ("region", "password"),
    [
        ("eu-central-1", "BMXhUYlu5Z3gSXVQORxlVa7XPaz91aGWdfHxvkOZdWZ2"),
        ("us-west-1", "BH+jbMzper5WwlwUar9E1ySBqHa9whi0GPo+sJ0mVYJj"),
    ],
)
def test_smtp_password_published_vectors(region: str, password: str) -> None:
    assert smtp_password("some+secret+key", region) == password


def test_smtp_password_needs_secret_and_region() -> None:
    with pytest.raises(ValueError):
        smtp_password("", "eu-west-1")
    with pytest.raises(ValueError):
        smtp_password("x", "")


def test_secret_never_shows_itself() -> None:
    secret = Secret("hunter2-very-secret")
    creds = SmtpCredentials("AKIAEXAMPLE", secret, "test")
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", repr(creds), str(creds)):
        assert "hunter2" not in text
    assert secret.reveal() == "hunter2-very-secret"


def test_temporary_credentials_are_refused() -> None:
    with pytest.raises(ValueError, match="session token") as info:
        SmtpCredentials.from_iam_key("ASIAEXAMPLE", Secret("top-secret-key"), "eu-west-1", session_token="tok")
    assert "top-secret-key" not in str(info.value)
    assert "IAM user" in TEMPORARY_CREDENTIALS_REASON


def test_credentials_from_iam_key_derive_the_region_password() -> None:
    creds = SmtpCredentials.from_iam_key("AKIAEXAMPLE", Secret("some+secret+key"), "us-west-1")
    assert creds.username == "AKIAEXAMPLE"
    assert creds.password.reveal() == "BH+jbMzper5WwlwUar9E1ySBqHa9whi0GPo+sJ0mVYJj"


# --- organizational domain ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "org"),
    [
        ("example.com", "example.com"),
        ("bounce.example.com", "example.com"),
        ("a.b.c.example.org", "example.org"),
        ("shop.example.co.uk", "example.co.uk"),
        ("example.co.uk", "example.co.uk"),
        ("Mail.Example.COM.", "example.com"),
        ("co.uk", "co.uk"),
        ("foo.github.io", "foo.github.io"),  # a private suffix of the list: github.io
        ("x.b.c.kawasaki.jp", "b.c.kawasaki.jp"),  # a wildcard rule: *.kawasaki.jp
        ("mail.example.internal-tld", "example.internal-tld"),  # not in the list: the last label is the suffix
        ("news.xn--bcher-kva.example", "xn--bcher-kva.example"),
    ],
)
def test_organizational_domain(name: str, org: str) -> None:
    assert organizational_domain(name) == org


@pytest.mark.parametrize(
    ("identifier", "domain", "mode", "ok"),
    [
        ("bounce.example.com", "example.com", "r", True),
        ("bounce.example.com", "example.com", "s", False),
        ("example.com", "example.com", "s", True),
        ("mail.example.net", "example.com", "r", False),
        ("a.example.co.uk", "b.example.co.uk", "r", True),
        ("a.one.co.uk", "b.two.co.uk", "r", False),
        ("a.github.io", "b.github.io", "r", False),  # two sites, two organizations
    ],
)
def test_alignment(identifier: str, domain: str, mode: str, ok: bool) -> None:
    assert aligned(identifier, domain, mode) is ok


# --- the outputs file -----------------------------------------------------------------------------

KEY = dkim.public_key_b64(dkim.generate_private_key_pem("rsa-2048"))
ED_KEY = dkim.public_key_b64(dkim.generate_private_key_pem("ed25519"))
SMALL_RSA = base64.b64encode(  # a 512-bit public key (no need to factor it: only its size is checked)
    rsa.RSAPublicNumbers(65537, (1 << 511) | 0xC5).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


@pytest.mark.parametrize(
    "document",
    [
        {"example.com": {"dkim": {"s1": {"public_key": KEY, "algorithm": "rsa-2048"}}}},  # components/program.py
        {"Example.COM.": {"dkim": {"s1": {"public_key": KEY}}}},
        {"example.com": {"dkim": {"s1": {"public_key": KEY}, "s2": {"public_key": "[secret]"}}}, "other": 3, "x": [1]},
    ],
)
def test_outputs_shapes(document: dict) -> None:
    assert dkim_public_keys(document) == {("example.com", "s1"): KEY}


def test_outputs_bad_key_and_bad_file(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"example.com.dkim.s1: public_key is not a DKIM public key \(p= is not valid base64"):
        dkim_public_keys({"example.com": {"dkim": {"s1": {"public_key": "**"}}}})
    bad = tmp_path / "out.json"
    bad.write_text("{nope", encoding="utf-8")
    with pytest.raises(ConfigError, match="not JSON"):
        read_outputs(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        read_outputs(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="JSON object"):
        dkim_public_keys([1, 2])
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"example.com": {"dkim": {"s1": {"public_key": KEY}}}}), encoding="utf-8")
    assert read_outputs(good) == {("example.com", "s1"): KEY}


# --- the test message ------------------------------------------------------------------------------


def test_message_headers() -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
    msg = build_test_message(sender="v@example.com", recipient="success@simulator.amazonses.com", run_id="abc123", now=now)
    assert msg["Message-ID"] == "<abc123@example.com>"
    assert msg["Date"] == "Fri, 01 May 2026 12:00:00 +0000"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["List-Unsubscribe"].startswith("<https://example.com/unsubscribe/abc123>")
    assert "abc123" in msg["Subject"]


# --- the check model ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "code"),
    [((), 0), (("pass", "warn"), 0), (("pass", "error"), 3), (("error", "fail"), 1), (("fail",), 1)],
)
def test_exit_codes(statuses: tuple[str, ...], code: int) -> None:
    reports = [DomainReport("d.example", tuple(CheckResult(f"c{i}", s, "x", "h") for i, s in enumerate(statuses)))]
    assert exit_code(reports) == code


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError):
        CheckResult("x", "ok", "detail")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("key", "algorithm", "reason"),
    [
        ("AAAA", None, "p= is not a DER-encoded public key"),  # base64, but of three zero bytes
        ("AAAA", "ed25519", "an ed25519 key is 32 octets, p= has 3"),
        ("AAAA", "rsa-2048", "p= is not a DER-encoded public key"),
        (ED_KEY, "rsa-2048", "p= is not a DER-encoded public key"),
        (SMALL_RSA, "rsa-1024", "an RSA key of 512 bits; at least 1024"),
    ],
)
def test_outputs_public_keys_must_be_keys(key: str, algorithm: str | None, reason: str) -> None:
    entry = {"public_key": key} if algorithm is None else {"public_key": key, "algorithm": algorithm}
    with pytest.raises(ConfigError) as info:
        dkim_public_keys({"example.com": {"dkim": {"s1": entry}}})
    ((problem,),) = [info.value.problems]
    assert (problem.path, problem.code) == ("example.com.dkim.s1", "outputs-public-key") and reason in problem.message


def test_outputs_accept_both_kinds_of_key() -> None:
    document = {"example.com": {"dkim": {"r": {"public_key": KEY, "algorithm": "rsa-2048"},
                                         "e": {"public_key": ED_KEY, "algorithm": "ed25519"}, "u": {"public_key": ED_KEY}}}}
    assert dkim_public_keys(document) == {("example.com", "r"): KEY, ("example.com", "e"): ED_KEY, ("example.com", "u"): ED_KEY}


def test_outputs_file_that_is_not_utf8_or_too_deep(tmp_path) -> None:
    bad = tmp_path / "out.json"
    bad.write_bytes(b'{"\xff": 1}')
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_outputs(bad)
    bad.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(ConfigError, match="nested too deeply|not JSON"):
        read_outputs(bad)
