"""The stack's ``reports:`` section: checked into :class:`~.settings.ReportsSettings`, then applied to the domains.

Called by :mod:`~.config` with the domains it already read, so the rules that relate the reports name to the
rest of the stack (inside one of its zones, not a sending domain, not at or under a MAIL FROM name) are checked
here with their key paths, and every problem is reported with the others. :func:`apply_reports` gives every
domain the report address as its first ``rua`` (the domain's own addresses follow) and hands the reports MX to
the one domain whose records publish it. The rules themselves live in :mod:`~.reports`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from sending_domain.core import dmarc
from sending_domain.core.config_reader import Reader, Reason, range_check
from sending_domain.core.idn import to_a_label
from sending_domain.core.records import containing_zone, normalize_name
from sending_domain.core.reports import (
    DEFAULT_LOCAL_PART,
    DEFAULT_PREFIX,
    DEFAULT_RULE_NAME,
    bucket_reason,
    local_part_reason,
    name_inside,
    prefix_reason,
    region_reason,
    ses_name_reason,
)
from sending_domain.core.settings import DomainSettings, ReportsSettings

REPORTS_KEYS = ("domain", "region", "localPart", "bucket", "prefix", "expireDays", "ruleSet", "ruleName")
RULE_SET_KEYS = ("name", "activate")
EXPIRE_DAYS = (1, 36500)
NameCheck = Callable[[str], "Reason | None"]


def parse_reports(node: Reader, domains: Sequence[DomainSettings], paths: Sequence[str], name_check: NameCheck) -> ReportsSettings | None:
    """``reports`` of the stack mapping ``node``: None when absent or unusable (the problems say why)."""
    section = node.mapping("reports", REPORTS_KEYS)
    if section is None:
        return None
    raw_name = section.text("domain", required="the name that receives the reports, such as dmarc-reports.example.com",
                            check=name_check)
    name = normalize_name(to_a_label(raw_name) or raw_name) if raw_name else None
    region = section.text("region", required="an SES receiving region such as eu-west-1", check=_reason("reports-region", region_reason))
    local = section.text("localPart", default=DEFAULT_LOCAL_PART, check=_lower(_reason("reports-local-part", local_part_reason)))
    bucket = section.text("bucket", check=_reason("reports-bucket", bucket_reason))
    prefix = section.text("prefix", default=DEFAULT_PREFIX, check=_reason("reports-prefix", prefix_reason))
    expire = section.integer("expireDays", 0, check=range_check(*EXPIRE_DAYS, "days"))
    rule_name = section.text("ruleName", default=DEFAULT_RULE_NAME, check=_reason("reports-rule-name", ses_name_reason))
    rule_set = section.mapping("ruleSet", RULE_SET_KEYS,
                               required="the receipt rule set: {name: YOUR-ACTIVE-SET}, or {name: NEW-SET, activate: true}")
    set_name = rule_set.text("name", required="the receipt rule set's name",
                             check=_reason("reports-rule-name", ses_name_reason)) if rule_set else None
    activate = rule_set.flag("activate", False) if rule_set else False
    if name:
        _check_name(section, name, domains, paths)
    if None in (name, region, local, prefix, rule_name, set_name) or (bucket is None and section.get("bucket") is not None):
        return None
    return ReportsSettings(
        domain=name, region=region, rule_set=set_name, activate=activate, local_part=local.lower(),  # type: ignore[arg-type]
        bucket=bucket, prefix=prefix, expire_days=expire or None, rule_name=rule_name,  # type: ignore[arg-type]
    )


def _reason(code: str, why: Callable[[str], str | None]) -> Callable[[str], Reason | None]:
    def check(value: str) -> Reason | None:
        message = why(value)
        return (code, message) if message else None

    return check


def _lower(check: Callable[[str], Reason | None]) -> Callable[[str], Reason | None]:
    return lambda value: check(value.lower())


def _check_name(section: Reader, name: str, domains: Sequence[DomainSettings], paths: Sequence[str]) -> None:
    """The reports name: in one of the stack's zones (the stack publishes its MX), and no name that must not
    receive mail — a zone apex or a sending domain (their own mail goes to their MX) or a MAIL FROM name (SES's
    feedback MX is the only MX there). Every other name the stack publishes starts with an underscore, which a mail domain
    cannot."""
    zones = {d.zone_name or d.domain for d in domains if d.domain}
    if containing_zone(name, zones) is None:
        listed = ", ".join(sorted(zones)) or "none"
        section.add("domain", "reports-zone", f"{name} is not inside a zone of this stack ({listed}); the stack publishes its MX there")
    if name in zones and name not in {d.domain for d in domains}:
        message = f"{name} is a zone apex: its MX receives the organisation's own mail; use a subdomain such as dmarc-reports.{name}"
        section.add("domain", "reports-collision", message)
    for settings, path in zip(domains, paths):
        if name == settings.domain:
            message = (f"{name} is a sending domain ({path}): an MX for the reports would take its mail; "
                       f"use a subdomain such as dmarc-reports.{name}")
            section.add("domain", "reports-collision", message)
        mail_from = settings.ses.mail_from if settings.ses else ""
        if mail_from and name_inside(name, mail_from):
            message = (f"{name} is the MAIL FROM domain of {settings.domain} ({path}.ses.mailFrom) or under it: the "
                       "MAIL FROM domain must not receive mail (its only MX is SES's feedback endpoint); choose another name")
            section.add("domain", "reports-mailfrom", message)


def owner_index(name: str, domains: Sequence[DomainSettings]) -> int:
    """The domain whose records carry the reports MX: the first that contains the name, else the first in the
    zone that does (the stack checked one does)."""
    for i, settings in enumerate(domains):
        if name_inside(name, settings.domain):
            return i
    zone = containing_zone(name, {d.zone_name or d.domain for d in domains})
    return next(i for i, d in enumerate(domains) if (d.zone_name or d.domain) == zone)


def apply_reports(domains: Sequence[DomainSettings], reports: ReportsSettings) -> tuple[DomainSettings, ...]:
    """Every domain reports to ``reports.rua`` first, its own addresses after it; one domain publishes the MX.

    First, because a receiver may send to two addresses only (RFC 7489 §6.2), and the stack's address is the
    one ``dmarc status`` reads.
    """
    ours = dmarc.canonical_report_uri(reports.rua)
    owner = owner_index(reports.domain, domains)
    out = []
    for i, settings in enumerate(domains):
        rua = (ours, *(u for u in settings.dmarc.rua if u != ours))
        out.append(dataclasses.replace(
            settings, dmarc=dataclasses.replace(settings.dmarc, rua=rua), reports_mx=reports if i == owner else None
        ))
    return tuple(out)
