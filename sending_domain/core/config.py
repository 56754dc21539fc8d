"""Stack settings from raw config: check everything, report every problem, raise once.

:func:`parse_settings` takes the plain data of ``sending-domain:settings`` (what
``pulumi.Config("sending-domain").require_object("settings")`` or a YAML loader returns) and gives
typed :class:`~.settings.StackSettings`, or raises one :class:`~.errors.ConfigError` listing every
:class:`~.errors.Problem` with its key path (``domains[1].dkim.keys[0].selector``) and a stable code.

Readers record a problem and fall back to a well-typed default, so checking goes on after the first
mistake; the fallbacks never escape because any problem raises. A check that relates two values runs
only when both were valid, so one mistake gives one problem, not a cascade.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sending_domain.core.errors import ConfigError, Problem
from sending_domain.core.records import is_hostname, normalize_name
from sending_domain.core.senders import sender_reason, spf_term
from sending_domain.core.settings import (
    DEFAULT_TTL,
    DkimKeySettings,
    DmarcSettings,
    DomainSettings,
    SesSettings,
    SpfSettings,
    StackSettings,
)

_STACK_KEYS = ("defaults", "domains")
_DEFAULTS_KEYS = ("ttl",)
_DOMAIN_KEYS = ("domain", "zone", "zoneId", "ttl", "senders", "spf", "dkim", "dmarc", "ses")
_SPF_KEYS = ("all", "maxLookups", "maxBytes")
_DKIM_KEYS = ("keys",)
_DKIM_KEY_KEYS = ("selector", "algorithm", "state")
_DMARC_KEYS = ("p", "pct", "sp", "np", "adkim", "aspf", "rua", "ruf", "fo", "force")
_SES_KEYS = ("region", "mailFrom", "behaviorOnMxFailure")

SPF_ALL = ("-all", "~all", "?all")
DKIM_ALGORITHMS = ("rsa-2048", "rsa-1024", "ed25519")
DKIM_STATES = ("pending", "active", "retiring", "revoked")
DMARC_POLICIES = ("none", "quarantine", "reject")
ALIGNMENTS = ("r", "s")
MX_FAILURE_BEHAVIORS = ("USE_DEFAULT_VALUE", "REJECT_MESSAGE")
MAX_BYTES_RANGE = (100, 1232)  # 1232: the EDNS payload size of DNS Flag Day 2020; larger answers go TCP

_ZONE_ID = re.compile(r"^[0-9a-f]{32}$")
_SELECTOR = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")  # SES BYODKIM: letters, digits, hyphens
_LDH_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SES_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
# RFC 7489 §6.2: dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]; "," and ";" delimit tags and URIs.
_ATOM = r"[A-Za-z0-9#$%&'*+/=?^_`{|}~-]+"  # RFC 5322 §3.2.3 atext; the local part is a dot-atom
_DMARC_URI = re.compile(
    rf"^mailto:(?P<local>{_ATOM}(?:\.{_ATOM})*)@(?P<domain>[^!@,;\s]+)(?:!(?P<size>[0-9]+[kmgt]?))?$", re.IGNORECASE
)
_FO_TOKENS = ("0", "1", "d", "s")  # RFC 7489 §6.3


Reason = tuple[str, str]  # (problem code, what to do)
_T = TypeVar("_T", str, int)
Check = Callable[[_T], "Reason | None"]

# What a missing required key should contain.
_REQUIRED = {
    "domains": "a list of sending domains",
    "domain": "the sending domain, such as example.com",
    "senders": "a list such as [amazonses, ip4:192.0.2.0/24], or [] for none",
    "keys": "a list of {selector, algorithm, state}",
    "selector": "a selector such as s2026a",
    "state": "one of " + ", ".join(("pending", "active", "retiring", "revoked")),
    "dmarc": "a DMARC policy, at least {p: none}",
    "p": "one of none, quarantine, reject",
    "region": "an AWS region such as eu-west-1",
    "mailFrom": "a subdomain label such as bounce",
}


def parse_settings(raw: object, *, source: str = "") -> StackSettings:
    """Check ``raw`` completely and return typed settings, or raise one ConfigError with every problem."""
    problems = Problems()
    settings = _stack(raw, problems)
    if problems:
        raise ConfigError(list(problems), source=source)
    return settings


# --- reading plain data with key paths ---------------------------------------------------------


class Problems(list[Problem]):
    def add(self, path: str, code: str, message: str) -> None:
        self.append(Problem(path, code, message))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def open_mapping(
    raw: object, path: str, problems: Problems, allowed: Sequence[str], what: str
) -> Reader | None:
    """A reader over ``raw`` if it is a mapping; unknown keys become problems (with a did-you-mean)."""
    if not isinstance(raw, Mapping):
        problems.add(path, "type", f"must be a mapping ({what}), not {_kind(raw)}")
        return None
    for key in raw:
        if not isinstance(key, str):
            problems.add(_join(path, str(key)), "type", "keys must be text")
        elif key not in allowed:
            problems.add(_join(path, key), "unknown-key", _unknown_key_message(key, allowed))
    return Reader({k: v for k, v in raw.items() if isinstance(k, str)}, path, problems)


def _unknown_key_message(key: str, allowed: Sequence[str]) -> str:
    guess = _guess(key, allowed)
    if guess:
        return f"unknown key '{key}'; did you mean '{guess}'?"
    return f"unknown key '{key}'; expected one of: {', '.join(allowed)}"


def _guess(word: str, allowed: Sequence[str]) -> str | None:
    """The allowed word ``word`` most likely meant: same letters ignoring case and ``_``/``-``, else difflib."""
    folded = {a.lower().replace("_", "").replace("-", ""): a for a in allowed}
    exact = folded.get(word.lower().replace("_", "").replace("-", ""))
    close = difflib.get_close_matches(word, allowed, n=1, cutoff=0.6)
    return exact or (close[0] if close else None)


def _kind(value: object) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "a list" if isinstance(value, list | tuple) else "a mapping" if isinstance(value, Mapping) else "a value"


@dataclass
class Reader:
    """One mapping of the raw data at a key path; problems go into the shared list."""

    data: Mapping[str, object]
    path: str
    problems: Problems

    def at(self, key: str) -> str:
        return _join(self.path, key)

    def add(self, key: str, code: str, message: str) -> None:
        self.problems.add(self.at(key), code, message)

    def get(self, key: str) -> object:
        """The raw value, ``None`` when missing or null."""
        return self.data.get(key)

    def _present(self, key: str, required: bool) -> object:
        value = self.get(key)
        if value is None and required:
            self.add(key, "required", f"missing: add {key} ({_REQUIRED.get(key, 'see stacks/Pulumi.example.yaml')})")
        return value

    def text(
        self, key: str, *, required: bool = False, default: str | None = None, check: Check[str] | None = None
    ) -> str | None:
        """Stripped text; ``default`` when missing; ``None`` (and a problem) when invalid."""
        value = self._present(key, required)
        if value is None:
            return default
        if not isinstance(value, str):
            hint = f' (quote it: "{value}")' if isinstance(value, int | float) else ""
            self.add(key, "type", f"must be text, not {_kind(value)}{hint}")
            return None
        reason = check(value.strip()) if check else None
        if reason:
            self.add(key, *reason)
            return None
        return value.strip()

    def choice(
        self, key: str, allowed: Sequence[str], *, required: bool = False, default: str | None = None
    ) -> str | None:
        """One of ``allowed`` (matched ignoring case); ``None`` (and a problem) when invalid."""
        value = self.text(key, required=required, default=None)
        if value is None:
            return default if self.get(key) is None else None
        canonical = {a.lower(): a for a in allowed}.get(value.lower())
        if canonical is None:
            self.add(key, *_enum_reason(value, allowed))
        return canonical

    def integer(self, key: str, default: int, *, check: Check[int] | None = None) -> int:
        """A whole number; ``default`` when missing or invalid (with a problem when invalid)."""
        value = self.get(key)
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            self.add(key, "type", f"must be a whole number, not {_kind(value)}")
            return default
        reason = check(value) if check else None
        if reason:
            self.add(key, *reason)
            return default
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.add(key, "type", f"must be true or false, not {_kind(value)}")
            return default
        return value

    def items(self, key: str, *, required: bool = False) -> list[tuple[str, object]]:
        """The list's items with their paths (``key[0]``...); empty when missing or not a list."""
        value = self._present(key, required)
        if value is None:
            return []
        if not isinstance(value, list | tuple):
            self.add(key, "type", f"must be a list, not {_kind(value)}")
            return []
        return [(f"{self.at(key)}[{i}]", item) for i, item in enumerate(value)]

    def mapping(self, key: str, allowed: Sequence[str], *, required: bool = False) -> Reader | None:
        value = self._present(key, required)
        if value is None:
            return None
        return open_mapping(value, self.at(key), self.problems, allowed, "allowed keys: " + ", ".join(allowed))


