"""Stack settings from raw config: check everything, report every problem, raise once.

:func:`parse_settings` takes the plain data of ``sending-domain:settings`` (what
``pulumi.Config("sending-domain").require_object("settings")`` or a YAML loader returns) and gives
typed :class:`~.settings.StackSettings`, or raises one :class:`~.errors.ConfigError` listing every
:class:`~.errors.Problem` with its key path (``domains[1].dkim.keys[0].selector``) and a stable code.

Readers (:mod:`~.config_reader`) record a problem and fall back to a well-typed default, so checking goes
on after the first mistake; the fallbacks never escape because any problem raises. A check that relates
two values runs only when both were valid, so one mistake gives one problem, not a cascade.

This module holds the stack's own rules. Rules that DKIM and DMARC records have wherever they come from
(selectors, algorithms, states, active keys, policy names, report URIs, ``fo``) live in :mod:`~.dkim` and
:mod:`~.dmarc`; they return reasons, and this module gives them a key path and a stable code.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from sending_domain.core import dkim, dmarc
from sending_domain.core.config_reader import Problems, Reader, Reason, enum_reason, open_mapping, range_check
from sending_domain.core.config_reports import apply_reports, parse_reports
from sending_domain.core.errors import ConfigError
from sending_domain.core.idn import to_a_label
from sending_domain.core.records import is_hostname, normalize_name
from sending_domain.core.senders import sender_reason, spf_term
from sending_domain.core.ses_regions import unknown_ses_region_reason
from sending_domain.core.settings import (
    DEFAULT_TTL,
    MX_FAILURE_BEHAVIORS,
    SPF_ALL,
    DkimKeySettings,
    DmarcGateSettings,
    DmarcSettings,
    DomainSettings,
    SesSettings,
    SpfSettings,
    StackSettings,
)

_STACK_KEYS = ("defaults", "domains", "reports")
_DEFAULTS_KEYS = ("ttl", "adopt")
_DOMAIN_KEYS = ("domain", "zone", "zoneId", "ttl", "adopt", "reimportOwn", "senders", "spf", "dkim", "dmarc", "ses")
_SPF_KEYS = ("all", "maxLookups", "maxBytes", "allowWide")
_DKIM_KEYS = ("keys",)
_DKIM_KEY_KEYS = ("selector", "algorithm", "state")
_DMARC_KEYS = (*dmarc.POLICY_FIELDS, "force", "reason", "gate")
MAX_REASON_CHARS = 500
_GATE_KEYS = ("settleHours", "windowDays", "windowDaysBeforeReject", "minReporters", "minMessages", "minAligned",
              "minDkimAligned", "maxUnknownShare", "selectors")
_SES_KEYS = ("region", "mailFrom", "behaviorOnMxFailure")

MAX_BYTES_RANGE = (100, 1232)  # 1232: the EDNS payload size of DNS Flag Day 2020; larger answers go TCP

_ZONE_ID = re.compile(r"^[0-9a-f]{32}$")
_LDH_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SES_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")

# Built once, not per domain: defaults are frozen values, checks and hints are the same for every domain.
_NO_SPF, _NO_GATE = SpfSettings(), DmarcGateSettings()
_PCT_CHECK = range_check(*dmarc.PCT_RANGE, "percent")
_ONE_OF_STATES, _ONE_OF_POLICIES = "one of " + ", ".join(dkim.STATES), "one of " + ", ".join(dmarc.POLICIES)


def parse_settings(raw: object, *, source: str = "") -> StackSettings:
    """Check ``raw`` completely and return typed settings, or raise one ConfigError with every problem."""
    problems = Problems()
    settings = _stack(raw, problems)
    if problems:
        raise ConfigError(list(problems), source=source)
    return settings


# --- stack -------------------------------------------------------------------------------------


def _stack(raw: object, problems: Problems) -> StackSettings:
    node = open_mapping(raw, "", problems, _STACK_KEYS, "settings with a domains list")
    if node is None:
        return StackSettings(domains=())
    defaults = node.mapping("defaults", _DEFAULTS_KEYS)
    ttl = _ttl(defaults, DEFAULT_TTL) if defaults else DEFAULT_TTL
    adopt = defaults.flag("adopt", False) if defaults else False
    entries = node.items("domains", required="a list of sending domains")
    if node.get("domains") == []:
        problems.add(node.at("domains"), "empty", "list at least one sending domain")
    domains = tuple(_domain(item, path, problems, ttl, adopt) for path, item in entries)
    _check_unique_domains(domains, [path for path, _ in entries], problems)
    _check_mail_from_names(domains, [path for path, _ in entries], problems)
    reports = parse_reports(node, domains, [path for path, _ in entries], domain_name_reason)
    if reports is not None and not problems:
        domains = apply_reports(domains, reports)
    return StackSettings(domains=domains, ttl=ttl, reports=reports)


def _check_unique_domains(domains: Sequence[DomainSettings], paths: Sequence[str], problems: Problems) -> None:
    seen: dict[str, str] = {}
    for settings, path in zip(domains, paths):
        if not settings.domain:
            continue
        if settings.domain in seen:
            message = f"{settings.domain} is already configured at {seen[settings.domain]}"
            problems.add(f"{path}.domain", "duplicate", message)
        else:
            seen[settings.domain] = path


def _check_mail_from_names(domains: Sequence[DomainSettings], paths: Sequence[str], problems: Problems) -> None:
    names = {d.domain: path for d, path in zip(domains, paths) if d.domain}
    for settings, path in zip(domains, paths):
        mail_from = settings.ses.mail_from if settings.ses else ""
        if mail_from in names:
            problems.add(
                f"{path}.ses.mailFrom",
                "mailfrom-collision",
                f"{mail_from} is also a sending domain ({names[mail_from]}); give MAIL FROM a name of its own",
            )


# --- one domain --------------------------------------------------------------------------------


def _domain(raw: object, path: str, problems: Problems, default_ttl: int, default_adopt: bool) -> DomainSettings:
    node = open_mapping(raw, path, problems, _DOMAIN_KEYS, "domain settings such as {domain: example.com, ...}")
    if node is None:
        return _placeholder_domain(default_ttl)
    name = _name(node.text("domain", required="the sending domain, such as example.com", check=domain_name_reason))
    zone_name, zone_id = _zone(node, name)
    ttl = _ttl(node, default_ttl)
    senders = _senders(node)
    spf = _spf(node, senders)
    keys, complete = _dkim(node)
    dmarc_settings = _dmarc(node)
    ses = _ses(node, name)
    if complete:
        _check_dkim_keys(node, keys, ses_configured=ses is not None)
    dkim_keys = tuple(key for _, key in keys)
    adopt = node.flag("adopt", default_adopt)
    reimport_own = node.flag("reimportOwn", False)
    return DomainSettings(name or "", zone_name, zone_id, ttl, senders, spf, dkim_keys, dmarc_settings, ses, adopt, reimport_own)


def _name(text: str | None) -> str | None:
    """A domain or zone name as published: IDN labels as A-labels (RFC 5890), lower case, no final dot."""
    return normalize_name(to_a_label(text) or text) if text else None


def _placeholder_domain(ttl: int) -> DomainSettings:
    return DomainSettings("", None, None, ttl, (), SpfSettings(), (), DmarcSettings(p="none"))


@functools.lru_cache(maxsize=1024)
def domain_name_reason(name: str) -> Reason | None:
    """A sending domain or zone: letters, digits and hyphens, at least two labels; an international name is
    taken in its A-label form (``bücher.example`` is ``xn--bcher-kva.example``).

    Remembered for the last 1,024 names (as :func:`dmarc_uri_reason`): a large stack names the same zones and
    report addresses for many domains."""
    ascii_name = to_a_label(name)
    if ascii_name is not None and is_hostname(ascii_name) and "_" not in ascii_name and "." in normalize_name(ascii_name):
        return None
    message = f"'{name}' is not a domain name such as example.com"
    return "hostname", message


def _ttl(node: Reader, default: int) -> int:
    return node.integer("ttl", default, check=ttl_reason)


def ttl_reason(ttl: int) -> Reason | None:
    if ttl == 1 or 60 <= ttl <= 86400:
        return None
    return "range", "must be 1 (automatic) or 60..86400 seconds"


def _zone(node: Reader, domain: str | None) -> tuple[str | None, str | None]:
    zone = _name(node.text("zone", check=domain_name_reason))
    zone_id = node.text("zoneId", check=zone_id_reason)
    if node.get("zone") is not None and node.get("zoneId") is not None:
        node.add("zoneId", "zone-conflict", "set either zone or zoneId, not both")
    elif node.get("zone") is None and node.get("zoneId") is None:
        node.add("zone", "required", "set zone (the Cloudflare zone name) or zoneId (its 32-character id)")
    if zone and domain and not (domain == zone or domain.endswith("." + zone)):
        node.add("zone", "domain-outside-zone", f"{domain} is not inside zone {zone}; use {domain} or a parent zone")
    return zone, (zone_id.lower() if zone_id else None)


def zone_id_reason(zone_id: str) -> Reason | None:
    if _ZONE_ID.match(zone_id.lower()):
        return None
    return "zone-id", "must be the zone's 32-character hexadecimal id (Cloudflare dashboard, zone overview)"


# --- SPF ---------------------------------------------------------------------------------------


def _senders(node: Reader) -> tuple[str, ...]:
    senders: list[str] = []
    seen: dict[str, str] = {}
    for path, item in node.items("senders", required="a list such as [amazonses, ip4:192.0.2.0/24], or [] for none"):
        if not isinstance(item, str):
            node.problems.add(path, "type", "must be a sender name or an SPF term (text)")
            continue
        if reason := sender_reason(item):
            node.problems.add(path, "spf-term", reason)
            continue
        term = spf_term(item)
        if term in seen:
            node.problems.add(path, "duplicate", f"{term} is already listed at {seen[term]}")
            continue
        seen[term] = path
        senders.append(item.strip())
    return tuple(senders)


def _spf(node: Reader, senders: Sequence[str]) -> SpfSettings:
    spf = node.mapping("spf", _SPF_KEYS)
    if spf is None:
        return _NO_SPF
    default = _NO_SPF
    return SpfSettings(
        allow_wide=_allow_wide(spf, senders),
        all=(spf.text("all", check=spf_all_reason) or default.all).lower(),  # type: ignore[arg-type]
        # RFC 7208 §4.6.4: at most 10 DNS-querying terms per evaluation.
        max_lookups=spf.integer("maxLookups", default.max_lookups, check=range_check(1, 10, "RFC 7208 §4.6.4")),
        # RFC 7208 §3.4: keep the answer small enough for UDP.
        max_bytes=spf.integer("maxBytes", default.max_bytes, check=range_check(*MAX_BYTES_RANGE, "bytes per name")),
    )


def _allow_wide(spf: Reader, senders: Sequence[str]) -> tuple[str, ...]:
    """Senders trusted to authorize networks wider than the floor (core/spf/floor.py); each must be listed."""
    listed = {spf_term(s): s for s in senders}
    allowed: list[str] = []
    for path, item in spf.items("allowWide"):
        term = spf_term(item) if isinstance(item, str) else None
        if term is None or term not in listed:
            spf.problems.add(path, "allow-wide", f"must be one of this domain's senders ({', '.join(senders) or 'none listed'})")
            continue
        allowed.append(term)
    return tuple(dict.fromkeys(allowed))


def spf_all_reason(value: str) -> Reason | None:
    if value.lower() in SPF_ALL:
        return None
    if value.lower() in ("+all", "all"):
        return "spf-pass-all", "+all lets anyone send as this domain; use -all, ~all or ?all"
    return enum_reason(value, SPF_ALL)


# --- DKIM --------------------------------------------------------------------------------------


def _dkim(node: Reader) -> tuple[list[tuple[str, DkimKeySettings]], bool]:
    """The keys with their paths, and whether every key was valid enough to check the key rules."""
    section = node.mapping("dkim", _DKIM_KEYS)
    if section is None:
        return [], node.get("dkim") is None
    keys: list[tuple[str, DkimKeySettings]] = []
    complete = isinstance(section.get("keys"), list | tuple)
    seen: dict[str, str] = {}
    for path, raw in section.items("keys", required="a list of {selector, algorithm, state}"):
        key = _dkim_key(raw, path, node.problems)
        if key is None:
            complete = False
            continue
        if key.selector in seen:
            message = f"selector {key.selector} is already used at {seen[key.selector]}"
            node.problems.add(f"{path}.selector", "duplicate", message)
        elif key.selector:
            seen[key.selector] = path
        keys.append((path, key))
    return keys, complete


def _dkim_key(raw: object, path: str, problems: Problems) -> DkimKeySettings | None:
    key = open_mapping(raw, path, problems, _DKIM_KEY_KEYS, "a DKIM key (selector, algorithm, state)")
    if key is None:
        return None
    selector = key.text("selector", required="a selector such as s2026a", check=selector_reason)
    algorithm = key.choice("algorithm", dkim.ALGORITHMS, default=dkim.DEFAULT_ALGORITHM)
    state = key.choice("state", dkim.STATES, required=_ONE_OF_STATES)
    if algorithm is None or state is None:
        return None
    selector = (selector or "").lower()
    return DkimKeySettings(selector, algorithm, state)  # type: ignore[arg-type]


def selector_reason(selector: str) -> Reason | None:
    """The selector as it will be published (lower-case) must pass :func:`~.dkim.validate_selector`."""
    reason = dkim.validate_selector(selector.lower())
    return ("selector", reason) if reason else None


def _check_dkim_keys(node: Reader, keys: list[tuple[str, DkimKeySettings]], *, ses_configured: bool) -> None:
    """At most one active RSA key, exactly one with SES (:func:`~.dkim.check_active_keys`).

    An active ed25519 key only signs in addition to an RSA key, and never with SES (FACTS: DKIM).
    """
    where = "dkim.keys" if node.get("dkim") is not None else "dkim"
    triples = [(key.selector or "?", key.algorithm, key.state) for _, key in keys]
    if message := dkim.check_active_keys(triples, require_one=ses_configured):
        node.add(where, "dkim-active-count", message)
    rsa_active = any(key.state == "active" and key.is_rsa for _, key in keys)
    for path, key in keys:
        if key.state == "active" and not key.is_rsa:
            _check_active_ed25519(node.problems, f"{path}.state", ses_configured, rsa_active)


def _check_active_ed25519(problems: Problems, path: str, ses_configured: bool, rsa_active: bool) -> None:
    if ses_configured:
        message = "SES BYODKIM signs only with RSA keys; keep this ed25519 key pending, or sign with it outside SES"
        problems.add(path, "dkim-ed25519-ses", message)
    elif not rsa_active:
        message = "Gmail and Outlook do not verify ed25519 signatures; activate an RSA key too (ed25519 is extra)"
        problems.add(path, "dkim-ed25519-alone", message)


# --- DMARC -------------------------------------------------------------------------------------


def _dmarc(node: Reader) -> DmarcSettings:
    section = node.mapping("dmarc", _DMARC_KEYS, required="a DMARC policy, at least {p: none}")
    if section is None:
        return DmarcSettings(p="none")
    p = section.choice("p", dmarc.POLICIES, required=_ONE_OF_POLICIES)
    pct = section.integer("pct", 100, check=_PCT_CHECK)
    if reason := dmarc.check_none_pct(p, pct):
        section.add("pct", "dmarc-pct-none", reason)
    return DmarcSettings(
        p=p or "none",  # type: ignore[arg-type]
        pct=pct,
        sp=section.choice("sp", dmarc.POLICIES),  # type: ignore[arg-type]
        np=section.choice("np", dmarc.POLICIES),  # type: ignore[arg-type]
        adkim=section.choice("adkim", dmarc.ALIGNMENTS, default="r") or "r",  # type: ignore[arg-type]
        aspf=section.choice("aspf", dmarc.ALIGNMENTS, default="r") or "r",  # type: ignore[arg-type]
        rua=_dmarc_uris(section, "rua"),
        ruf=_dmarc_uris(section, "ruf"),
        fo=_fo(section),
        force=(force := section.flag("force", False)),
        reason=_force_reason(section, force),
        gate=_gate(section, node),
    )


def _force_reason(section: Reader, force: bool) -> str | None:
    """``dmarc.reason``: why a forced step skips the evidence; required with ``force: true`` (kept in the state)."""
    reason = section.text("reason", check=force_reason_problem)
    if force and not reason and section.get("reason") is None:
        section.add("reason", "dmarc-force-reason", "missing: add reason (why this step may skip the evidence of "
                                                   "`dmarc status`; it is kept in the state and the stack outputs)")
    return reason or None


def force_reason_problem(text: str) -> Reason | None:
    if not text:
        return "dmarc-force-reason", "must say why the step may skip the evidence"
    if len(text) > MAX_REASON_CHARS or any(not ch.isprintable() for ch in text):
        return "dmarc-force-reason", f"must be one line of at most {MAX_REASON_CHARS} printable characters"
    return None


def _gate(section: Reader, domain: Reader) -> DmarcGateSettings:
    """``dmarc.gate``: the evidence ``dmarc status`` needs for the next stage (defaults in DmarcGateSettings)."""
    gate = section.mapping("gate", _GATE_KEYS)
    d = _NO_GATE
    if gate is None:
        return d
    return DmarcGateSettings(
        settle_hours=gate.integer("settleHours", d.settle_hours, check=range_check(0, 720, "hours")),
        window_days=gate.integer("windowDays", d.window_days, check=range_check(1, 366, "days")),
        window_days_before_reject=gate.integer("windowDaysBeforeReject", d.window_days_before_reject,
                                               check=range_check(1, 366, "days")),
        min_reporters=gate.integer("minReporters", d.min_reporters, check=range_check(1, 1000, "reporters")),
        min_messages=gate.integer("minMessages", d.min_messages, check=range_check(0, 10**12, "messages")),
        min_aligned=_percent(gate, "minAligned", d.min_aligned),
        min_dkim_aligned=_percent(gate, "minDkimAligned", d.min_dkim_aligned),
        max_unknown_share=_percent(gate, "maxUnknownShare", d.max_unknown_share),
        selectors=_gate_selectors(gate, domain),
    )


def _percent(node: Reader, key: str, default: float) -> float:
    value = node.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        node.add(key, "type", "must be a number of percent such as 98 or 99.5")
        return default
    if not 0 <= value <= 100:
        node.add(key, "range", "must be 0..100 (percent)")
        return default
    return float(value)


def _gate_selectors(gate: Reader, domain: Reader) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``selectors: {sendgrid: [s1, s2]}``: the DKIM selectors a listed sender signs with."""
    raw = gate.get("selectors")
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        gate.add("selectors", "type", "must be a mapping of sender to a list of DKIM selectors")
        return ()
    senders = [s for s in (domain.get("senders") or []) if isinstance(s, str)]
    listed = {spf_term(s): s.strip() for s in senders}
    out: list[tuple[str, tuple[str, ...]]] = []
    for name, selectors in raw.items():
        at = gate.at(f"selectors.{name}")
        sender = listed.get(spf_term(name)) if isinstance(name, str) else None
        if sender is None:
            gate.problems.add(at, "gate-sender", f"must be one of this domain's senders ({', '.join(senders) or 'none listed'})")
            continue
        if not isinstance(selectors, list) or not all(isinstance(x, str) for x in selectors):
            gate.problems.add(at, "type", "must be a list of DKIM selectors")
            continue
        bad = [x for x in selectors if dkim.validate_selector(x.lower())]
        if bad:
            gate.problems.add(at, "selector", f"{bad[0]!r}: {dkim.validate_selector(bad[0].lower())}")
            continue
        out.append((sender, tuple(x.lower() for x in selectors)))
    return tuple(out)


