"""SendingDomain: one sending domain's DKIM keys, DNS records, DMARC stage and SES identity, as one component.

Every record comes from :func:`sending_domain.core.render.render_domain`, the renderer behind ``plan``,
``verify`` and ``drift``; a DKIM record whose public key exists only after deployment is rendered by the same
:func:`sending_domain.core.dkim.dkim_record` inside ``.apply``. The component reads no config and does no I/O:
the program hands it typed settings, the flattened SPF and the Cloudflare zone ids.

Children (all named ``f"{name}-..."``, parented to the component):

- ``DkimKey`` per configured selector, whatever its state. The key is generated once and kept in the state
  until the selector is removed from the stack file; a revoked key keeps its resource (its record publishes an
  empty ``p=`` and needs no key), so the resource's lifetime is simply the config entry's.
- ``cloudflare.DnsRecord`` per desired record, named by its stable key, ``delete_before_replace`` (v6 has no
  delete-before-replace of its own, and an identical record cannot be created twice: error 81058). A live
  record not created by this stack that the pre-flight adopts is declared with ``import_="<zone>/<record>"``,
  so the same ``pulumi up`` imports it and updates it in place (Pulumi 3.174 and later).
- ``DnsRecordRemoval`` per competing live record the adoption deletes (a second SPF or DMARC record); the
  record that takes the slot over depends on it.
- ``DmarcStage``: the deployed ``p``/``pct``; the ``_dmarc`` record depends on it, so a refused move publishes
  nothing. An adopted domain starts from the policy live today. A step towards enforcement needs the domain's
  PASS in the evidence file (``evidence``) or ``force`` with its ``reason``.
- With SES: ``aws.sesv2.EmailIdentity`` with BYODKIM (the active RSA key, secret) after its DKIM record is
  published, tagged ``managed-by: sending-domain`` and imported by domain when it exists already, and
  ``aws.sesv2.EmailIdentityMailFromAttributes`` after the MAIL FROM MX and SPF records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_cloudflare as cloudflare

from components.dkim_key import DkimKey
from components.dmarc_stage import DmarcStage
from components.dns_record_removal import DnsRecordRemoval
from sending_domain.core import dkim
from sending_domain.core.adopt import SES_TAG, Adoption, owner_comment
from sending_domain.core.evidence_file import Judgement
from sending_domain.core.records import Record
from sending_domain.core.render import DesiredDomain, PendingDkim, ZoneRef, render_domain
from sending_domain.core.settings import DomainSettings
from sending_domain.core.spf.flatten import Flattened

TYPE = "sending-domain:index:SendingDomain"



@dataclass(frozen=True)
class SendingDomainArgs:
    """What one domain needs: its settings, its flattened SPF, the stack's zones and their Cloudflare ids.

    ``zones`` maps every zone of the stack by name (as :func:`~sending_domain.core.render.our_zones` gives it),
    so DMARC report authorisations land in the right zone; ``zone_ids`` has an id for each of them.
    ``aws_provider`` is the provider for ``settings.ses.region`` (None: the default provider). ``adoption``
    is the pre-flight's verdict on what is live (None: nothing is); ``import_ses`` declares the SES identity
    with ``import_`` because it exists already. ``evidence`` is the domain's latest verdict in the reviewed
    evidence file (None: it has none).
    """

    settings: DomainSettings
    spf: Flattened
    zones: Mapping[str, ZoneRef]
    zone_ids: Mapping[ZoneRef, str]
    aws_provider: pulumi.ProviderResource | None = None
    adoption: Adoption | None = None
    import_ses: bool = False
    evidence: Judgement | None = None


class SendingDomain(pulumi.ComponentResource):
    """The records, keys, DMARC stage and SES identity of one sending domain. No output is secret."""

    records: list[dict[str, Any]]
    dkim_public_keys: dict[str, pulumi.Output[str]]
    dmarc_value: str
    dmarc_stage: pulumi.Output[str]
    dmarc_step: pulumi.Output[dict[str, Any]]  # how the deployed stage was reached: force, reason, evidence
    ses_identity_arn: pulumi.Output[str] | None

    def __init__(self, name: str, args: SendingDomainArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        self._name, self._args = name, args
        self._comment = owner_comment(pulumi.get_stack())  # how the pre-flight tells this stack's records from others
        settings, d = args.settings, args.settings.dmarc
        desired = render_domain(settings, args.spf, zones=args.zones)
        keys = {
            k.selector: DkimKey(f"{name}-dkim-key-{k.selector}", k.selector, k.algorithm, self._child())
            for k in settings.dkim
        }
        adoption = args.adoption
        start = adoption.live_stage if adoption is not None else None
        stage = DmarcStage(f"{name}-dmarc-stage", settings.domain, d.p, d.pct, d.force, start, self._child(),
                           reason=d.reason if d.force else None, evidence=args.evidence)
        removals = self._removals(adoption, desired)
        published: dict[str, cloudflare.DnsRecord] = {}  # by the render's record key
        exported: list[dict[str, Any]] = []
        for item in desired.records:
            after = [stage] if item.purpose == "dmarc" else []  # a refused DMARC move publishes nothing
            after += removals.get(item.key, [])
            published[item.key] = self._publish(item.key, item.zone, _fields(item.record), after)
            exported.append(_export(item.record))
        for pending in desired.pending:
            record = _dkim_record(settings, pending, keys[pending.selector])
            fields = _pending_fields(pending, settings, record)
            published[pending.key] = self._publish(pending.key, pending.zone, fields, removals.get(pending.key, []))
            exported.append({"name": pending.name, "type": "TXT", "value": record.apply(lambda r: r.value)})
        self.records = sorted(exported, key=lambda e: (e["name"], e["type"]))
        self.dkim_public_keys = {selector: key.public_key for selector, key in keys.items()}
        self.dmarc_value = desired.dmarc_value
        self.dmarc_stage = stage.stage
        self.dmarc_step = pulumi.Output.all(stage.force, stage.reason, stage.evidence).apply(
            lambda v: {"force": bool(v[0]), "reason": v[1], "evidence": v[2]})
        self.ses_identity_arn = self._ses(desired, keys, published) if settings.ses is not None else None
        self.register_outputs(
            {
                "records": self.records,
                "dkimPublicKeys": self.dkim_public_keys,
                "dmarcValue": self.dmarc_value,
                "dmarcStage": self.dmarc_stage,
                "dmarcStep": self.dmarc_step,
                "sesIdentityArn": self.ses_identity_arn,
            }
        )

    def _child(self, **kw: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kw)

    def _logical(self, key: str) -> str:
        """The child name for a render key (``<domain>-<what>``): ``<component name>-<what>``."""
        domain = self._args.settings.domain
        assert key.startswith(f"{domain}-"), key
        return self._name + key[len(domain) :]

    def _removals(self, adoption: Adoption | None, desired: DesiredDomain) -> dict[str, list[DnsRecordRemoval]]:
        """One removal per competing live record the adoption deletes, by the key of the record it competes with."""
        zones = {r.key: r.zone for r in (*desired.records, *desired.pending)}
        removals: dict[str, list[DnsRecordRemoval]] = {}
        for step in adoption.deletions if adoption is not None else ():
            live = step.live
            assert live is not None and live.id is not None and step.key is not None
            zone_id = self._args.zone_ids[zones[step.key]]
            removal = DnsRecordRemoval(
                f"{self._name}-remove-{live.id}", zone_id, live.id, live.describe(), opts=self._child()
            )
            removals.setdefault(step.key, []).append(removal)
        return removals

    def _publish(
        self, key: str, zone: ZoneRef, fields: Mapping[str, Any], after: Sequence[pulumi.Resource] = ()
    ) -> cloudflare.DnsRecord:
        # v6 DnsRecord: re-creating an identical record fails (81058), so a replacement deletes first.
        zone_id = self._args.zone_ids[zone]
        record_id = self._args.adoption.import_id(key) if self._args.adoption is not None else None
        opts = self._child(
            delete_before_replace=True,
            depends_on=list(after),
            import_=f"{zone_id}/{record_id}" if record_id else None,
        )
        return cloudflare.DnsRecord(self._logical(key), zone_id=zone_id, comment=self._comment, opts=opts, **fields)

    def _ses(
        self, desired: DesiredDomain, keys: Mapping[str, DkimKey], published: Mapping[str, cloudflare.DnsRecord]
    ) -> pulumi.Output[str]:
        settings, ses, provider = self._args.settings, self._args.settings.ses, self._args.aws_provider
        assert ses is not None
        active = settings.active_dkim_key
        if active is None:  # parse_settings refuses SES without exactly one active RSA key
            raise ValueError(f"{settings.domain}: SES needs one active RSA DKIM key")
        signing = aws.sesv2.EmailIdentityDkimSigningAttributesArgs(
            domain_signing_selector=active.selector,
            # BYODKIM wants base64 PKCS#1 DER (FACTS: Amazon SES); secret in the inputs, hence in the state.
            domain_signing_private_key=pulumi.Output.secret(keys[active.selector].ses_private_key),
        )
        dkim_name = dkim.dkim_record_name(active.selector, settings.domain)
        dkim_record = [published[k] for k in _keys(desired, dkim_name)]
        identity = aws.sesv2.EmailIdentity(
            f"{self._name}-ses-identity",
            email_identity=settings.domain,
            dkim_signing_attributes=signing,
            tags=dict([SES_TAG]),
            # publish before signing; an identity that exists is imported by its id, the domain
            opts=self._child(
                provider=provider, depends_on=dkim_record, import_=settings.domain if self._args.import_ses else None
            ),
        )
        mail_from = [published[r.key] for r in desired.records if r.purpose in ("mail-from-mx", "mail-from-spf")]
        aws.sesv2.EmailIdentityMailFromAttributes(
            f"{self._name}-ses-mail-from",
            email_identity=identity.email_identity,
            mail_from_domain=ses.mail_from,
            behavior_on_mx_failure=ses.behavior_on_mx_failure,
            opts=self._child(provider=provider, depends_on=mail_from),  # SES checks the MX it needs
        )
        return identity.arn


def _keys(desired: DesiredDomain, name: str) -> list[str]:
    """The logical names of the records (static or pending) published at ``name``."""
    return [r.key for r in desired.records if r.record.name == name] + [p.key for p in desired.pending if p.name == name]


def _dkim_record(settings: DomainSettings, pending: PendingDkim, key: DkimKey) -> pulumi.Output[Record]:
    """The key record once the public key is known: the same core call ``render_domain`` makes."""
    domain, ttl = settings.domain, settings.ttl
    return key.public_key.apply(
        lambda public: dkim.dkim_record(pending.selector, domain, pending.algorithm, public, pending.state, ttl)
    )


def _fields(record: Record) -> dict[str, Any]:
    """DnsRecord arguments for a record: Cloudflare's canonical TXT content (records.py), MX priority."""
    fields: dict[str, Any] = {"name": record.name, "type": record.type, "ttl": record.ttl, "content": record.content}
    if record.priority is not None:
        fields["priority"] = record.priority
    return fields


def _pending_fields(pending: PendingDkim, settings: DomainSettings, record: pulumi.Output[Record]) -> dict[str, Any]:
    return {"name": pending.name, "type": "TXT", "ttl": settings.ttl, "content": record.apply(lambda r: r.content)}


def _export(record: Record) -> dict[str, Any]:
    """A record as the stack outputs show it: name, type, value (the joined TXT text), MX priority."""
    out: dict[str, Any] = {"name": record.name, "type": record.type, "value": record.value}
    if record.priority is not None:
        out["priority"] = record.priority
    return out
