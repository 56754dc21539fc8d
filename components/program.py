"""The Pulumi program: stack config → checked settings → flattened SPF → one SendingDomain per domain.

``__main__.py`` reads ``sending-domain:settings`` and calls :func:`run`; tests call :func:`run` directly with
their own lock file, resolver and live-record sources. Everything that can fail on input — the settings, the
SPF lock, live DNS, flattening, and the pre-flight over what is already live in the zones and in SES
(:mod:`components.preflight`) — is done before the first resource is declared, and fails the program with a
:class:`pulumi.RunError`, which the Python language host prints as the message alone (no traceback).

The reviewed DMARC evidence file (``stacks/dmarc-evidence.json``, written by ``dmarc status --write``) is read
here too: each domain's latest verdict goes to the pre-flight and to its ``DmarcStage``, which admit a step
towards enforcement only on a PASS judged at the deployed stage.

Shared across domains and made once: the Cloudflare zone lookups (``get_zone`` per zone given by name, a
plain value because import ids are built from it) and one ``aws.Provider`` per SES region (the receiving region
of ``reports:`` included). With ``reports:``, one :class:`~components.dmarc_reports.DmarcReports` after the
domains, once SES confirmed which receipt rule set is active (:func:`components.preflight.reports_preflight`).
Stack outputs: one object per domain (the shape :mod:`sending_domain.outputs` reads back) and ``reports``
(where the reports land); never a private key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_cloudflare as cloudflare

from components.dmarc_reports import DmarcReports, DmarcReportsArgs
from components.preflight import (
    RecordSource,
    RuleSetSource,
    SesSource,
    active_rule_set,
    cloudflare_records,
    preflight,
    reports_preflight,
    ses_identity,
)
from components.sending_domain import SendingDomain, SendingDomainArgs
from sending_domain.core.adopt import owner_comment
from sending_domain.core.config import parse_settings
from sending_domain.core.errors import SendingDomainError
from sending_domain.core.evidence_file import Judgement, judgements
from sending_domain.core.records import containing_zone
from sending_domain.core.render import DesiredDomain, ZoneRef, our_zones, zone_of
from sending_domain.core.reports import covering_identity, s3_uri
from sending_domain.core.settings import DomainSettings, StackSettings
from sending_domain.desired import desired_domains, read_evidence, read_lock, run_sync
from sending_domain.dns.resolver import AsyncResolver

SOURCE = "Pulumi config sending-domain:settings"
ResolverFactory = Callable[[], AsyncResolver | None]


def run(
    raw_settings: object,
    *,
    lock_file: Path,
    evidence_file: Path | None = None,
    resolver_factory: ResolverFactory = AsyncResolver,
    live_records: RecordSource = cloudflare_records,
    live_identity: SesSource = ses_identity,
    live_rule_set: RuleSetSource = active_rule_set,
) -> dict[str, SendingDomain]:
    """Declare every domain of the stack; raise :class:`pulumi.RunError` (nothing declared) on bad input.

    ``evidence_file``: the reviewed DMARC evidence file (None, or no file: no step towards enforcement has
    evidence, so such a step needs ``dmarc.force`` with a reason).
    """
    stack, desired = prepare(raw_settings, lock_file=lock_file, resolver_factory=resolver_factory)
    evidence = stack_evidence(evidence_file)
    zones = our_zones(stack)
    zone_ids = lookup_zone_ids([*zones.values(), *(zone_of(d) for d in stack.domains)])
    checked = preflight(stack, desired, zone_ids, records=live_records, ses=live_identity, evidence=evidence)
    if stack.reports is not None:
        reports_preflight(stack.reports, live_rule_set)
    providers = aws_providers(stack.domains, stack.reports.region if stack.reports else None)
    components: dict[str, SendingDomain] = {}
    for settings, rendered in zip(stack.domains, desired):
        for warning in rendered.warnings:
            pulumi.log.warn(warning)
        provider = providers.get(settings.ses.region) if settings.ses else None
        ses_step = checked.ses[settings.domain]
        args = SendingDomainArgs(
            settings, rendered.spf, zones, zone_ids, provider,
            adoption=checked.records[settings.domain],
            import_ses=ses_step is not None and ses_step.action != "create",
            evidence=evidence.get(settings.domain),
        )
        component = components[settings.domain] = SendingDomain(settings.domain, args)
        pulumi.export(settings.domain, domain_outputs(settings, component))
    if stack.reports is not None:
        reports = declare_reports(stack, zones, zone_ids, providers[stack.reports.region])
        pulumi.export("reports", reports_outputs(reports))
    return components


def declare_reports(
    stack: StackSettings, zones: dict[str, ZoneRef], zone_ids: dict[ZoneRef, str], provider: aws.Provider
) -> DmarcReports:
    """The AWS side of ``reports:`` (its MX is one of the rendered records). The reports name is verified with
    SES unless a domain identity of the stack in the receiving region covers it already."""
    reports = stack.reports
    assert reports is not None
    verified = [d.domain for d in stack.domains if d.ses is not None and d.ses.region == reports.region]
    zone = zones[containing_zone(reports.domain, zones) or ""]  # parse_settings: the name is in one of them
    account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(provider=provider)).account_id
    args = DmarcReportsArgs(
        reports, account, provider,
        verify_in_zone=None if covering_identity(reports.domain, verified) else zone_ids[zone],
        ttl=stack.ttl, comment=owner_comment(pulumi.get_stack()),
    )
    return DmarcReports(reports.domain, args)


def reports_outputs(component: DmarcReports) -> dict[str, Any]:
    """Where the reports land: what ``sending-domain dmarc ingest s3://BUCKET/PREFIX`` reads."""
    return {
        "bucket": component.bucket,
        "prefix": component.prefix,
        "address": component.address,
        "region": component.region,
        "rule_arn": component.rule_arn,
        "s3_uri": component.bucket.apply(lambda b: s3_uri(b, component.prefix)),
    }