def _dmarc_uris(section: Reader, key: str) -> tuple[str, ...]:
    uris: list[str] = []
    for path, item in section.items(key):
        if not isinstance(item, str):
            section.problems.add(path, "type", "must be a mailto: URI (text)")
        elif reason := dmarc_uri_reason(item):
            section.problems.add(path, *reason)
        elif (uri := dmarc.canonical_report_uri(item.strip())) in uris:
            section.problems.add(path, "duplicate", f"{uri} is listed twice")
        else:
            uris.append(uri)
    return tuple(uris)


@functools.lru_cache(maxsize=1024)
def dmarc_uri_reason(uri: str) -> Reason | None:
    """RFC 7489 §6.2/§6.3: a report URI :func:`~.dmarc.check_report_uri` takes.

    Its domain must also be a domain name as the stack takes one (:func:`domain_name_reason`), which
    refuses the underscore labels a DNS name may have but a mail domain may not (RFC 5321 §4.1.2).
    """
    text = uri.strip()
    if reason := dmarc.check_report_uri(text):
        return "dmarc-uri", reason
    if domain_reason := domain_name_reason(dmarc.report_destination(text)):
        return "dmarc-uri", f"report address {text!r}: {domain_reason[1]}"
    return None


def _fo(section: Reader) -> str | None:
    value = section.get("fo")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # YAML reads fo: 1 as a number
    if value is None:
        return None
    if not isinstance(value, str):
        section.add("fo", "type", 'must be text such as "1" or "d:s"')
        return None
    if reason := dmarc.check_fo(value):
        section.add("fo", "dmarc-fo", reason)
        return None
    return value


