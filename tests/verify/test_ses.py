"""SES identity checks: the pure comparison (table-driven) and the probe against moto and a botocore Stubber."""

from __future__ import annotations

import copy

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from sending_domain.verify.ses_checks import ses_checks
from sending_domain.verify.ses_probe import check_identity
from tests.verify.deployment import stack

READY = {
    "IdentityType": "DOMAIN",
    "VerifiedForSendingStatus": True,
    "VerificationStatus": "SUCCESS",
    "DkimAttributes": {"SigningEnabled": True, "Status": "SUCCESS", "SigningAttributesOrigin": "EXTERNAL", "Tokens": ["s2026a"]},
    "MailFromAttributes": {
        "MailFromDomain": "bounce.example.com",
        "MailFromDomainStatus": "SUCCESS",
        "BehaviorOnMxFailure": "USE_DEFAULT_VALUE",
    },
}


def settings():
    return stack().domain("example.com")


def with_(path: str, value: object) -> dict:
    response = copy.deepcopy(READY)
    *parents, leaf = path.split(".")
    node = response
    for key in parents:
        node = node[key]
    node[leaf] = value
    return response


def test_ready_identity_passes() -> None:
    assert [(c.name, c.status) for c in ses_checks(settings(), READY)] == [
        ("ses.verified", "pass"), ("ses.dkim", "pass"), ("ses.mail-from", "pass"),
    ]


CASES = [
    ("not-verified", with_("VerifiedForSendingStatus", False), "ses.verified", "fail", "not verified for sending in eu-west-1"),
    ("dkim-pending", with_("DkimAttributes.Status", "PENDING"), "ses.dkim", "fail", "up to 72 hours"),
    ("dkim-failed", with_("DkimAttributes.Status", "FAILED"), "ses.dkim", "fail", "did not find the records within 72 hours"),
    ("dkim-easy", with_("DkimAttributes.SigningAttributesOrigin", "AWS_SES"), "ses.dkim", "fail", "SigningAttributesOrigin AWS_SES"),
    ("dkim-other-selector", with_("DkimAttributes.Tokens", ["s2025b"]), "ses.dkim", "fail", "active key is s2026a"),
    ("dkim-disabled", with_("DkimAttributes.SigningEnabled", False), "ses.dkim", "fail", "disabled"),
    ("mail-from-unset", with_("MailFromAttributes", {}), "ses.mail-from", "fail", "MAIL FROM domain is not set"),
    ("mail-from-pending", with_("MailFromAttributes.MailFromDomainStatus", "PENDING"), "ses.mail-from", "fail", "status PENDING"),
    ("mail-from-temp", with_("MailFromAttributes.MailFromDomainStatus", "TEMPORARY_FAILURE"), "ses.mail-from", "fail", "DNS problem"),
    ("mail-from-behavior", with_("MailFromAttributes.BehaviorOnMxFailure", "REJECT_MESSAGE"), "ses.mail-from", "warn", "REJECT_MESSAGE"),
]


@pytest.mark.parametrize(("response", "check", "status", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_identity_problems(response: dict, check: str, status: str, words: str) -> None:
    found = {c.name: c for c in ses_checks(settings(), response)}
    assert found[check].status == status
    assert words in found[check].detail
    assert found[check].hint


def test_pending_hint_names_the_record() -> None:
    found = {c.name: c for c in ses_checks(settings(), with_("DkimAttributes.Status", "PENDING"))}
    assert "s2026a._domainkey.example.com" in found["ses.dkim"].hint


@mock_aws
def test_probe_with_moto_fresh_identity_is_not_ready() -> None:
    client = boto3.client("sesv2", region_name="eu-west-1")
    client.create_email_identity(EmailIdentity="example.com")
    found = {c.name: c.status for c in check_identity(client, settings())}
    assert found == {"ses.verified": "fail", "ses.dkim": "fail", "ses.mail-from": "fail"}  # moto: AWS_SES, NOT_STARTED


@mock_aws
def test_probe_with_moto_missing_identity() -> None:
    client = boto3.client("sesv2", region_name="eu-west-1")
    [result] = check_identity(client, settings())
    assert (result.name, result.status) == ("ses.identity", "fail")
    assert "no identity example.com in eu-west-1" in result.detail


def _stubbed(method_response: dict | None = None, error: str | None = None):
    client = boto3.client("sesv2", region_name="eu-west-1", aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x")
    stubber = Stubber(client)
    if error:
        stubber.add_client_error("get_email_identity", service_error_code=error, http_status_code=429)
    else:
        stubber.add_response("get_email_identity", method_response, {"EmailIdentity": "example.com"})
    stubber.activate()
    return client, stubber


def test_probe_with_stubber_ready_identity() -> None:
    client, stubber = _stubbed(READY)
    assert {c.status for c in check_identity(client, settings())} == {"pass"}
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(("code", "status"), [("TooManyRequestsException", "error"), ("AccessDeniedException", "fail")])
def test_probe_errors(code: str, status: str) -> None:
    client, _ = _stubbed(error=code)
    [result] = check_identity(client, settings())
    assert result.status == status and code in result.detail
