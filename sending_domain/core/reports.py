"""Receiving DMARC aggregate reports with Amazon SES: the facts and rules behind the stack's ``reports:`` section.

Pure: names, the regions where SES receives mail, the receipt rule's ARN and the bucket policy that admits only
SES for this account and this rule. :mod:`~.config_reports` checks a stack's section with these rules,
:mod:`~.render` publishes the MX, and ``components/dmarc_reports.py`` declares the AWS side.

Sources (stored copies of the AWS documentation):

- MX to ``inbound-smtp.<region>.amazonaws.com``: "Publishing an MX record for Amazon SES email receiving" and
  "Regions and Amazon SES" (docs.aws.amazon.com/ses/latest/DeveloperGuide/receiving-email-mx-record.html).
- The bucket policy: "Giving permissions to Amazon SES for email receiving"
  (docs.aws.amazon.com/ses/latest/dg/receiving-email-permissions.html): principal ``ses.amazonaws.com``,
  ``s3:PutObject`` on ``arn:aws:s3:::BUCKET/*``, ``StringEquals`` on ``AWS:SourceAccount`` and ``AWS:SourceArn``
  = ``arn:aws:ses:REGION:ACCOUNT:receipt-rule-set/SET:receipt-rule/RULE``.
- One active receipt rule set per account and region; without one, SES rejects all incoming mail (AWS News
  Blog, "New – Receive and Process Incoming Email with Amazon SES").
- Receipt rules act on mail to verified identities, domains and subdomains (SES developer guide, "Amazon SES
  email receiving concepts"); a verified domain covers its subdomains ("Creating and verifying identities");
  identities are per region.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# The regions where SES receives mail: the AWS General Reference table "Email receiving endpoints"
# (docs.aws.amazon.com/general/latest/gr/ses.html) as quoted in January 2024, eleven regions. The stored copy of
# that page is cut off before the table; the quote is second-hand, and live MX records to inbound-smtp in
# eu-central-1, eu-west-2, ap-southeast-1/2, ap-northeast-1 and ca-central-1 agree with it. An older quote
# (aws-samples/amazon-connect-email-tasks#6) lists only us-east-1, us-west-2 and eu-west-1: AWS has added
# regions since, so check the page before extending (or trusting) this list.
RECEIVING_REGIONS = frozenset({
    "us-east-1", "us-east-2", "us-west-2", "ca-central-1",
    "eu-west-1", "eu-west-2", "eu-central-1",
    "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-northeast-1",
})

DEFAULT_LOCAL_PART = "dmarc"
DEFAULT_PREFIX = "dmarc/"
DEFAULT_RULE_NAME = "sending-domain-dmarc-reports"
MX_PRIORITY = 10
PARTITION = "aws"  # every receiving region is in the aws partition
VERIFICATION_LABEL = "_amazonses"  # SES (v1) domain verification: TXT at _amazonses.<domain>

# SES receipt rule and rule set names: ASCII letters, digits, underscores, hyphens and periods, starting and
# ending with a letter or digit, at most 64 characters (SES API reference, ReceiptRule.Name / RuleSetName).
_SES_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$")
# S3 bucket names (S3 user guide, "Bucket naming rules"): 3..63 lower-case letters, digits, dots and hyphens,
# starting and ending with a letter or digit; not an IPv4 address; not starting with xn-- or ending in -s3alias.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
# An S3 key prefix of the "safe characters" of the S3 user guide ("Object key naming guidelines").
_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/-]{0,256}$")
# A local part as a dot-atom of letters, digits and a few safe symbols (RFC 5321 §4.1.2; at most 64 octets, §4.5.3.1.1).
_LOCAL_PART = re.compile(r"^[a-z0-9](?:[a-z0-9._+-]{0,62}[a-z0-9])?$")


def inbound_smtp_host(region: str) -> str:
    """The SES email-receiving endpoint an MX points to."""
    return f"inbound-smtp.{region}.amazonaws.com"


def verification_name(domain: str) -> str:
    """Where SES looks for a domain identity's verification token (SES v1 ``VerifyDomainIdentity``)."""
    return f"{VERIFICATION_LABEL}.{domain}"