# --- SES ---------------------------------------------------------------------------------------


def _ses(node: Reader, domain: str | None) -> SesSettings | None:
    ses = node.mapping("ses", _SES_KEYS)
    if ses is None:
        return None
    region = ses.text("region", required="an AWS region such as eu-west-1", check=ses_region_reason) or ""
    mail_from = ses.text("mailFrom", required="a subdomain label such as bounce")
    fqdn = None
    if mail_from is not None and domain:
        fqdn, reason = mail_from_name(mail_from, domain)
        if reason:
            ses.add("mailFrom", *reason)
    behavior = ses.choice("behaviorOnMxFailure", MX_FAILURE_BEHAVIORS, default=MX_FAILURE_BEHAVIORS[0])
    return SesSettings(region, fqdn or "", behavior or MX_FAILURE_BEHAVIORS[0])  # type: ignore[arg-type]


def ses_region_reason(region: str) -> Reason | None:
    if not _SES_REGION.match(region):
        return "ses-region", f"'{region}' is not an AWS region name such as eu-west-1"
    unknown = unknown_ses_region_reason(region)  # botocore's endpoint data for sesv2, written out
    return ("ses-region", unknown) if unknown else None


def mail_from_name(value: str, domain: str) -> tuple[str | None, Reason | None]:
    """The MAIL FROM name for ``value`` (labels under ``domain``, or a full name ending in it or in a dot)."""
    text = value.strip().lower()
    if text.endswith(".") or text == domain or text.endswith("." + domain):
        fqdn = normalize_name(text)
        if not fqdn.endswith("." + domain):
            return None, ("mailfrom-not-subdomain", f"must be a subdomain of {domain}, such as bounce.{domain}")
        text = fqdn[: -len(domain) - 1]
    labels = text.split(".")
    if any(label in ("_dmarc", "_domainkey") for label in labels):
        message = f"{text}.{domain} is where DMARC/DKIM records live; use a label such as 'bounce'"
        return None, ("mailfrom-collision", message)
    if not all(_LDH_LABEL.match(label) for label in labels) or not is_hostname(f"{text}.{domain}"):
        return None, ("hostname", "must be letters, digits and hyphens such as 'bounce' (a subdomain label)")
    return f"{text}.{domain}", None
