"""Render one domain's settings into the records it should publish: the one renderer behind every sink.

The Pulumi program, ``plan``, ``verify`` and ``drift`` all call :func:`render_domain`, so what we publish
and what we check cannot drift apart. Each record carries a stable key (the Pulumi logical name) and the
zone that holds it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sending_domain.core import dkim, dmarc
from sending_domain.core.records import Record, containing_zone
from sending_domain.core.reports import MX_PRIORITY, inbound_smtp_host
from sending_domain.core.settings import DomainSettings, StackSettings
from sending_domain.core.spf.flatten import FlattenOptions, Flattened

SES_SPF = "v=spf1 include:amazonses.com ~all"  # SES custom MAIL FROM (SES developer guide)


def ses_feedback_host(region: str) -> str:
    return f"feedback-smtp.{region}.amazonses.com"


@dataclass(frozen=True)
class ZoneRef:
    """The Cloudflare zone holding a record: by name (looked up at deploy) or by id."""

    name: str | None
    id: str | None = None

    @property
    def label(self) -> str:
        return self.name or f"zone id {self.id}"


# The namespace of each purpose: what else at the record's name competes with it (one SPF record per name,
# RFC 7208 §4.5; one DMARC record, RFC 7489 §6.6.3; the DKIM key at a selector; the MX at the MAIL FROM name;
# the MX at the name that receives DMARC reports).
NAMESPACE = {
    "spf": "spf", "spf-chain": "spf", "mail-from-spf": "spf", "dkim": "dkim",
    "dmarc": "dmarc", "dmarc-report-auth": "dmarc", "mail-from-mx": "mx", "reports-mx": "reports-mx",
}


@dataclass(frozen=True)
class DesiredRecord:
    key: str  # stable logical name, e.g. "example.com-dkim-s2026a"
    zone: ZoneRef
    record: Record
    purpose: str  # spf | spf-chain | dkim | dmarc | dmarc-report-auth | mail-from-mx | mail-from-spf | reports-mx


@dataclass(frozen=True)
class PendingDkim:
    """A DKIM key whose public half exists only after deployment."""

    key: str
    zone: ZoneRef
    name: str
    selector: str
    algorithm: str
    state: str


@dataclass(frozen=True)
class DesiredDomain:
    domain: str
    records: tuple[DesiredRecord, ...]
    pending: tuple[PendingDkim, ...]
    spf: Flattened
    dmarc_value: str
    warnings: tuple[str, ...]
    dmarc_policy: dmarc.DmarcPolicy  # what dmarc_value publishes
    spf_written: str = ""  # the SPF record as the stack writes it, before flattening (spf_root_text)


def spf_root_text(settings: DomainSettings) -> str:
    """The record the stack asks for before flattening: its senders, then its ``all``."""
    return " ".join(["v=spf1", *settings.spf_terms, settings.spf.all])


def flatten_options(settings: DomainSettings) -> FlattenOptions:
    return FlattenOptions(max_lookups=settings.spf.max_lookups, max_bytes=settings.spf.max_bytes, ttl=settings.ttl)


def dmarc_policy(settings: DomainSettings) -> dmarc.DmarcPolicy:
    d = settings.dmarc
    return dmarc.DmarcPolicy(p=d.p, pct=d.pct, sp=d.sp, np=d.np, adkim=d.adkim, aspf=d.aspf, rua=d.rua, ruf=d.ruf, fo=d.fo)


def our_zones(stack: StackSettings) -> dict[str, ZoneRef]:
    """Zone name (or, for zones given by id, the domain) → zone, for every domain of the stack."""
    return {(d.zone_name or d.domain): zone_of(d) for d in stack.domains}


def zone_of(settings: DomainSettings) -> ZoneRef:
    return ZoneRef(settings.zone_name, settings.zone_id)


def render_domain(
    settings: DomainSettings,
    spf: Flattened,
    *,
    dkim_public: Mapping[tuple[str, str], str] | None = None,
    zones: Mapping[str, ZoneRef] | None = None,
) -> DesiredDomain:
    """Everything ``settings`` publishes. ``dkim_public`` maps (domain, selector) to a public key (base64)."""
    domain, ttl, zone = settings.domain, settings.ttl, zone_of(settings)
    zones = zones or {settings.zone_name or domain: zone}
    out: list[DesiredRecord] = []
    for i, record in enumerate(spf.records):
        out.append(DesiredRecord(f"{domain}-spf" + (f"-chain-{i}" if i else ""), zone, record, "spf-chain" if i else "spf"))
    pending: list[PendingDkim] = []
    for key in settings.dkim:
        name = dkim.dkim_record_name(key.selector, domain)
        public = (dkim_public or {}).get((domain, key.selector))
        logical = f"{domain}-dkim-{key.selector}"
        if public is None and not dkim.is_revoked(key.state):
            pending.append(PendingDkim(logical, zone, name, key.selector, key.algorithm, key.state))
            continue
        record = dkim.dkim_record(key.selector, domain, key.algorithm, public, key.state, ttl)
        out.append(DesiredRecord(logical, zone, record, "dkim"))
    policy = dmarc_policy(settings)
    dmarc_rec = dmarc.dmarc_record(domain, policy, ttl)
    out.append(DesiredRecord(f"{domain}-dmarc", zone, dmarc_rec, "dmarc"))
    auth, warnings = dmarc.report_authorization_records(domain, policy, zones.keys(), ttl)
    for record in auth:
        destination = record.name.split("._report._dmarc.", 1)[1]
        out.append(DesiredRecord(f"{domain}-dmarc-report-auth-{destination}", _zone_for(destination, zones), record, "dmarc-report-auth"))
    if settings.ses is not None:
        mail_from = settings.ses.mail_from
        out.append(DesiredRecord(f"{domain}-mail-from-mx", zone, Record.mx(mail_from, ses_feedback_host(settings.ses.region), 10, ttl), "mail-from-mx"))
        out.append(DesiredRecord(f"{domain}-mail-from-spf", zone, Record.txt(mail_from, SES_SPF, ttl), "mail-from-spf"))
    if settings.reports_mx is not None:  # the stack's reports: section, published with this domain's records
        reports = settings.reports_mx
        mx = Record.mx(reports.domain, inbound_smtp_host(reports.region), MX_PRIORITY, ttl)
        out.append(DesiredRecord(f"{domain}-dmarc-reports-mx", _zone_for(reports.domain, zones), mx, "reports-mx"))
    warned = tuple(spf.warnings) + tuple(warnings)
    return DesiredDomain(domain, tuple(out), tuple(pending), spf, dmarc_rec.value, warned, policy, spf_root_text(settings))


def _zone_for(name: str, zones: Mapping[str, ZoneRef]) -> ZoneRef:
    """The most specific of ``zones`` that contains ``name`` (the caller knows one does)."""
    found = containing_zone(name, zones)
    assert found is not None, name
    return zones[found]


def all_records(desired: Collection[DesiredDomain]) -> list[DesiredRecord]:
    """Every record of every domain, sorted by name, type and value (a stable order for output and diffs)."""
    return sorted((r for d in desired for r in d.records), key=lambda r: (r.record.name, r.record.type, r.record.data))