# --- stack -------------------------------------------------------------------------------------


def _stack(raw: object, problems: Problems) -> StackSettings:
    node = open_mapping(raw, "", problems, _STACK_KEYS, "settings with a domains list")
    if node is None:
        return StackSettings(domains=())
    defaults = node.mapping("defaults", _DEFAULTS_KEYS)
    ttl = _ttl(defaults, DEFAULT_TTL) if defaults else DEFAULT_TTL
    entries = node.items("domains", required=True)
    if node.get("domains") == []:
        problems.add(node.at("domains"), "empty", "list at least one sending domain")
    domains = tuple(_domain(item, path, problems, ttl) for path, item in entries)
    _check_unique_domains(domains, [path for path, _ in entries], problems)
    _check_mail_from_names(domains, [path for path, _ in entries], problems)
    return StackSettings(domains=domains, ttl=ttl)


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


def _domain(raw: object, path: str, problems: Problems, default_ttl: int) -> DomainSettings:
    node = open_mapping(raw, path, problems, _DOMAIN_KEYS, "domain settings such as {domain: example.com, ...}")
    if node is None:
        return _placeholder_domain(default_ttl)
    name = _name(node.text("domain", required=True, check=domain_name_reason))
    zone_name, zone_id = _zone(node, name)
    ttl = _ttl(node, default_ttl)
    senders = _senders(node)
    spf = _spf(node)
    keys, complete = _dkim(node)
    dmarc = _dmarc(node)
    ses = _ses(node, name)
    if complete:
        _check_dkim_keys(node, keys, ses_configured=ses is not None)
    dkim = tuple(key for _, key in keys)
    return DomainSettings(name or "", zone_name, zone_id, ttl, senders, spf, dkim, dmarc, ses)


