"""The pure checks called with plain values (no DNS): the edges the server-driven tests do not reach."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sending_domain.core.dmarc import parse_dmarc_policy
from sending_domain.core.dnsdata import Answer
from sending_domain.core.render import dmarc_policy
from sending_domain.core.settings import DkimKeySettings
from sending_domain.core.spf.netset import NetSet
from sending_domain.verify import record_checks, spf_checks
from sending_domain.verify.observed import LiveSpf, ObservedDns, SenderNets, Unanswered
from sending_domain.verify.smtp_result import SmtpOutcome, smtp_check
from tests.verify.deployment import stack

VERIFY = Path(__file__).resolve().parents[2] / "sending_domain" / "verify"
PURE = ("observed", "orgdomain", "spf_checks", "record_checks", "dns_checks", "ses_checks", "smtp_result", "message", "report")
FORBIDDEN = ("socket", "asyncio", "os", "smtplib", "ssl", "boto3", "botocore", "dns", "subprocess", "sending_domain.dns",
             "sending_domain.desired", "sending_domain.verify.runner", "sending_domain.verify.dns_probe",
             "sending_domain.verify.ses_probe", "sending_domain.verify.smtp_probe")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:  # module level only: TYPE_CHECKING imports sit inside an `if`
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", PURE)
def test_check_modules_do_no_io(module: str) -> None:
    bad = sorted(m for m in _imports(VERIFY / f"{module}.py") if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))
    assert bad == []


def test_live_tree_errors_are_classified() -> None:
    voids = spf_checks.check_tree("d.example", LiveSpf(error="the SPF tree of d.example makes 3 void lookups for IPv4 clients", void_limit=True))
    assert [(c.name, c.status) for c in voids] == [("spf.lookups", "warn"), ("spf.voids", "fail")]
    loop = spf_checks.check_tree("d.example", LiveSpf(error="SPF loop: a -> b -> a"))
    assert [(c.name, c.status) for c in loop] == [("spf.lookups", "fail"), ("spf.voids", "warn")]
    transient = spf_checks.check_tree("d.example", LiveSpf(transient="DNS timeout"))
    assert {c.status for c in transient} == {"error"}


def test_unanswered_root_is_an_error() -> None:
    assert spf_checks.check_record("d.example", Unanswered("DNS timeout")).status == "error"


def test_opaque_sender_warns() -> None:
    settings = stack().domain("example.net")
    from sending_domain.core.spf.tree import evaluate

    program = evaluate("example.net", {}, "v=spf1 ip4:198.51.100.0/24 ~all").program
    observed = ObservedDns({}, LiveSpf(program, 0, {4: 0, 6: 0}), {"ip4:198.51.100.0/24": SenderNets(opaque=True)})
    assert spf_checks.check_senders(settings, observed).status == "warn"
    covered = ObservedDns({}, LiveSpf(program, 0, {}), {"ip4:198.51.100.0/24": SenderNets(NetSet())})
    assert spf_checks.check_senders(settings, covered).status == "pass"


@pytest.mark.parametrize(
    ("values", "status", "words"),
    [
        (("10 feedback-smtp.eu-west-1.amazonses.com",), "pass", "MX 10"),
        (("20 feedback-smtp.eu-west-1.amazonses.com",), "warn", "preference 10"),
        ((), "fail", "no MX"),
    ],
)
def test_mail_from_mx(values: tuple[str, ...], status: str, words: str) -> None:
    result = record_checks.check_mail_from_mx("bounce.example.com", "eu-west-1", Answer("ok", values))
    assert result.status == status and words in result.detail


def test_dkim_unanswered_and_missing() -> None:
    key = DkimKeySettings("s1", "rsa-2048", "active")
    assert record_checks.check_dkim(key, "s1._domainkey.d.example", None, Unanswered("SERVFAIL")).status == "error"
    assert record_checks.check_dkim(key, "s1._domainkey.d.example", None, Answer("nxdomain")).status == "fail"


def test_alignment_without_an_active_key_warns() -> None:
    settings = stack().domain("example.net")
    assert record_checks.alignment_checks(settings, dmarc_policy(settings), None) == []  # no DKIM keys, no SES: nothing of ours to align


def test_smtp_connection_hints() -> None:
    dns = SmtpOutcome("email-smtp.xx.amazonaws.com", 587, "xx-1", stage="connection", reason="name not known (Name or service not known)")
    assert "does not resolve" in smtp_check(dns).hint
    greeting = SmtpOutcome("h", 587, "r", stage="connection", code=554, reply="no service", command="greeting")
    assert smtp_check(greeting).status == "fail"


def test_dmarc_policy_diff_names_each_tag() -> None:
    result = record_checks.check_dmarc_policy("_dmarc.d.example", {"v": "DMARC1", "p": "none"}, parse_dmarc_policy("v=DMARC1; p=reject; rua=mailto:a@d.example"))
    assert result.status == "fail"
    assert "p=none (stack: reject)" in result.detail and "rua=- (stack: mailto:a@d.example)" in result.detail
    stronger = record_checks.check_dmarc_policy("_dmarc.d.example", {"v": "DMARC1", "p": "reject"}, parse_dmarc_policy("v=DMARC1; p=none"))
    assert "enforces more" in stronger.hint


def test_progress_draws_only_when_asked(capsys) -> None:
    from sending_domain.cli.verify import _Progress

    progress = _Progress()
    progress(1, 3, 1)
    progress(3, 3, 1)
    progress.clear()
    err = capsys.readouterr().err
    assert "verifying 3/3 domains (attempt 1)" in err and err.endswith("\r\x1b[K")


def test_alignment_fails_only_when_neither_identifier_aligns() -> None:
    settings = stack().domain("example.com")
    strict = {"v": "DMARC1", "p": "none", "aspf": "s", "adkim": "r"}
    assert [c.status for c in record_checks.alignment_checks(settings, dmarc_policy(settings), strict)] == ["warn", "pass"]
    from dataclasses import replace

    no_key = replace(settings, dkim=())
    assert [c.status for c in record_checks.alignment_checks(no_key, dmarc_policy(no_key), strict)] == ["fail", "fail"]
