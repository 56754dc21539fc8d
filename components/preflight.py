"""Pre-flight: what is live at every name the stack publishes, classified before any resource is declared.

For each domain the program asks Cloudflare for the records at each name it publishes
(``cloudflare.get_dns_records``, filtered by exact name: every type, so a CNAME in the way is seen too) and,
with SES, what SES knows of the identity (boto3 ``GetEmailIdentity``, the default credential chain the AWS
provider uses as well). :func:`sending_domain.core.adopt.classify` decides; this module only fetches, reports
and refuses. A refusal is one :class:`pulumi.RunError` naming every blocking record of every domain, raised
before anything is declared, so nothing is half done.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare

from components.dns_record_removal import TOKEN_ENV
from sending_domain.core.adopt import Adoption, LiveIdentity, LiveRecord, Step, classify, classify_ses
from sending_domain.core.evidence_file import Judgement
from sending_domain.core.render import DesiredDomain, ZoneRef
from sending_domain.core.reports import rule_set_reason
from sending_domain.core.settings import DomainSettings, ReportsSettings, StackSettings
from sending_domain.core.text import printable

MAX_RECORDS_PER_NAME = 1000  # Cloudflare's default page; a name with more is refused as suspicious
RecordSource = Callable[[str, str], Sequence[LiveRecord]]  # (zone id, name) → the records live there
SesSource = Callable[[str, str], LiveIdentity | None]  # (region, domain) → the identity, or None
RuleSetSource = Callable[[str], str | None]  # region → the name of the active SES receipt rule set, or None


@dataclass(frozen=True)
class Preflight:
    """Per domain: the adoption steps for its records, and the step for its SES identity (None without SES)."""

    records: Mapping[str, Adoption]
    ses: Mapping[str, Step | None]


def cloudflare_records(zone_id: str, name: str) -> list[LiveRecord]:
    """The records at ``name`` in the zone, through the Cloudflare provider's ``getDnsRecords`` invoke."""
    found = cloudflare.get_dns_records(
        zone_id=zone_id, name={"exact": name}, match="all", max_items=MAX_RECORDS_PER_NAME
    ).results or []
    if len(found) >= MAX_RECORDS_PER_NAME:
        raise pulumi.RunError(f"{name}: {len(found)} or more records; refusing to classify so many")
    records = []
    for r in found:
        priority = int(r.priority) if r.type == "MX" and r.priority is not None else None
        records.append(LiveRecord(r.name, r.type, r.content or "", r.id, r.comment, priority))
    return records


def ses_identity(region: str, domain: str) -> LiveIdentity | None:
    """What SES says of the identity ``domain`` in ``region``, or None when there is none."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client = boto3.client("sesv2", region_name=region)
        answer = client.get_email_identity(EmailIdentity=domain)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") == "NotFoundException":
            return None
        raise pulumi.RunError(f"could not look up the SES identity {domain} in {region}: {printable(str(e))}") from None
    except BotoCoreError as e:
        raise pulumi.RunError(f"could not look up the SES identity {domain} in {region}: {printable(str(e))}") from None
    dkim = answer.get("DkimAttributes") or {}
    tags = tuple(sorted((t.get("Key", ""), t.get("Value", "")) for t in answer.get("Tags") or []))
    return LiveIdentity(tags, dkim.get("SigningAttributesOrigin"), tuple(dkim.get("Tokens") or ()))


def active_rule_set(region: str) -> str | None:
    """The receipt rule set SES applies to incoming mail in ``region`` (boto3 ``DescribeActiveReceiptRuleSet``)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer = boto3.client("ses", region_name=region).describe_active_receipt_rule_set()
    except (BotoCoreError, ClientError) as e:
        raise pulumi.RunError(f"could not ask SES for the active receipt rule set in {region}: {printable(str(e))}") from None
    return (answer.get("Metadata") or {}).get("Name")