def prepare(
    raw_settings: object, *, lock_file: Path, resolver_factory: ResolverFactory
) -> tuple[StackSettings, list[DesiredDomain]]:
    """Check the settings and flatten every domain's SPF (from the lock when it covers it, else live DNS)."""
    try:
        stack = parse_settings(raw_settings, source=SOURCE)
        lock = read_lock(lock_file)
        resolver = resolver_factory()
        # The language host runs the program inside its event loop: run_sync finishes on a thread of its own.
        return stack, run_sync(desired_domains(stack, lock=lock, resolver=resolver))
    except SendingDomainError as e:  # ConfigError, DnsError, SpfError: the message says what to do
        raise pulumi.RunError(str(e)) from None


def stack_evidence(path: Path | None) -> dict[str, Judgement]:
    """This stack's judgements in the evidence file at ``path`` (none when there is no file)."""
    if path is None:
        return {}
    try:
        return judgements(read_evidence(path), pulumi.get_stack())
    except SendingDomainError as e:
        raise pulumi.RunError(str(e)) from None


def lookup_zone_ids(zones: Iterable[ZoneRef]) -> dict[ZoneRef, str]:
    """The Cloudflare id of every zone: as given, or looked up by name (once per zone)."""
    ids: dict[ZoneRef, str] = {}
    for zone in zones:
        if zone in ids:
            continue
        if zone.id is not None:
            ids[zone] = zone.id
        else:
            ids[zone] = cloudflare.get_zone(filter={"name": zone.name, "match": "all"}).id
    return ids


def aws_providers(domains: Iterable[DomainSettings], reports_region: str | None = None) -> dict[str, aws.Provider]:
    """One AWS provider per SES region (the domains', then the reports'), in the order the regions first appear."""
    providers: dict[str, aws.Provider] = {}
    regions = [settings.ses.region if settings.ses else None for settings in domains] + [reports_region]
    for region in regions:
        if region and region not in providers:
            providers[region] = aws.Provider(f"aws-{region}", region=region)
    return providers


def domain_outputs(settings: DomainSettings, component: SendingDomain) -> dict[str, Any]:
    """The stack output of one domain: records, public DKIM keys, DMARC, SES. Nothing secret."""
    dkim = {
        k.selector: {"algorithm": k.algorithm, "state": k.state, "public_key": component.dkim_public_keys[k.selector]}
        for k in settings.dkim
    }
    ses = None
    if settings.ses is not None:
        active = settings.active_dkim_key
        ses = {
            "identity_arn": component.ses_identity_arn,
            "region": settings.ses.region,
            "mail_from": settings.ses.mail_from,
            "dkim_selector": active.selector if active else None,
        }
    dmarc = {"value": component.dmarc_value, "stage": component.dmarc_stage, "step": component.dmarc_step}
    return {"records": component.records, "dkim": dkim, "dmarc": dmarc, "ses": ses}