def receipt_rule_arn(region: str, account: str, rule_set: str, rule: str) -> str:
    """The ARN SES names as ``aws:SourceArn`` when the rule writes to S3."""
    return f"arn:{PARTITION}:ses:{region}:{account}:receipt-rule-set/{rule_set}:receipt-rule/{rule}"


def bucket_policy(bucket: str, account: str, rule_arn: str) -> dict:
    """The bucket policy: ``ses.amazonaws.com`` may put objects, for this account and this receipt rule only.

    As in "Giving permissions to Amazon SES for email receiving"; the conditions keep another account's SES
    rule (the confused-deputy problem) from writing to the bucket.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowSESPuts",
                "Effect": "Allow",
                "Principal": {"Service": "ses.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"arn:{PARTITION}:s3:::{bucket}/*",
                "Condition": {"StringEquals": {"AWS:SourceAccount": account, "AWS:SourceArn": rule_arn}},
            }
        ],
    }


def s3_uri(bucket: str, prefix: str) -> str:
    """What ``sending-domain dmarc ingest`` reads: ``s3://BUCKET/PREFIX``."""
    return f"s3://{bucket}/{prefix}"


def region_reason(region: str) -> str | None:
    if region in RECEIVING_REGIONS:
        return None
    listed = ", ".join(sorted(RECEIVING_REGIONS))
    return f"'{region}' is not a region where SES receives mail; use one of {listed} (the MX points to its inbound endpoint)"


def ses_name_reason(name: str) -> str | None:
    if _SES_NAME.match(name):
        return None
    return f"'{name}' must be 1..64 letters, digits, '_', '-' or '.', starting and ending with a letter or digit"


def bucket_reason(name: str) -> str | None:
    if _BUCKET.match(name) and ".." not in name and not _IPV4.match(name) and not name.startswith("xn--") and not name.endswith("-s3alias"):
        return None
    return f"'{name}' is not an S3 bucket name: 3..63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit"


def prefix_reason(prefix: str) -> str | None:
    if _PREFIX.match(prefix) and not prefix.startswith("/") and "//" not in prefix:
        return None
    return f"'{prefix}' must be at most 256 letters, digits or !_.*'()/- characters, not starting with '/', such as 'dmarc/'"


def local_part_reason(local: str) -> str | None:
    if _LOCAL_PART.match(local) and ".." not in local:
        return None
    return f"'{local}' must be a mailbox name of letters, digits and . _ + - such as 'dmarc'"


def name_inside(name: str, parent: str) -> bool:
    """Whether ``name`` is ``parent`` or below it (both normalised)."""
    return name == parent or name.endswith("." + parent)


def covering_identity(domain: str, identities: Iterable[str]) -> str | None:
    """The verified domain among ``identities`` (the stack's SES domains in the receiving region) that covers
    ``domain``: the domain itself or its nearest parent; None when the stack must verify one for it."""
    found = [i for i in identities if name_inside(domain, i)]
    return max(found, key=len) if found else None


def rule_set_reason(rule_set: str, activate: bool, active: str | None, region: str) -> str | None:
    """Why the receipt rule cannot go into ``rule_set`` given the set ``active`` in ``region`` today, or None.

    Only one rule set is active per account and region, and mail to a set that is not active is never seen by
    its rules. So without ``activate`` the named set must be the active one; with it, no other set may be active
    (activating ours would silently switch off every rule of the other).
    """
    if activate:
        if active is None or active == rule_set:
            return None
        return (
            f"the receipt rule set '{active}' is active in {region}: activating '{rule_set}' would switch off its "
            f"rules (one active set per account and region). Add the reports rule to it instead: "
            f"reports.ruleSet: {{name: {active}}} (without activate)"
        )
    if active == rule_set:
        return None
    now = f"'{active}' is the active one" if active else "none is active"
    return (
        f"the receipt rule set '{rule_set}' is not the active set in {region} ({now}): its rules never see mail. "
        f"Name the active set, or set reports.ruleSet.activate: true to create and activate '{rule_set}'"
        + (" (which switches the other set's rules off)" if active else "")
    )