def _name(text: str | None) -> str | None:
    return normalize_name(text) if text else None


def _placeholder_domain(ttl: int) -> DomainSettings:
    return DomainSettings("", None, None, ttl, (), SpfSettings(), (), DmarcSettings(p="none"))


def domain_name_reason(name: str) -> Reason | None:
    """A sending domain or zone: letters, digits and hyphens, at least two labels."""
    if is_hostname(name) and "_" not in name and "." in normalize_name(name):
        return None
    message = f"'{name}' is not a domain name such as example.com (use the xn-- form for international names)"
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
    for path, item in node.items("senders", required=True):
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


def _spf(node: Reader) -> SpfSettings:
    spf = node.mapping("spf", _SPF_KEYS)
    if spf is None:
        return SpfSettings()
    default = SpfSettings()
    return SpfSettings(
        all=(spf.text("all", check=spf_all_reason) or default.all).lower(),  # type: ignore[arg-type]
        # RFC 7208 §4.6.4: at most 10 DNS-querying terms per evaluation.
        max_lookups=spf.integer("maxLookups", default.max_lookups, check=_range(1, 10, "RFC 7208 §4.6.4")),
        # RFC 7208 §3.4: keep the answer small enough for UDP.
        max_bytes=spf.integer("maxBytes", default.max_bytes, check=_range(*MAX_BYTES_RANGE, "bytes per name")),
    )