def reports_preflight(reports: ReportsSettings, rule_sets: RuleSetSource = active_rule_set) -> None:
    """Refuse (nothing declared) when the reports rule would never run, or activating its set would switch
    another set's rules off (:func:`sending_domain.core.reports.rule_set_reason`)."""
    reason = rule_set_reason(reports.rule_set, reports.activate, rule_sets(reports.region), reports.region)
    if reason:
        raise pulumi.RunError(f"reports: {printable(reason)}; nothing was changed")


def preflight(
    stack: StackSettings,
    desired: Sequence[DesiredDomain],
    zone_ids: Mapping[ZoneRef, str],
    *,
    records: RecordSource = cloudflare_records,
    ses: SesSource = ses_identity,
    evidence: Mapping[str, Judgement] | None = None,
) -> Preflight:
    """Classify what is live for every domain; raise :class:`pulumi.RunError` listing every blocker.

    ``evidence``: each domain's latest verdict in the evidence file; a PASS admits the DMARC step it judged.
    """
    evidence = evidence or {}
    adoptions: dict[str, Adoption] = {}
    ses_steps: dict[str, Step | None] = {}
    this_stack = pulumi.get_stack()  # its comment marks its records
    for settings, rendered in zip(stack.domains, desired):
        live = [dataclasses.replace(r, stack=this_stack)
                for zone, name in _names(rendered) for r in records(zone_ids[zone], name)]
        judged = evidence.get(settings.domain)
        adoptions[settings.domain] = classify(rendered, live, adopt=settings.adopt, force=settings.dmarc.force,
                                              reimport_own=settings.reimport_own,
                                              passed=judged.passed if judged is not None else None)
        ses_steps[settings.domain] = _ses_step(settings, ses) if settings.ses is not None else None
    blockers = [(d, s) for d, a in adoptions.items() for s in a.blockers]
    blockers += [(d, s) for d, s in ses_steps.items() if s is not None and s.action == "block"]
    if blockers:
        raise pulumi.RunError(refusal(blockers))
    deletions = [s for a in adoptions.values() for s in a.deletions]
    if deletions and not os.environ.get(TOKEN_ENV):
        listed = "; ".join(s.live.describe() for s in deletions if s.live is not None)
        raise pulumi.RunError(
            f"adoption deletes competing records ({printable(listed)}) through Cloudflare's API: set {TOKEN_ENV} "
            "for this deployment, or delete them by hand and run again"
        )
    for domain, adoption in adoptions.items():
        for step in adoption.steps:
            if step.action in ("adopt", "update", "delete") and step.live is not None and step.live.owner is False:
                pulumi.log.warn(f"{domain}: {step.action} {printable(step.live.describe())}: {printable(step.reason)}")
    for domain, step in ses_steps.items():
        if step is not None and step.action == "adopt":
            pulumi.log.warn(f"{domain}: adopt SES identity: {step.reason}")
    return Preflight(adoptions, ses_steps)


def _names(rendered: DesiredDomain) -> list[tuple[ZoneRef, str]]:
    names = {(r.zone, r.record.name) for r in rendered.records} | {(p.zone, p.name) for p in rendered.pending}
    return sorted(names, key=lambda zn: (zn[1], zn[0].label))


def _ses_step(settings: DomainSettings, ses: SesSource) -> Step:
    assert settings.ses is not None
    active = settings.active_dkim_key
    selectors = [k.selector for k in settings.dkim]
    live = ses(settings.ses.region, settings.domain)
    return classify_ses(settings.domain, settings.ses.region, live, adopt=settings.adopt,
                        selector=active.selector if active else "", selectors=selectors)


def refusal(blockers: Sequence[tuple[str, Step]]) -> str:
    """The message that stops the deployment: every blocking record, and the ways out."""
    lines = [f"the stack cannot be deployed over what is live ({len(blockers)} problem(s)); nothing was changed:"]
    for domain, step in blockers:
        lines.append(f"  - {domain}: {step.name} {step.type}: {printable(step.reason)}")
    return "\n".join(lines)
