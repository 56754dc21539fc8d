"""Parse SPF records into terms (RFC 7208 §4.6, §5, §6, §7).

A record parses into a tuple of :class:`Mechanism` and :class:`Modifier` values. Anything that does not
match the ABNF of §12 is a :class:`~sending_domain.core.errors.SpfSyntaxError` that names the term and
the domain whose record it came from — the receiver would return permerror on it (§4.6).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

from sending_domain.core.errors import SpfSyntaxError
from sending_domain.core.text import printable

QUALIFIERS = "+-~?"
MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
# RFC 7208 §4.6.4: the terms that cost a DNS lookup.
LOOKUP_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})

_MACRO_EXPAND = r"%\{[slodiphcrtv][0-9]*r?[.\-+,/_=]*\}|%%|%_|%-"
_MACRO_LITERAL = r"[\x21-\x24\x26-\x7e]"
_MACRO_STRING = re.compile(rf"(?:{_MACRO_EXPAND}|{_MACRO_LITERAL})*", re.IGNORECASE)
_MACRO = re.compile(_MACRO_EXPAND, re.IGNORECASE)
_EXP_ONLY_LETTERS = re.compile(r"%\{[crt]", re.IGNORECASE)
_TOPLABEL = re.compile(r"^(?=.*[a-z])[a-z0-9]+(?:-[a-z0-9]+)*$|^[a-z0-9]+-[a-z0-9-]*[a-z0-9]$", re.IGNORECASE)
_MODIFIER_NAME = re.compile(r"^[a-z][a-z0-9\-_.]*$", re.IGNORECASE)
_TERM = re.compile(r"^([+\-~?]?)([a-z0-9]+)(.*)$", re.IGNORECASE)
_CIDR4 = r"/(?:0|[1-9][0-9]?)"
_CIDR6 = r"/(?:0|[1-9][0-9]{0,2})"
_DUAL_CIDR = re.compile(rf"^(?P<domain>.*?)(?P<c4>{_CIDR4})?(?://(?P<c6>0|[1-9][0-9]{{0,2}}))?$")


@dataclass(frozen=True)
class Mechanism:
    """A directive: qualifier, mechanism name and its arguments.

    ``domain`` is the domain-spec as written (lower-cased when it has no macro), or None when omitted
    (then it means the domain of the record the term appears in). ``network`` is set for ip4/ip6.
    """

    qualifier: str
    kind: str
    domain: str | None = None
    cidr4: int | None = None
    cidr6: int | None = None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None

    @property
    def has_macro(self) -> bool:
        return self.domain is not None and "%" in self.domain

    @property
    def costs_lookup(self) -> bool:
        return self.kind in LOOKUP_MECHANISMS

    def __str__(self) -> str:
        return self.text

    @cached_property
    def text(self) -> str:
        """The term as published: the qualifier only when not ``+``, the shortest exact network form."""
        q = "" if self.qualifier == "+" else self.qualifier
        if self.kind in ("ip4", "ip6"):
            assert self.network is not None
            return f"{q}{self.kind}:{format_network(self.network)}"
        text = self.kind + (f":{self.domain}" if self.domain is not None else "")
        if self.cidr4 is not None:
            text += f"/{self.cidr4}"
        if self.cidr6 is not None:
            text += f"//{self.cidr6}"
        return q + text


@dataclass(frozen=True)
class Modifier:
    """``name=value``: ``redirect`` (§6.1), ``exp`` (§6.2) or an unknown modifier (ignored, §6)."""

    name: str
    value: str

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


Term = Mechanism | Modifier


@dataclass(frozen=True)
class SpfRecord:
    """A parsed record: its terms in order."""

    terms: tuple[Term, ...]

    @cached_property
    def mechanisms(self) -> tuple[Mechanism, ...]:
        return tuple(t for t in self.terms if isinstance(t, Mechanism))

    def modifier(self, name: str) -> str | None:
        for t in self.terms:
            if isinstance(t, Modifier) and t.name == name:
                return t.value
        return None

    @cached_property
    def redirect(self) -> str | None:
        return self.modifier("redirect")

    @cached_property
    def has_all(self) -> bool:
        return any(m.kind == "all" for m in self.mechanisms)

    def __str__(self) -> str:
        return " ".join(["v=spf1", *(str(t) for t in self.terms)])


def format_network(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    """``192.0.2.1`` for a host, ``192.0.2.0/24`` otherwise (the shortest exact form)."""
    host = 32 if net.version == 4 else 128
    return str(net.network_address) if net.prefixlen == host else str(net)


def is_spf_record(text: str) -> bool:
    """RFC 7208 §4.5: the record starts with "v=spf1" followed by a space or the end."""
    low = text.lower()
    return low == "v=spf1" or low.startswith("v=spf1 ")


def parse_record(text: str, domain: str = "") -> SpfRecord:
    """Parse one SPF record; ``domain`` names where it came from in error messages.

    The record may come from DNS, so the text of an error has its control characters escaped.
    """
    try:
        return _parse_cached(text, domain)
    except SpfSyntaxError as e:
        raise SpfSyntaxError(printable(str(e))) from None


@lru_cache(maxsize=4096)
def _parse_cached(text: str, domain: str) -> SpfRecord:
    where = f" in the SPF record of {domain}" if domain else ""
    if not is_spf_record(text):
        owner = f"the record of {domain}" if domain else "the record"
        raise SpfSyntaxError(f"{owner} is not an SPF record: an SPF record starts with 'v=spf1' (RFC 7208 §4.5)")
    terms = tuple(_parse_term(raw, where) for raw in text.split(" ")[1:] if raw != "")
    for name in ("redirect", "exp"):
        if sum(1 for t in terms if isinstance(t, Modifier) and t.name == name) > 1:
            raise SpfSyntaxError(f"modifier '{name}' appears more than once{where} (RFC 7208 §6)")
    return SpfRecord(terms)


def _parse_term(raw: str, where: str) -> Term:
    eq, colon = raw.find("="), raw.find(":")
    if eq > 0 and (colon < 0 or eq < colon) and _MODIFIER_NAME.match(raw[:eq]):
        return _parse_modifier(raw, raw[:eq].lower(), raw[eq + 1 :], where)
    m = _TERM.match(raw)
    if not m or m.group(2).lower() not in MECHANISMS:
        raise SpfSyntaxError(f"term '{raw}'{where}: unknown mechanism")
    qualifier = m.group(1) or "+"
    kind, rest = m.group(2).lower(), m.group(3)
    try:
        return _MECHANISM_PARSERS[kind](qualifier, kind, rest)
    except ValueError as e:
        raise SpfSyntaxError(f"term '{raw}'{where}: {e}") from None


def _parse_modifier(raw: str, name: str, value: str, where: str) -> Modifier:
    if name in ("redirect", "exp"):
        try:
            _check_domain_spec(value)
        except ValueError as e:
            raise SpfSyntaxError(f"term '{raw}'{where}: {e}") from None
        value = _normalise_domain_spec(value)
    elif not _MACRO_STRING.fullmatch(value):
        raise SpfSyntaxError(f"term '{raw}'{where}: invalid macro-string in modifier value")
    return Modifier(name, value)


def _parse_all(q: str, kind: str, rest: str) -> Mechanism:
    if rest:
        raise ValueError("'all' takes no argument")
    return Mechanism(q, kind)


def _parse_domain_only(q: str, kind: str, rest: str) -> Mechanism:
    if kind == "ptr" and rest == "":
        return Mechanism(q, kind)
    if not rest.startswith(":"):
        raise ValueError(f"'{kind}' needs ':' and a domain")
    spec = rest[1:]
    _check_domain_spec(spec)
    return Mechanism(q, kind, _normalise_domain_spec(spec))


def _parse_a_mx(q: str, kind: str, rest: str) -> Mechanism:
    m = _DUAL_CIDR.match(rest)
    assert m is not None  # the pattern matches any string
    spec, c4, c6 = m.group("domain"), m.group("c4"), m.group("c6")
    cidr4 = int(c4[1:]) if c4 else None
    cidr6 = int(c6) if c6 else None
    if cidr4 is not None and cidr4 > 32:
        raise ValueError("IPv4 prefix length must be 0..32")
    if cidr6 is not None and cidr6 > 128:
        raise ValueError("IPv6 prefix length must be 0..128")
    if spec == "":
        return Mechanism(q, kind, None, cidr4, cidr6)
    if not spec.startswith(":"):
        raise ValueError(f"unexpected text after '{kind}'")
    _check_domain_spec(spec[1:])
    return Mechanism(q, kind, _normalise_domain_spec(spec[1:]), cidr4, cidr6)


_ADDRESS = {4: ipaddress.IPv4Address, 6: ipaddress.IPv6Address}
_NETWORK = {4: ipaddress.IPv4Network, 6: ipaddress.IPv6Network}
_LENGTH = re.compile(r"0|[1-9][0-9]{0,2}")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")  # as ipaddress reads it: no leading zeros


def _parse_ip(q: str, kind: str, rest: str) -> Mechanism:
    if not rest.startswith(":") or rest == ":":
        raise ValueError(f"'{kind}' needs ':' and an address")
    addr, _, length = rest[1:].partition("/")
    version = 4 if kind == "ip4" else 6
    if version == 4 and _DOTTED_QUAD.fullmatch(addr):  # the common case, without ipaddress's general parser
        a, b, c, d = addr.split(".")
        ip: int | ipaddress.IPv4Address | ipaddress.IPv6Address = (int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d)
    else:
        try:
            ip = _ADDRESS[version](addr)  # the family's own class: one parse, not one per family tried
        except ValueError:
            raise ValueError(f"'{addr}' is not an IPv{version} address") from None
    if version == 6 and "%" in addr:
        raise ValueError(f"'{addr}' is not an IPv{version} address")  # a scope id is not part of SPF's ip6 (§5.6)
    host = 32 if version == 4 else 128
    if length == "":
        prefix = host
    elif _LENGTH.fullmatch(length) and int(length) <= host:
        prefix = int(length)
    else:
        raise ValueError(f"prefix length must be 0..{host}")
    return Mechanism(q, kind, network=_NETWORK[version]((int(ip), prefix), strict=False))


_MECHANISM_PARSERS = {
    "all": _parse_all,
    "include": _parse_domain_only,
    "exists": _parse_domain_only,
    "ptr": _parse_domain_only,
    "a": _parse_a_mx,
    "mx": _parse_a_mx,
    "ip4": _parse_ip,
    "ip6": _parse_ip,
}


def _check_domain_spec(spec: str) -> None:
    """RFC 7208 §7.1: domain-spec = macro-string domain-end; domain-end is a macro or "." toplabel."""
    if spec == "":
        raise ValueError("empty domain")
    if not _MACRO_STRING.fullmatch(spec):
        raise ValueError(f"'{spec}' is not a valid domain-spec (bad character or macro)")
    if _EXP_ONLY_LETTERS.search(spec):
        raise ValueError("macro letters c, r and t are allowed only in exp text")
    if _MACRO.search(spec) and re.search(rf"(?:{_MACRO_EXPAND})$", spec, re.IGNORECASE):
        return
    labels = spec.rstrip(".").split(".")
    if len(labels) < 2 or not _TOPLABEL.match(labels[-1]) or any(lbl == "" for lbl in labels):
        raise ValueError(f"'{spec}' is not a fully qualified domain name")


def _normalise_domain_spec(spec: str) -> str:
    return spec if "%" in spec else spec.rstrip(".").lower()