def spf_all_reason(value: str) -> Reason | None:
    if value.lower() in SPF_ALL:
        return None
    if value.lower() in ("+all", "all"):
        return "spf-pass-all", "+all lets anyone send as this domain; use -all, ~all or ?all"
    return _enum_reason(value, SPF_ALL)


# --- DKIM --------------------------------------------------------------------------------------


def _dkim(node: Reader) -> tuple[list[tuple[str, DkimKeySettings]], bool]:
    """The keys with their paths, and whether every key was valid enough to check the key rules."""
    dkim = node.mapping("dkim", _DKIM_KEYS)
    if dkim is None:
        return [], node.get("dkim") is None
    keys: list[tuple[str, DkimKeySettings]] = []
    complete = isinstance(dkim.get("keys"), list | tuple)
    seen: dict[str, str] = {}
    for path, raw in dkim.items("keys", required=True):
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
    selector = key.text("selector", required=True, check=selector_reason)
    algorithm = key.choice("algorithm", DKIM_ALGORITHMS, default="rsa-2048")
    state = key.choice("state", DKIM_STATES, required=True)
    if algorithm is None or state is None:
        return None
    selector = (selector or "").lower()
    return DkimKeySettings(selector, algorithm, state)  # type: ignore[arg-type]


def selector_reason(selector: str) -> Reason | None:
    if _SELECTOR.match(selector.lower()):
        return None
    return "selector", "must be 1..63 letters, digits and hyphens with no dots (SES rule), such as s2026a"


def _check_dkim_keys(node: Reader, keys: list[tuple[str, DkimKeySettings]], *, ses_configured: bool) -> None:
    """At most one active RSA key, exactly one with SES; ed25519 only as an extra signer (FACTS: DKIM)."""
    active_rsa = [key.selector or "?" for _, key in keys if key.state == "active" and key.is_rsa]
    where = "dkim.keys" if node.get("dkim") is not None else "dkim"
    if len(active_rsa) > 1:
        names = ", ".join(active_rsa)
        message = f"{len(active_rsa)} RSA keys are active ({names}); keep one active, mark the others retiring"
        node.add(where, "dkim-active-count", message)
    elif ses_configured and not active_rsa:
        node.add(where, "dkim-active-count", "SES signs with exactly one active RSA key; add one with state: active")
    for path, key in keys:
        if key.state == "active" and not key.is_rsa:
            _check_active_ed25519(node.problems, f"{path}.state", ses_configured, bool(active_rsa))


def _check_active_ed25519(problems: Problems, path: str, ses_configured: bool, rsa_active: bool) -> None:
    if ses_configured:
        message = "SES BYODKIM signs only with RSA keys; keep this ed25519 key pending, or sign with it outside SES"
        problems.add(path, "dkim-ed25519-ses", message)
    elif not rsa_active:
        message = "Gmail and Outlook do not verify ed25519 signatures; activate an RSA key too (ed25519 is extra)"
        problems.add(path, "dkim-ed25519-alone", message)


# --- DMARC -------------------------------------------------------------------------------------


def _dmarc(node: Reader) -> DmarcSettings:
    dmarc = node.mapping("dmarc", _DMARC_KEYS, required=True)
    if dmarc is None:
        return DmarcSettings(p="none")
    p = dmarc.choice("p", DMARC_POLICIES, required=True)
    pct = dmarc.integer("pct", 100, check=_range(1, 100, "percent"))
    if p == "none" and pct != 100:
        dmarc.add("pct", "dmarc-pct-none", "applies only to p: quarantine or reject; remove pct while p is none")
    return DmarcSettings(
        p=p or "none",  # type: ignore[arg-type]
        pct=pct,
        sp=dmarc.choice("sp", DMARC_POLICIES),  # type: ignore[arg-type]
        np=dmarc.choice("np", DMARC_POLICIES),  # type: ignore[arg-type]
        adkim=dmarc.choice("adkim", ALIGNMENTS, default="r") or "r",  # type: ignore[arg-type]
        aspf=dmarc.choice("aspf", ALIGNMENTS, default="r") or "r",  # type: ignore[arg-type]
        rua=_dmarc_uris(dmarc, "rua"),
        ruf=_dmarc_uris(dmarc, "ruf"),
        fo=_fo(dmarc),
        force=dmarc.flag("force", False),
    )


