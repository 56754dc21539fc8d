"""The ``reports:`` section under Pulumi mocks: the MX, the bucket and its policy, the receipt rule, and the
refusals that keep an account's other inbound mail rules running."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pulumi
import pytest
from moto import mock_aws

from components.preflight import active_rule_set
from components.program import run
from tests.components import mocks as m
from tests.components.test_program import (
    refused_run,
    ADOPT_SETTINGS,
    EXAMPLE_COM_ZONE_ID,
    no_identity,
    no_resolver,
    private_key,
    write_lock,
)

RULE_SET = "inbound-main"
RULE_ARN = f"arn:aws:ses:eu-west-1:{m.ACCOUNT}:receipt-rule-set/{RULE_SET}:receipt-rule/sending-domain-dmarc-reports"
SETTINGS: dict[str, Any] = copy.deepcopy(ADOPT_SETTINGS)  # example.com with SES in eu-central-1, and an org domain
SETTINGS["domains"][0]["ses"]["region"] = "eu-central-1"
SETTINGS["domains"].append(
    {"domain": "news.example.org", "zone": "example.org", "senders": [], "dmarc": {"p": "none", "rua": ["mailto:agg@vendor.example"]}}
)
SETTINGS["reports"] = {"domain": "dmarc-reports.example.com", "region": "eu-west-1", "ruleSet": {"name": RULE_SET}}


def with_reports(**changes: Any) -> dict[str, Any]:
    settings = copy.deepcopy(SETTINGS)
    settings["reports"].update(changes)
    return settings


def active(name: str | None) -> Callable[[str], str | None]:
    return lambda region: name


class Deployed:
    def __init__(self, lock_file: Path, settings: dict[str, Any], rule_sets: Callable[[str], str | None] = active(RULE_SET),
                 live: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.mocks, self.monitor = m.install(private_key, live=live)
        self.outputs: dict[str, Any] = {}

        @pulumi.runtime.test
        def deploy() -> pulumi.Output:
            run(copy.deepcopy(settings), lock_file=lock_file, resolver_factory=no_resolver, live_identity=no_identity,
                live_rule_set=rule_sets)
            return pulumi.Output.from_input(m.stack_outputs()).apply(self._keep)

        deploy()

    def _keep(self, outputs: dict[str, Any]) -> None:
        self.outputs = outputs

    def inputs(self, name: str) -> dict[str, Any]:
        return self.monitor.named(name).inputs

    def types(self) -> set[str]:
        return {r.type for r in self.monitor.registered}


def refused(lock_file: Path, settings: dict[str, Any], rule_sets: Callable[[str], str | None],
            live: dict[str, list[dict[str, Any]]] | None = None) -> tuple[str, m.RecordingMonitor]:
    return refused_run(lock_file, settings, live, live_rule_set=rule_sets)


@pytest.fixture
def lock_file(tmp_path: Path) -> Path:
    return write_lock(tmp_path)


@pytest.fixture
def deployed(lock_file: Path) -> Deployed:
    return Deployed(lock_file, SETTINGS)


def test_the_reports_name_gets_an_mx_to_ses_inbound_in_the_receiving_region(deployed: Deployed) -> None:
    mx = deployed.inputs("example.com-dmarc-reports-mx")
    assert (mx["name"], mx["type"], mx["content"], mx["priority"], mx["zoneId"]) == (
        "dmarc-reports.example.com", "MX", "inbound-smtp.eu-west-1.amazonaws.com", 10, EXAMPLE_COM_ZONE_ID
    )
    assert mx["comment"] == "managed by sending-domain (stack test)"


def test_every_domain_reports_to_the_stack_address_first_and_keeps_its_own(deployed: Deployed) -> None:
    assert deployed.inputs("example.com-dmarc")["content"] == '"v=DMARC1; p=none; rua=mailto:dmarc@dmarc-reports.example.com"'
    assert deployed.inputs("news.example.org-dmarc")["content"] == (
        '"v=DMARC1; p=none; rua=mailto:dmarc@dmarc-reports.example.com,mailto:agg@vendor.example"'
    )
    # another organisational domain reports to ours: the stack authorises it (RFC 7489 §7.1), in our zone
    auth = deployed.inputs("news.example.org-dmarc-report-auth-dmarc-reports.example.com")
    assert (auth["name"], auth["content"], auth["zoneId"]) == (
        "news.example.org._report._dmarc.dmarc-reports.example.com", '"v=DMARC1"', EXAMPLE_COM_ZONE_ID
    )
    names = {r.name for r in deployed.monitor.of_type(m.DNS_RECORD)}
    assert "example.com-dmarc-report-auth-dmarc-reports.example.com" not in names  # same organisation: none needed


def test_the_bucket_policy_admits_only_ses_for_this_account_and_rule(deployed: Deployed) -> None:
    bucket = deployed.outputs["reports"]["bucket"]
    policy = json.loads(deployed.inputs("dmarc-reports.example.com-policy")["policy"])
    assert policy == {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AllowSESPuts",
            "Effect": "Allow",
            "Principal": {"Service": "ses.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
            "Condition": {"StringEquals": {"AWS:SourceAccount": m.ACCOUNT, "AWS:SourceArn": RULE_ARN}},
        }],
    }
    assert deployed.inputs("dmarc-reports.example.com-policy")["bucket"] == bucket


def test_the_bucket_is_private_and_encrypted(deployed: Deployed) -> None:
    block = deployed.inputs("dmarc-reports.example.com-public-access-block")
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    sse = deployed.inputs("dmarc-reports.example.com-encryption")["rules"]
    assert sse == [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
    assert m.LIFECYCLE not in deployed.types()  # no expiry unless asked


def test_the_rule_writes_mail_to_the_address_under_the_prefix(deployed: Deployed) -> None:
    rule = deployed.monitor.named("dmarc-reports.example.com-rule")
    bucket = deployed.outputs["reports"]["bucket"]
    assert rule.inputs["name"] == "sending-domain-dmarc-reports" and rule.inputs["ruleSetName"] == RULE_SET
    assert rule.inputs["recipients"] == ["dmarc@dmarc-reports.example.com"]
    assert rule.inputs["s3Actions"] == [{"bucketName": bucket, "objectKeyPrefix": "dmarc/", "position": 1}]
    assert rule.inputs["enabled"] is True and rule.inputs["scanEnabled"] is True
    assert deployed.monitor.named("dmarc-reports.example.com-policy").urn in rule.dependencies  # SES tests the write


def test_no_rule_set_is_created_or_activated_unless_asked(deployed: Deployed) -> None:
    assert m.RULE_SET not in deployed.types() and m.ACTIVE_RULE_SET not in deployed.types()


def test_with_activate_the_set_is_created_and_activated_after_the_rule(lock_file: Path) -> None:
    d = Deployed(lock_file, with_reports(ruleSet={"name": "dmarc-only", "activate": True}), rule_sets=active(None))
    assert d.inputs("dmarc-reports.example.com-rule-set")["ruleSetName"] == "dmarc-only"
    activation = d.monitor.named("dmarc-reports.example.com-active-rule-set")
    assert activation.inputs["ruleSetName"] == "dmarc-only"
    assert d.monitor.named("dmarc-reports.example.com-rule").urn in activation.dependencies
    arn = f"arn:aws:ses:eu-west-1:{m.ACCOUNT}:receipt-rule-set/dmarc-only:receipt-rule/sending-domain-dmarc-reports"
    assert json.loads(d.inputs("dmarc-reports.example.com-policy")["policy"])["Statement"][0]["Condition"]["StringEquals"]["AWS:SourceArn"] == arn


def test_activating_over_another_active_set_is_refused(lock_file: Path) -> None:
    message, monitor = refused(lock_file, with_reports(ruleSet={"name": "dmarc-only", "activate": True}), active("inbound-main"))
    assert "the receipt rule set 'inbound-main' is active in eu-west-1: activating 'dmarc-only' would switch off its rules" in message
    assert "reports.ruleSet: {name: inbound-main}" in message
    assert monitor.registered == []


@pytest.mark.parametrize("live_set", [None, "someone-else"])
def test_a_rule_set_that_is_not_active_is_refused(lock_file: Path, live_set: str | None) -> None:
    message, monitor = refused(lock_file, SETTINGS, active(live_set))
    assert f"the receipt rule set '{RULE_SET}' is not the active set in eu-west-1" in message
    assert "activate: true" in message
    assert monitor.registered == []


def test_expiry_and_bucket_name_when_given(lock_file: Path) -> None:
    d = Deployed(lock_file, with_reports(bucket="acme-dmarc-reports", prefix="rua/", expireDays=400))
    assert d.inputs("dmarc-reports.example.com-bucket")["bucket"] == "acme-dmarc-reports"
    rules = d.inputs("dmarc-reports.example.com-expiry")["rules"]
    assert rules == [{"id": "expire-dmarc-reports", "status": "Enabled", "filter": {"prefix": "rua/"}, "expiration": {"days": 400}}]
    assert d.outputs["reports"]["s3_uri"] == "s3://acme-dmarc-reports/rua/"


def test_the_stack_outputs_say_where_the_reports_land(deployed: Deployed) -> None:
    reports = deployed.outputs["reports"]
    bucket = reports["bucket"]
    assert bucket.startswith("dmarc-reports.example.com-bucket")
    assert reports == {
        "bucket": bucket, "prefix": "dmarc/", "address": "dmarc@dmarc-reports.example.com", "region": "eu-west-1",
        "rule_arn": RULE_ARN, "s3_uri": f"s3://{bucket}/dmarc/",
    }


def test_aws_resources_live_in_the_receiving_region(deployed: Deployed) -> None:
    provider = deployed.monitor.named("aws-eu-west-1", m.AWS_PROVIDER)
    component = deployed.monitor.named("dmarc-reports.example.com", m.DMARC_REPORTS)
    children = deployed.monitor.children(component.urn)
    for child in children:
        assert child.name.startswith("dmarc-reports.example.com-"), child.name
        if child.type.startswith("aws:"):
            assert child.provider.startswith(provider.urn), child.name
    calls = [c for c in deployed.mocks.calls if c[0] == m.GET_CALLER_IDENTITY]
    assert len(calls) == 1


def test_the_reports_name_is_verified_with_ses_when_no_identity_covers_it(deployed: Deployed) -> None:
    # example.com's SES identity is in eu-central-1, not the receiving region: the name needs its own
    assert deployed.inputs("dmarc-reports.example.com-identity")["domain"] == "dmarc-reports.example.com"
    txt = deployed.inputs("dmarc-reports.example.com-identity-verification")
    assert (txt["name"], txt["type"], txt["content"], txt["zoneId"]) == (
        "_amazonses.dmarc-reports.example.com", "TXT", f'"{m.VERIFICATION_TOKEN}"', EXAMPLE_COM_ZONE_ID
    )
    rule = deployed.monitor.named("dmarc-reports.example.com-rule")
    assert deployed.monitor.named("dmarc-reports.example.com-identity").urn in rule.dependencies


def test_a_sending_identity_in_the_receiving_region_covers_the_reports_name(lock_file: Path) -> None:
    settings = copy.deepcopy(SETTINGS)
    settings["domains"][0]["ses"]["region"] = "eu-west-1"
    d = Deployed(lock_file, settings)
    assert m.DOMAIN_IDENTITY not in d.types()
    assert [r.name for r in d.monitor.of_type(m.AWS_PROVIDER)] == ["aws-eu-west-1"]


def test_without_reports_nothing_of_it_is_declared(lock_file: Path) -> None:
    settings = copy.deepcopy(SETTINGS)
    del settings["reports"]
    d = Deployed(lock_file, settings, rule_sets=lambda region: pytest.fail("SES was asked"))
    assert m.DMARC_REPORTS not in d.types() and "reports" not in d.outputs
    assert not [c for c in d.mocks.calls if c[0] == m.GET_CALLER_IDENTITY]
    assert d.inputs("example.com-dmarc")["content"] == '"v=DMARC1; p=none"'


def test_a_competing_mx_at_the_reports_name_is_refused_or_adopted(lock_file: Path) -> None:
    other = {"id": "rec-mx", "name": "dmarc-reports.example.com", "type": "MX", "content": "mx.vendor.example",
             "priority": 5, "comment": None, "ttl": 300}
    live = {EXAMPLE_COM_ZONE_ID: [other]}
    message, monitor = refused(lock_file, SETTINGS, active(RULE_SET), live=live)
    assert "dmarc-reports.example.com MX: another MX record, not created by this stack, is live at dmarc-reports.example.com" in message
    assert monitor.registered == []
    settings = copy.deepcopy(SETTINGS)
    settings["domains"][0]["adopt"] = True
    d = Deployed(lock_file, settings, live=live)
    mx = d.monitor.named("example.com-dmarc-reports-mx")
    assert mx.import_id == f"{EXAMPLE_COM_ZONE_ID}/rec-mx" and mx.inputs["content"] == "inbound-smtp.eu-west-1.amazonaws.com"


@mock_aws
def test_the_preflight_reads_the_active_rule_set_from_ses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    assert active_rule_set("eu-west-1") is None  # moto's SES: no set active yet
    ses = boto3.client("ses", region_name="eu-west-1")
    ses.create_receipt_rule_set(RuleSetName=RULE_SET)
    ses.set_active_receipt_rule_set(RuleSetName=RULE_SET)
    assert active_rule_set("eu-west-1") == RULE_SET
    assert active_rule_set("us-east-1") is None  # per region
