"""Pulumi mocks that play the engine for the program tests, and record what the program declared.

:class:`ProgramMocks` answers resource registrations the way the real providers would (dynamic providers never
run under mocks, so ``DkimKey`` gets the outputs of a real key, made with the provider's own
:func:`components.dkim_key.key_outputs`) and answers ``cloudflare:index/getZone:getZone`` and
``cloudflare:index/getDnsRecords:getDnsRecords`` (from ``live``: the records of a zone, as Cloudflare lists them).
With ``engine_checks`` it also runs the DmarcStage provider's ``check`` as the engine would, against the outputs
of a previous run (``olds``), and fails the registration on a check failure. :class:`RecordingMonitor`
also keeps what ``MockResourceArgs`` lacks: each resource's parent, dependencies, provider and
``deleteBeforeReplace``. Inputs are kept as the monitor receives them, secrets still in their sentinel
(``pulumi.runtime.rpc.is_rpc_secret``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

from components.dkim_key import key_outputs
from components.dmarc_stage import DmarcStageProvider, stage_outputs

DKIM_KEY = "pulumi-python:dynamic/sending-domain:DkimKey"
DMARC_STAGE = "pulumi-python:dynamic/sending-domain:DmarcStage"
DNS_RECORD = "cloudflare:index/dnsRecord:DnsRecord"
EMAIL_IDENTITY = "aws:sesv2/emailIdentity:EmailIdentity"
MAIL_FROM = "aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes"
AWS_PROVIDER = "pulumi:providers:aws"
SENDING_DOMAIN = "sending-domain:index:SendingDomain"
GET_ZONE = "cloudflare:index/getZone:getZone"
GET_DNS_RECORDS = "cloudflare:index/getDnsRecords:getDnsRecords"
DNS_RECORD_REMOVAL = "pulumi-python:dynamic/sending-domain:DnsRecordRemoval"
ACCOUNT = "123456789012"
DMARC_REPORTS = "sending-domain:index:DmarcReports"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
RULE_SET = "aws:ses/receiptRuleSet:ReceiptRuleSet"
ACTIVE_RULE_SET = "aws:ses/activeReceiptRuleSet:ActiveReceiptRuleSet"
RECEIPT_RULE = "aws:ses/receiptRule:ReceiptRule"
DOMAIN_IDENTITY = "aws:ses/domainIdentity:DomainIdentity"
GET_CALLER_IDENTITY = "aws:index/getCallerIdentity:getCallerIdentity"
VERIFICATION_TOKEN = "QGYqY9S3lCxSZ1Dv0ZtTq8u8nlHMxS9bt7YqWcCs0e4="

KeySource = Callable[[str, str], str]  # (selector, algorithm) → private key PEM


def zone_id(name: str) -> str:
    """A stable fake Cloudflare zone id (32 hex) for a zone name."""
    return hashlib.md5(name.encode()).hexdigest()  # noqa: S324 - a fake id, not security


@dataclass(frozen=True)
class Registered:
    """One resource the program registered, as the engine would see it."""

    type: str
    name: str
    urn: str
    parent: str
    inputs: dict[str, Any]
    dependencies: tuple[str, ...]
    provider: str
    delete_before_replace: bool
    import_id: str


class ProgramMocks(pulumi.runtime.Mocks):
    """Echoes inputs and adds the outputs the providers would compute."""

    def __init__(
        self,
        keys: KeySource,
        live: Mapping[str, list[dict[str, Any]]] | None = None,
        *,
        engine_checks: bool = False,
        olds: Mapping[str, dict[str, Any]] | None = None,
    ) -> None:
        self.keys = keys
        self.live = live or {}  # zone id → records as Cloudflare lists them (id, name, type, content, comment)
        self.engine_checks = engine_checks
        self.olds = olds or {}  # resource name → outputs of the previous run
        self.outputs: dict[str, dict[str, Any]] = {}  # resource name → outputs of this run
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        outs = dict(args.inputs)
        if args.typ == DKIM_KEY:
            selector, algorithm = outs["selector"], outs["algorithm"]
            outs.update(key_outputs(selector, algorithm, self.keys(selector, algorithm)))
        elif args.typ == DMARC_STAGE:
            if self.engine_checks:
                checked = DmarcStageProvider().check(dict(self.olds.get(args.name, {})), dict(outs))
                if checked.failures:
                    raise Exception("; ".join(f.reason for f in checked.failures))
            outs.update(stage_outputs(outs))
        elif args.typ == EMAIL_IDENTITY:
            outs["arn"] = f"arn:aws:ses:eu-west-1:{ACCOUNT}:identity/{outs['emailIdentity']}"
        elif args.typ == BUCKET:
            outs.setdefault("bucket", f"{args.name}-0a1b2c3")  # Pulumi's auto-name: logical name and a suffix
            outs["arn"] = f"arn:aws:s3:::{outs['bucket']}"
        elif args.typ == DOMAIN_IDENTITY:
            outs["verificationToken"] = VERIFICATION_TOKEN
        self.outputs[args.name] = outs
        return (outs["bucket"] if args.typ == BUCKET else f"{args.name}-id"), outs  # a bucket's id is its name

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        self.calls.append((args.token, dict(args.args)))
        if args.token == GET_ZONE:
            name = args.args["filter"]["name"]
            return {"id": zone_id(name), "name": name}
        if args.token == GET_DNS_RECORDS:
            name = args.args["name"]["exact"]
            found = [r for r in self.live.get(args.args["zoneId"], []) if r["name"] == name]
            return {"results": found}
        if args.token == GET_CALLER_IDENTITY:
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/test", "id": ACCOUNT, "userId": "TEST"}
        raise AssertionError(f"unexpected call {args.token}")


class RecordingMonitor(MockMonitor):
    """A mock monitor that also records each registration's parent, dependencies and options."""

    def __init__(self, mocks: ProgramMocks) -> None:
        super().__init__(mocks)
        self.registered: list[Registered] = []
        self.stack_urn = ""

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = response.urn
        else:
            inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
            self.registered.append(
                Registered(
                    request.type, request.name, response.urn, request.parent, inputs,
                    tuple(request.dependencies), request.provider, request.deleteBeforeReplace, request.importId,
                )
            )
        return response

    def of_type(self, type_: str) -> list[Registered]:
        return [r for r in self.registered if r.type == type_]

    def named(self, name: str, type_: str | None = None) -> Registered:
        found = [r for r in self.registered if r.name == name and (type_ is None or r.type == type_)]
        assert len(found) == 1, f"{len(found)} resources named {name}"
        return found[0]

    def children(self, parent_urn: str) -> list[Registered]:
        return [r for r in self.registered if r.parent == parent_urn]


def install(keys: KeySource, **options: Any) -> tuple[ProgramMocks, RecordingMonitor]:
    """Fresh mocks, monitor and root stack (so stack outputs start empty); ``options`` go to ProgramMocks."""
    mocks = ProgramMocks(keys, **options)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.settings.set_root_resource(None)  # type: ignore[arg-type]
    pulumi.runtime.set_mocks(mocks, project="sending-domain", stack="test", preview=False, monitor=monitor)
    return mocks, monitor


def stack_outputs() -> dict[str, Any]:
    """What the program exported (``pulumi.export``), as Inputs; resolve them inside a test."""
    root = pulumi.runtime.settings.get_root_resource()
    return dict(root.outputs)  # type: ignore[union-attr]


def plain_strings(value: Any) -> Iterator[str]:
    """Every string in ``value`` that is NOT inside a secret sentinel (what a log or a diff could show)."""
    if rpc.is_rpc_secret(value):
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from plain_strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from plain_strings(v)


def unwrap(value: Any) -> Any:
    """``value`` with every secret sentinel replaced by what it holds."""
    if rpc.is_rpc_secret(value):
        return unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value
