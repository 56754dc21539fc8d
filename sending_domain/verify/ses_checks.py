"""SES identity checks: a ``sesv2.get_email_identity`` response against the stack (pure).

The identity is ready to send as the stack wants when (SES API reference, ``GetEmailIdentity``):

- ``ses.verified``  — ``VerifiedForSendingStatus`` is true;
- ``ses.dkim``      — ``DkimAttributes.Status`` is ``SUCCESS``, ``SigningAttributesOrigin`` is ``EXTERNAL``
  (BYODKIM: SES signs with the stack's key), signing is enabled, and for BYODKIM ``Tokens`` holds the
  selector SES signs with, which should be the stack's active key;
- ``ses.mail-from`` — ``MailFromAttributes.MailFromDomain`` is the stack's and ``MailFromDomainStatus`` is
  ``SUCCESS``.

SES keeps looking for the DNS records it needs for up to 72 hours after they were configured; while it
looks the status is ``PENDING``, after that ``FAILED`` until the records are fixed and the check is
restarted. ``TEMPORARY_FAILURE`` means a DNS problem stopped a check that had succeeded before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sending_domain.core.checks import CheckResult, failed, passed, warned
from sending_domain.core.dkim import dkim_record_name
from sending_domain.core.render import ses_feedback_host
from sending_domain.core.settings import DomainSettings

_STATUS_WORDS = {
    "PENDING": "SES is still looking for the records (it keeps looking for up to 72 hours)",
    "FAILED": "SES gave up: it did not find the records within 72 hours",
    "TEMPORARY_FAILURE": "SES could not read the records lately (a DNS problem) after they had verified",
    "NOT_STARTED": "SES has not started looking",
}


def _explain(status: str) -> str:
    return _STATUS_WORDS.get(status, f"status {status or 'missing'}")


def ses_checks(settings: DomainSettings, identity: Mapping[str, Any]) -> list[CheckResult]:
    """The checks for a domain whose settings have an ``ses`` block; ``identity`` is the API response."""
    return [check_verified(settings, identity), check_dkim(settings, identity), check_mail_from(settings, identity)]


def missing_identity(settings: DomainSettings) -> CheckResult:
    region = settings.ses.region if settings.ses else "?"
    return failed(
        "ses.identity",
        f"SES has no identity {settings.domain} in {region}",
        f"deploy the stack (pulumi up) to create it in {region}; check that your AWS credentials point at the right account",
    )


def check_verified(settings: DomainSettings, identity: Mapping[str, Any]) -> CheckResult:
    check = "ses.verified"
    region = settings.ses.region if settings.ses else "?"
    if identity.get("VerifiedForSendingStatus") is True:
        return passed(check, f"{settings.domain} may send in {region}")
    status = str(identity.get("VerificationStatus", ""))
    dkim_status = str((identity.get("DkimAttributes") or {}).get("Status", ""))
    return failed(
        check,
        f"{settings.domain} is not verified for sending in {region} (verification {status or '?'}, DKIM {dkim_status or '?'}): {_explain(status)}",
        "a domain identity verifies through its DKIM records: fix dkim.* and ses.dkim; FAILED needs the DKIM "
        "signing attributes put again (pulumi up) to restart the 72-hour check",
    )


def check_dkim(settings: DomainSettings, identity: Mapping[str, Any]) -> CheckResult:
    check = "ses.dkim"
    attrs = identity.get("DkimAttributes") or {}
    status, origin = str(attrs.get("Status", "")), str(attrs.get("SigningAttributesOrigin", ""))
    active = settings.active_dkim_key
    where = dkim_record_name(active.selector, settings.domain) if active else f"<selector>._domainkey.{settings.domain}"
    if origin != "EXTERNAL":
        return failed(
            check,
            f"SES signs with its own keys (SigningAttributesOrigin {origin or '?'}), not the stack's (BYODKIM, EXTERNAL)",
            "deploy the stack so the identity gets the stack's private key; while SES switches, mail goes out unsigned",
        )
    if status != "SUCCESS":
        return failed(check, f"DKIM status {status or '?'}: {_explain(status)} at {where}", _dkim_hint(status, where))
    if attrs.get("SigningEnabled") is False:
        return failed(check, "DKIM signing is disabled for the identity", "enable DKIM signing (pulumi up)")
    tokens = [str(t) for t in attrs.get("Tokens") or []]
    if active is not None and tokens and active.selector not in tokens:
        return failed(
            check,
            f"SES signs with selector {', '.join(tokens)}, the stack's active key is {active.selector}",
            "deploy the stack so SES uses the active key",
        )
    return passed(check, "BYODKIM, status SUCCESS" + (f", selector {active.selector}" if active else ""))


def _dkim_hint(status: str, where: str) -> str:
    if status == "PENDING":
        return f"publish the key record at {where} (see dkim.*) and wait; rerun with --wait"
    if status == "FAILED":
        return f"fix the record at {where}, then deploy again to restart the 72-hour check"
    return f"check the record at {where} (see dkim.*)"


def check_mail_from(settings: DomainSettings, identity: Mapping[str, Any]) -> CheckResult:
    check = "ses.mail-from"
    assert settings.ses is not None
    want, region = settings.ses.mail_from, settings.ses.region
    attrs = identity.get("MailFromAttributes") or {}
    domain, status = str(attrs.get("MailFromDomain", "")), str(attrs.get("MailFromDomainStatus", ""))
    if domain.rstrip(".").lower() != want:
        return failed(
            check,
            f"the identity's MAIL FROM domain is {domain or 'not set'}, the stack's is {want}",
            "deploy the stack to set the custom MAIL FROM domain",
        )
    if status != "SUCCESS":
        return failed(
            check,
            f"MAIL FROM {want} status {status or '?'}: {_explain(status)}",
            f"SES looks for MX 10 {ses_feedback_host(region)} and an SPF record including amazonses.com at {want} (see mail-from.*)",
        )
    behavior = str(attrs.get("BehaviorOnMxFailure", ""))
    if behavior and behavior != settings.ses.behavior_on_mx_failure:
        return warned(check, f"BehaviorOnMxFailure is {behavior}, the stack's is {settings.ses.behavior_on_mx_failure}", "deploy the stack")
    return passed(check, f"MAIL FROM {want}, status SUCCESS")
