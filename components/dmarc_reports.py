"""DmarcReports: receive the stack's DMARC aggregate reports with Amazon SES into a private S3 bucket.

The MX of the reports name is one of the rendered records (:func:`sending_domain.core.render.render_domain`,
purpose ``reports-mx``), published by the SendingDomain of the domain that carries it, so ``plan``, ``drift``
and the pre-flight see it like every other record. This component declares the AWS side, all in the receiving
region (the provider passed in), and reads no config:

- ``aws.s3.Bucket`` (named by ``bucket``, or by Pulumi), with ``BucketPublicAccessBlock`` (all four blocks),
  ``BucketServerSideEncryptionConfiguration`` (SSE-S3, AES256) and, with ``expire_days``, a
  ``BucketLifecycleConfiguration`` that expires stored mail;
- ``aws.s3.BucketPolicy``: only ``ses.amazonaws.com``, only ``s3:PutObject``, only for this account and this
  receipt rule (:func:`sending_domain.core.reports.bucket_policy`). The rule ARN is built from its parts, not
  read from the rule: SES checks that it may write to the bucket when the rule is created, so the policy must
  exist first;
- with ``activate``: ``aws.ses.ReceiptRuleSet`` and ``aws.ses.ActiveReceiptRuleSet``; otherwise the rule joins
  the set the stack names, which the program's pre-flight found active;
- ``aws.ses.ReceiptRule``: mail to ``local@domain`` (virus/spam scan on) is written under ``prefix``;
- when no SES domain identity of the stack in the receiving region covers the reports name: an
  ``aws.ses.DomainIdentity`` for it and its verification TXT at ``_amazonses.<name>`` (SES acts on mail for
  verified identities only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_cloudflare as cloudflare

from sending_domain.core.records import Record
from sending_domain.core.reports import bucket_policy, receipt_rule_arn, verification_name
from sending_domain.core.settings import ReportsSettings

TYPE = "sending-domain:index:DmarcReports"


@dataclass(frozen=True)
class DmarcReportsArgs:
    """The reports section, the AWS account id, the receiving region's provider and how to verify the name.

    ``verify_in_zone`` is the Cloudflare zone id where the stack publishes the SES verification TXT of the
    reports name; None when a domain identity of the stack already covers it (the name or a parent of it,
    verified in the same region). ``comment`` marks the records as this stack's.
    """

    settings: ReportsSettings
    account_id: pulumi.Input[str]
    aws_provider: pulumi.ProviderResource | None = None
    verify_in_zone: str | None = None
    ttl: int = 300
    comment: str = ""


class DmarcReports(pulumi.ComponentResource):
    """The bucket, its policy, the receipt rule (and set) that store the DMARC reports. No output is secret."""

    bucket: pulumi.Output[str]
    prefix: str
    address: str
    region: str
    rule_arn: pulumi.Output[str]

    def __init__(self, name: str, args: DmarcReportsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        self._name, self._args = name, args
        s = args.settings
        bucket = aws.s3.Bucket(f"{name}-bucket", bucket=s.bucket, opts=self._child())
        private = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=self._child(),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption", bucket=bucket.id, opts=self._child(),
            rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="AES256"),
            )],
        )
        if s.expire_days is not None:
            self._expiry(bucket, s)
        rule_arn = pulumi.Output.from_input(args.account_id).apply(
            lambda account: receipt_rule_arn(s.region, account, s.rule_set, s.rule_name)
        )
        policy = aws.s3.BucketPolicy(
            f"{name}-policy", bucket=bucket.id,
            policy=pulumi.Output.all(bucket.bucket, args.account_id, rule_arn).apply(
                lambda v: json.dumps(bucket_policy(v[0], v[1], v[2]), sort_keys=True)
            ),
            opts=self._child(depends_on=[private]),  # the public access block first: the policy is not public
        )
        after: list[pulumi.Resource] = [policy]
        if s.activate:
            after.append(aws.ses.ReceiptRuleSet(f"{name}-rule-set", rule_set_name=s.rule_set, opts=self._child()))
        if args.verify_in_zone is not None:
            after.append(self._identity(s, args.verify_in_zone))
        rule = aws.ses.ReceiptRule(
            f"{name}-rule", name=s.rule_name, rule_set_name=s.rule_set, recipients=[s.address], enabled=True,
            scan_enabled=True, tls_policy="Optional",
            s3_actions=[aws.ses.ReceiptRuleS3ActionArgs(bucket_name=bucket.bucket, object_key_prefix=s.prefix, position=1)],
            opts=self._child(depends_on=after),  # SES checks that it may write to the bucket
        )
        if s.activate:  # only when asked: one active set per account and region, so this replaces any other
            aws.ses.ActiveReceiptRuleSet(
                f"{name}-active-rule-set", rule_set_name=s.rule_set, opts=self._child(depends_on=[rule])
            )
        self.bucket = bucket.bucket
        self.prefix, self.address, self.region = s.prefix, s.address, s.region
        self.rule_arn = rule_arn
        self.register_outputs(
            {"bucket": self.bucket, "prefix": self.prefix, "address": self.address, "region": self.region,
             "ruleArn": self.rule_arn}
        )

    def _child(self, **kw: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._args.aws_provider, **kw)

    def _expiry(self, bucket: aws.s3.Bucket, s: ReportsSettings) -> None:
        aws.s3.BucketLifecycleConfiguration(
            f"{self._name}-expiry", bucket=bucket.id, opts=self._child(),
            rules=[aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-dmarc-reports", status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=s.prefix),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=s.expire_days),
            )],
        )

    def _identity(self, s: ReportsSettings, zone_id: str) -> aws.ses.DomainIdentity:
        """An SES (v1) domain identity for the reports name, verified by a TXT at ``_amazonses.<name>``."""
        identity = aws.ses.DomainIdentity(f"{self._name}-identity", domain=s.domain, opts=self._child())
        name, ttl = verification_name(s.domain), self._args.ttl
        cloudflare.DnsRecord(
            f"{self._name}-identity-verification", zone_id=zone_id, name=name, type="TXT", ttl=ttl,
            content=identity.verification_token.apply(lambda token: Record.txt(name, token, ttl).content),
            comment=self._args.comment,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        return identity
