"""The stack's ``reports:`` section: exact settings, the rua it gives every domain, and every refusal with its key path."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from sending_domain.core import reports as r
from sending_domain.core.config import parse_settings
from sending_domain.core.errors import ConfigError
from sending_domain.core.settings import ReportsSettings
from sending_domain.core.ses_regions import SES_REGIONS

BASE: dict[str, Any] = {
    "domains": [
        {
            "domain": "example.com",
            "zone": "example.com",
            "senders": [],
            "dkim": {"keys": [{"selector": "s1", "state": "active"}]},
            "dmarc": {"p": "none", "rua": ["mailto:agg@vendor.example", "mailto:dmarc@dmarc-reports.example.com"]},
            "ses": {"region": "eu-west-1", "mailFrom": "bounce"},
        },
        {"domain": "news.example.org", "zoneId": "0123456789abcdef0123456789abcdef", "senders": [], "dmarc": {"p": "none"}},
    ],
    "reports": {"domain": "dmarc-reports.example.com", "region": "eu-west-1", "ruleSet": {"name": "inbound"}},
}


def stack(**reports: Any) -> dict[str, Any]:
    raw = copy.deepcopy(BASE)
    raw["reports"].update(reports)
    return raw


def problems_of(raw: object) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        parse_settings(raw, source="test")
    return [(p.path, p.code) for p in info.value.problems]


def test_the_section_parses_into_exact_settings_with_defaults() -> None:
    parsed = parse_settings(stack())
    assert parsed.reports == ReportsSettings(
        domain="dmarc-reports.example.com", region="eu-west-1", rule_set="inbound", activate=False, local_part="dmarc",
        bucket=None, prefix="dmarc/", expire_days=None, rule_name="sending-domain-dmarc-reports",
    )
    assert parsed.reports.rua == "mailto:dmarc@dmarc-reports.example.com"


def test_every_key_is_read() -> None:
    parsed = parse_settings(stack(domain="DMARC.Example.com.", localPart="Rua", bucket="acme-reports", prefix="in/",
                                  expireDays=90, ruleName="dmarc", ruleSet={"name": "ours", "activate": True}))
    assert parsed.reports == ReportsSettings("dmarc.example.com", "eu-west-1", "ours", True, "rua", "acme-reports", "in/", 90, "dmarc")


def test_the_report_address_comes_first_and_the_domains_own_follow_once() -> None:
    parsed = parse_settings(stack())
    com, org = parsed.domains
    assert com.dmarc.rua == ("mailto:dmarc@dmarc-reports.example.com", "mailto:agg@vendor.example")
    assert org.dmarc.rua == ("mailto:dmarc@dmarc-reports.example.com",)


def test_the_mx_goes_with_the_domain_that_contains_the_name() -> None:
    parsed = parse_settings(stack())
    assert parsed.domains[0].reports_mx == parsed.reports and parsed.domains[1].reports_mx is None
    # a name in a zone given by id is under that domain; the first domain containing it carries the MX
    parsed = parse_settings(stack(domain="reports.news.example.org"))
    assert parsed.domains[0].reports_mx is None and parsed.domains[1].reports_mx == parsed.reports


def test_without_the_section_nothing_changes() -> None:
    raw = copy.deepcopy(BASE)
    del raw["reports"]
    parsed = parse_settings(raw)
    assert parsed.reports is None and all(d.reports_mx is None for d in parsed.domains)
    assert parsed.domains[1].dmarc.rua == ()


@pytest.mark.parametrize(
    ("changes", "problems"),
    [
        ({"region": "eu-north-1"}, [("reports.region", "reports-region")]),
        ({"region": "us-gov-west-1"}, [("reports.region", "reports-region")]),
        ({"domain": "example.net"}, [("reports.domain", "reports-zone")]),
        ({"domain": "example.com"}, [("reports.domain", "reports-collision")]),
        ({"domain": "news.example.org"}, [("reports.domain", "reports-collision")]),
        ({"domain": "example.org"}, [("reports.domain", "reports-zone")]),
        ({"domain": "bounce.example.com"}, [("reports.domain", "reports-mailfrom")]),
        ({"domain": "in.bounce.example.com"}, [("reports.domain", "reports-mailfrom")]),
        ({"domain": "_dmarc.example.com"}, [("reports.domain", "hostname")]),
        ({"domain": None}, [("reports.domain", "required")]),
        ({"localPart": "a b"}, [("reports.localPart", "reports-local-part")]),
        ({"localPart": ".dmarc"}, [("reports.localPart", "reports-local-part")]),
        ({"bucket": "My_Bucket"}, [("reports.bucket", "reports-bucket")]),
        ({"bucket": "192.168.1.1"}, [("reports.bucket", "reports-bucket")]),
        ({"bucket": "ab"}, [("reports.bucket", "reports-bucket")]),
        ({"prefix": "/dmarc/"}, [("reports.prefix", "reports-prefix")]),
        ({"prefix": "a b"}, [("reports.prefix", "reports-prefix")]),
        ({"expireDays": 0}, [("reports.expireDays", "range")]),
        ({"expireDays": "30"}, [("reports.expireDays", "type")]),
        ({"ruleName": "-rule"}, [("reports.ruleName", "reports-rule-name")]),
        ({"ruleName": "r" * 65}, [("reports.ruleName", "reports-rule-name")]),
        ({"ruleSet": None}, [("reports.ruleSet", "required")]),
        ({"ruleSet": {"activate": True}}, [("reports.ruleSet.name", "required")]),
        ({"ruleSet": {"name": "x", "activate": "yes"}}, [("reports.ruleSet.activate", "type")]),
        ({"ruleSet": {"name": "x", "active": True}}, [("reports.ruleSet.active", "unknown-key")]),
        ({"bukket": "x"}, [("reports.bukket", "unknown-key")]),
    ],
)
def test_bad_sections_report_exact_problems(changes: dict[str, Any], problems: list[tuple[str, str]]) -> None:
    raw = stack(**changes)
    raw["reports"] = {k: v for k, v in raw["reports"].items() if v is not None}
    assert problems_of(raw) == problems


def test_every_problem_of_the_section_at_once() -> None:
    raw = stack(region="ap-south-1", domain="bounce.example.com", bucket="A", ruleSet={})
    assert problems_of(raw) == [
        ("reports.region", "reports-region"),
        ("reports.bucket", "reports-bucket"),
        ("reports.ruleSet.name", "required"),
        ("reports.domain", "reports-mailfrom"),
    ]


def test_a_section_of_the_wrong_kind() -> None:
    raw = copy.deepcopy(BASE)
    raw["reports"] = ["dmarc-reports.example.com"]
    assert problems_of(raw) == [("reports", "type")]


def test_messages_say_what_to_do() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(stack(region="eu-north-1", domain="example.com"))
    text = str(info.value)
    assert ("'eu-north-1' is not a region where SES receives mail; use one of ap-northeast-1, ap-southeast-1, "
            "ap-southeast-2, ap-southeast-3, ca-central-1, eu-central-1, eu-west-1, eu-west-2, us-east-1, us-east-2, "
            "us-west-2") in text
    assert "example.com is a sending domain (domains[0]): an MX for the reports would take its mail" in text


# --- the pure rules ----------------------------------------------------------------------------------------


def test_the_receiving_regions_are_the_documented_ones() -> None:
    assert r.RECEIVING_REGIONS == {"us-east-1", "us-east-2", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2",
                                   "eu-central-1", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-northeast-1"}
    assert r.RECEIVING_REGIONS <= SES_REGIONS  # each one an SES region botocore knows
    assert r.inbound_smtp_host("eu-west-1") == "inbound-smtp.eu-west-1.amazonaws.com"


def test_receipt_rule_arn_and_bucket_policy() -> None:
    arn = r.receipt_rule_arn("us-east-1", "111122223333", "set", "rule")
    assert arn == "arn:aws:ses:us-east-1:111122223333:receipt-rule-set/set:receipt-rule/rule"
    policy = r.bucket_policy("b", "111122223333", arn)
    statement = policy["Statement"][0]
    assert (statement["Principal"], statement["Action"], statement["Resource"]) == (
        {"Service": "ses.amazonaws.com"}, "s3:PutObject", "arn:aws:s3:::b/*"
    )
    assert statement["Condition"] == {"StringEquals": {"AWS:SourceAccount": "111122223333", "AWS:SourceArn": arn}}


@pytest.mark.parametrize(
    ("rule_set", "activate", "active", "ok"),
    [
        ("main", False, "main", True),
        ("main", False, None, False),
        ("main", False, "other", False),
        ("ours", True, None, True),
        ("ours", True, "ours", True),  # the second deployment: ours is the active one now
        ("ours", True, "other", False),  # never switch another set's rules off
    ],
)
def test_which_rule_set_the_rule_may_join(rule_set: str, activate: bool, active: str | None, ok: bool) -> None:
    assert (r.rule_set_reason(rule_set, activate, active, "eu-west-1") is None) is ok


def test_a_verified_domain_covers_its_subdomains() -> None:
    assert r.covering_identity("dmarc.example.com", ["example.org", "example.com"]) == "example.com"
    assert r.covering_identity("dmarc.example.com", ["x.example.com", "example.com", "dmarc.example.com"]) == "dmarc.example.com"
    assert r.covering_identity("dmarc.example.com", ["ample.com", "other.example.com"]) is None


def test_the_commented_example_in_the_example_stack_parses() -> None:
    """The example stack's reports: block is commented out; uncommented, it is a valid section."""
    path = Path(__file__).resolve().parents[2] / "stacks" / "Pulumi.example.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    start = lines.index("    # reports:")
    block = "\n".join(line.replace("    # ", "", 1) for line in lines[start:] if line.startswith("    # "))
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))["config"]["sending-domain:settings"]
    raw["reports"] = yaml.safe_load(block)["reports"]
    parsed = parse_settings(raw)
    assert parsed.reports is not None and parsed.reports.bucket == "example-dmarc-reports"
    assert all(d.dmarc.rua[0] == "mailto:dmarc@dmarc-reports.example.com" for d in parsed.domains)


def test_a_zone_apex_is_refused_even_when_no_domain_sends_from_it() -> None:
    raw = stack(domain="example.com")
    raw["domains"][0]["domain"] = "mail.example.com"
    assert problems_of(raw) == [("reports.domain", "reports-collision")]
    assert parse_settings(stack(domain="dmarc.example.com")).reports is not None