def _dmarc_uris(dmarc: Reader, key: str) -> tuple[str, ...]:
    uris: list[str] = []
    for path, item in dmarc.items(key):
        if not isinstance(item, str):
            dmarc.problems.add(path, "type", "must be a mailto: URI (text)")
        elif reason := dmarc_uri_reason(item):
            dmarc.problems.add(path, *reason)
        elif (uri := _canonical_uri(item)) in uris:
            dmarc.problems.add(path, "duplicate", f"{uri} is listed twice")
        else:
            uris.append(uri)
    return tuple(uris)


def _canonical_uri(uri: str) -> str:
    """``mailto:`` and the domain and size unit lower-case; the local part as written."""
    match = _DMARC_URI.match(uri.strip())
    assert match is not None
    size = f"!{match['size'].lower()}" if match["size"] else ""
    return f"mailto:{match['local']}@{normalize_name(match['domain'])}{size}"


def dmarc_uri_reason(uri: str) -> Reason | None:
    """RFC 7489 §6.2/§6.3: rua and ruf take mailto: URIs, with an optional ``!size`` limit."""
    match = _DMARC_URI.match(uri.strip())
    if match and domain_name_reason(match["domain"]) is None:
        return None
    return "dmarc-uri", f"'{uri}' is not a mailto: URI such as mailto:dmarc-reports@example.com"


def _fo(dmarc: Reader) -> str | None:
    value = dmarc.get("fo")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # YAML reads fo: 1 as a number
    if value is None:
        return None
    if not isinstance(value, str):
        dmarc.add("fo", "type", 'must be text such as "1" or "d:s"')
        return None
    if reason := fo_reason(value):
        dmarc.add("fo", *reason)
        return None
    return value


def fo_reason(value: str) -> Reason | None:
    """RFC 7489 §6.3: 0, 1, d, s joined with ":"; each at most once, 0 and 1 exclusive (RFC 9989, as core/dmarc.py)."""
    tokens = value.split(":")
    if any(token not in _FO_TOKENS for token in tokens):
        return "dmarc-fo", "must be 0, 1, d or s, several joined with ':' (RFC 7489 §6.3), such as \"1\""
    if len(set(tokens)) != len(tokens) or {"0", "1"} <= set(tokens):
        return "dmarc-fo", "must not repeat an option, nor combine 0 and 1 (use 0, 1, d, s at most once each)"
    return None


# --- SES ---------------------------------------------------------------------------------------


def _ses(node: Reader, domain: str | None) -> SesSettings | None:
    ses = node.mapping("ses", _SES_KEYS)
    if ses is None:
        return None
    region = ses.text("region", required=True, check=ses_region_reason) or ""
    mail_from = ses.text("mailFrom", required=True)
    fqdn = None
    if mail_from is not None and domain:
        fqdn, reason = mail_from_name(mail_from, domain)
        if reason:
            ses.add("mailFrom", *reason)
    behavior = ses.choice("behaviorOnMxFailure", MX_FAILURE_BEHAVIORS, default=MX_FAILURE_BEHAVIORS[0])
    return SesSettings(region, fqdn or "", behavior or MX_FAILURE_BEHAVIORS[0])  # type: ignore[arg-type]


def ses_region_reason(region: str) -> Reason | None:
    if _SES_REGION.match(region):
        return None
    return "ses-region", f"'{region}' is not an AWS region name such as eu-west-1"


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


# --- small shared rules ------------------------------------------------------------------------


def _range(low: int, high: int, unit: str) -> Check[int]:
    def reason(value: int) -> Reason | None:
        return None if low <= value <= high else ("range", f"must be {low}..{high} ({unit})")

    return reason


def _enum_reason(value: str, allowed: Sequence[str]) -> Reason:
    guess = _guess(value, allowed)
    hint = f"; did you mean '{guess}'?" if guess else ""
    return "enum", "must be one of " + ", ".join(allowed) + hint
