"""DMARC policies: the staged rollout, rendering, parsing, report authorization.

Pure: no Pulumi, no sockets, no environment.

**Stages.** A :class:`Stage` is ``(p, pct)``. Strength orders them::

    p=none  <  p=quarantine pct=1..99 (ascending)  <  p=quarantine  <  p=reject pct=1..99  <  p=reject

(``reject pct=25`` is stronger than ``quarantine``: RFC 7489 §6.3 applies the next-lower policy,
quarantine, to the messages a partial reject does not select.) The rollout ladder, Google's guidance as
widely copied (monitor first, quarantine in rising steps, then reject)::

    none → quarantine 10 → quarantine 25 → quarantine 50 → quarantine 100
         → reject 25 → reject 50 → reject 100

**The transition rule** (:func:`check_transition`): moving back, or staying, is always allowed. Moving
towards enforcement is allowed when no rung of the ladder lies strictly between the old and the new stage —
that is, the new stage is at most the next rung above the old one. A stage off the ladder (quarantine 30)
is allowed and placed by strength. A first deployment (no old stage) may start at most at the ladder's first
rung (``p=none``). A step towards enforcement also needs evidence: a PASS verdict of ``dmarc status`` for
this domain, judged at the old stage, for a next stage at least as strong as the new one (the reviewed
evidence file, :mod:`.evidence_file`). ``force`` (with a reason, kept in the state) lifts every limit, e.g. to
adopt a domain that already enforces.

**Partial stages.** RFC 9989 receivers ignore ``pct`` and would enforce the whole policy, so a stage with
pct < 100 also carries ``t=y`` (RFC 9989 test mode: do not apply the policy yet). RFC 7489 receivers ignore
the unknown ``t`` and honour ``pct``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Literal

from .orgdomain import same_organization
from .records import Record, containing_zone, is_hostname, normalize_name
from .taglist import TagSyntax, parse_tags

Policy = Literal["none", "quarantine", "reject"]
POLICIES: tuple[str, ...] = ("none", "quarantine", "reject")  # RFC 7489 §6.3 p=
Alignment = Literal["r", "s"]
ALIGNMENTS: tuple[str, ...] = ("r", "s")  # RFC 7489 §6.3 adkim=/aspf=
FO_OPTIONS: tuple[str, ...] = ("0", "1", "d", "s")  # RFC 7489 §6.3 fo=
PCT_RANGE = (1, 100)  # RFC 7489 §6.3 allows 0; a stage of 0 is "not enforcing", which is p=none here
POLICY_FIELDS: tuple[str, ...] = ("p", "pct", "sp", "np", "adkim", "aspf", "rua", "ruf", "fo")
FORCE_HINT = "set dmarc.force: true with a dmarc.reason"
EVIDENCE_HINT = "run `sending-domain dmarc status --write` and commit its PASS in the evidence file"

_MAILTO = re.compile(
    r"^mailto:"
    r"(?P<local>[A-Za-z0-9#$%&'*+/=^_`{|}~-]+(?:\.[A-Za-z0-9#$%&'*+/=^_`{|}~-]+)*)"
    r"@(?P<domain>[A-Za-z0-9._-]+)"
    r"(?:!(?P<size>[0-9]+[kmgtKMGT]?))?$",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"^[0-9]{1,3}$")


# --- field validation -------------------------------------------------------------------------------


def _check_policy_name(value: object) -> str | None:
    if value not in POLICIES:
        return f"must be one of none, quarantine, reject, not {value!r}"
    return None


def _check_pct(value: object) -> str | None:
    low, high = PCT_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return f"must be a whole number {low}..{high}, not {value!r}"
    return None


def check_none_pct(p: object, pct: object) -> str | None:
    """A reason why ``pct`` may not go with ``p`` (pct < 100 only enforces part of a policy), or None."""
    if p == "none" and pct != 100:
        return "applies only to p=quarantine or p=reject; remove it (or set 100) with p=none"
    return None


def stage_problems(p: object, pct: object) -> list[tuple[str, str]]:
    """Problems with one stage, as ``(p|pct, reason)``."""
    found = [("p", _check_policy_name(p)), ("pct", _check_pct(pct) or check_none_pct(p, pct))]
    return [(sub, reason) for sub, reason in found if reason]


def _check_alignment(value: object) -> str | None:
    if value not in ALIGNMENTS:
        return f"must be r (relaxed) or s (strict), not {value!r}"
    return None


def check_fo(value: object) -> str | None:
    """A reason why ``value`` is not a failure-reporting option list, or None.

    RFC 7489 §6.3 fo: colon-separated 0, 1, d, s; RFC 9989 §4.7: 0 and 1 exclusive, each at most once.
    """
    if not isinstance(value, str) or not value:
        return 'must be a string such as "0", "1" or "d:s"'
    options = value.split(":")
    unknown = [o for o in options if o not in FO_OPTIONS]
    if unknown:
        return f"option {unknown[0]!r} is not one of 0, 1, d, s"
    if len(set(options)) != len(options):
        return "must not repeat an option"
    if "0" in options and "1" in options:
        return "options 0 and 1 are mutually exclusive"
    return None


def check_report_uri(uri: object) -> str | None:
    """A reason why ``uri`` is not a DMARC report address, or None.

    RFC 7489 §6.2: a URI with an optional ``!size`` suffix (digits and k, m, g or t); ``,`` and ``!`` inside
    the URI itself must be percent-encoded. Only ``mailto:`` is supported (the one scheme receivers must
    accept, RFC 7489 §6.3 / RFC 9989 §4.7).
    """
    if not isinstance(uri, str) or not uri.lower().startswith("mailto:"):
        return f"report address {uri!r} must be a mailto: URI, e.g. mailto:dmarc-reports@example.com"
    match = _MAILTO.match(uri)
    if not match:
        return f"report address {uri!r} is not mailto:local@domain[!size] (RFC 7489 §6.2)"
    domain = match["domain"]
    if "." not in domain.strip(".") or not is_hostname(domain):
        return f"report address {uri!r} has an invalid domain {domain!r}"
    return None


def canonical_report_uri(uri: str) -> str:
    """A valid report URI with ``mailto:``, domain and size unit lower-case; the local part kept as written."""
    match = _MAILTO.match(uri)
    assert match is not None
    size = f"!{match['size'].lower()}" if match["size"] else ""
    return f"mailto:{match['local']}@{normalize_name(match['domain'])}{size}"


def report_destination(uri: str) -> str:
    """The domain a (valid) report URI sends to."""
    match = _MAILTO.match(uri)
    if not match:
        raise ValueError(check_report_uri(uri) or f"invalid report address {uri!r}")
    return normalize_name(match["domain"])


def _check_uri_list(value: object, tag: str) -> list[tuple[str, str]]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        return [(tag, "must be a list of mailto: URIs")]
    problems = [(f"{tag}[{i}]", check_report_uri(uri)) for i, uri in enumerate(items)]
    return [(sub, reason) for sub, reason in problems if reason]


def validate_policy_fields(raw: Mapping[str, object], *, extra_keys: Collection[str] = ()) -> list[tuple[str, str]]:
    """Every problem in a DMARC settings mapping, as ``(subpath, reason)``; empty when valid.

    ``p`` is required; the other :data:`POLICY_FIELDS` are optional. Keys in ``extra_keys`` (say ``force``)
    are the caller's to check; any other key is reported as unknown.
    """
    problems: list[tuple[str, str]] = []
    for key in raw:
        if key not in POLICY_FIELDS and key not in extra_keys:
            problems.append((str(key), f"unknown DMARC setting; use {', '.join(POLICY_FIELDS)}"))
    if raw.get("p") is None:
        problems.append(("p", "required: none, quarantine or reject"))
    problems += _check_present(raw)
    return problems


_FIELD_CHECKS: dict[str, Callable[[object], str | None]] = {
    "p": _check_policy_name,
    "sp": _check_policy_name,
    "np": _check_policy_name,
    "pct": _check_pct,
    "adkim": _check_alignment,
    "aspf": _check_alignment,
    "fo": check_fo,
}


def _check_present(raw: Mapping[str, object]) -> list[tuple[str, str]]:
    out = []
    for key, check in _FIELD_CHECKS.items():
        value = raw.get(key)
        if value is not None:
            reason = check(value) or (check_none_pct(raw.get("p"), value) if key == "pct" else None)
            if reason:
                out.append((key, reason))
    for tag in ("rua", "ruf"):
        if raw.get(tag) is not None:
            out += _check_uri_list(raw[tag], tag)
    return out


def _raise_problems(problems: Iterable[tuple[str, str]]) -> None:
    text = "; ".join(f"{sub}: {reason}" if sub else reason for sub, reason in problems)
    if text:
        raise ValueError(text)


# --- stages -----------------------------------------------------------------------------------------


@functools.total_ordering
@dataclass(frozen=True)
class Stage:
    """One rung of enforcement: ``p`` and ``pct`` (pct is always 100 for ``p=none``)."""

    p: str
    pct: int = 100

    def __post_init__(self) -> None:
        _raise_problems(stage_problems(self.p, self.pct))

    @property
    def strength(self) -> tuple[int, int]:
        """A sort key: none < quarantine by pct < reject by pct."""
        return (POLICIES.index(self.p), 0 if self.p == "none" else self.pct)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Stage):
            return NotImplemented
        return self.strength < other.strength

    def __str__(self) -> str:
        return f"p={self.p}" if self.pct == 100 else f"p={self.p} pct={self.pct}"


DEFAULT_LADDER: tuple[Stage, ...] = (
    Stage("none"),
    Stage("quarantine", 10),
    Stage("quarantine", 25),
    Stage("quarantine", 50),
    Stage("quarantine", 100),
    Stage("reject", 25),
    Stage("reject", 50),
    Stage("reject", 100),
)


def next_stage(old: Stage, ladder: Sequence[Stage] = DEFAULT_LADDER) -> Stage | None:
    """The first rung of ``ladder`` stronger than ``old``; None at the top."""
    return next((rung for rung in sorted(ladder) if rung > old), None)


def parse_stage(text: str) -> Stage:
    """The stage ``str(stage)`` wrote (``p=quarantine pct=25``, ``p=none``); ValueError otherwise."""
    match = _STAGE_TEXT.match(text)
    stage = Stage(match["p"], int(match["pct"] or 100)) if match and match["pct"] != "0" else None
    if stage is None or str(stage) != text:  # one spelling per stage, so stages compare as text too
        raise ValueError(f"{text!r} is not a DMARC stage such as 'p=quarantine pct=25'")
    return stage


_STAGE_TEXT = re.compile(r"^p=(?P<p>none|quarantine|reject)(?: pct=(?P<pct>[0-9]{1,3}))?$")


def check_transition(
    old: Stage | None,
    new: Stage,
    *,
    force: bool,
    passed: tuple[Stage, Stage] | None = None,
    ladder: Sequence[Stage] = DEFAULT_LADDER,
    domain: str = "",
) -> str | None:
    """A reason why DMARC may not move from ``old`` (None: first deployment) to ``new``, or None.

    ``passed`` is the step the evidence judged safe, ``(stage judged, next stage)``, when its verdict was PASS.
    See the module docstring for the rule. The reason says what to do next.
    """
    if force:
        return None
    subject = f"DMARC for {domain}" if domain else "DMARC"
    rungs = sorted(ladder) or list(DEFAULT_LADDER)
    if old is None:
        if new <= rungs[0]:
            return None
        return (
            f"{subject} would start at {new}; a first deployment starts at {rungs[0]} so reports can be read "
            f"before enforcing — start at {rungs[0]} or {FORCE_HINT} (e.g. to adopt a domain that already enforces)"
        )
    between = [rung for rung in rungs if old < rung < new]
    if new <= old:
        return None
    if between:
        return (
            f"{subject} would move from {old} to {new}, {len(between) + 1} steps towards enforcement at once; "
            f"move one step (next: {between[0]}) or {FORCE_HINT}"
        )
    if passed is not None and passed[0] == old and new <= passed[1]:
        return None
    return f"{subject} would move from {old} to {new} without evidence that every sender is aligned: {_missing(old, new, passed)}"


def _missing(old: Stage, new: Stage, passed: tuple[Stage, Stage] | None) -> str:
    if passed is None:
        found = "the evidence file has no PASS for it"
    elif passed[0] != old:
        found = f"the evidence file's PASS was judged at {passed[0]}, not at {old}"
    else:
        found = f"the evidence file's PASS goes to {passed[1]}, not to {new}"
    return f"{found}; {EVIDENCE_HINT}, or {FORCE_HINT}"


# --- the policy value -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DmarcPolicy:
    """A domain's DMARC policy (RFC 7489 §6.3, with ``np`` from RFC 9989). Checks itself on construction.

    ``sp``/``np`` None means "not published" (receivers then use ``p``, resp. ``sp`` or ``p``).
    ``rua``/``ruf`` are canonical ``mailto:`` URIs (scheme and domain lower-case). ``fo=None`` means the
    default ``0``, so typed stack settings (where None leaves a tag out) convert field by field.
    """

    p: str
    pct: int = 100
    sp: str | None = None
    np: str | None = None
    adkim: str = "r"
    aspf: str = "r"
    rua: tuple[str, ...] = ()
    ruf: tuple[str, ...] = ()
    fo: str | None = "0"

    def __post_init__(self) -> None:
        if self.fo is None:
            object.__setattr__(self, "fo", "0")  # None (not configured) is the default, fo=0
        for tag in ("rua", "ruf"):
            value = getattr(self, tag)
            if isinstance(value, (str, list)):
                object.__setattr__(self, tag, (value,) if isinstance(value, str) else tuple(value))
        raw = {name: getattr(self, name) for name in POLICY_FIELDS}
        _raise_problems(validate_policy_fields(raw))
        for tag in ("rua", "ruf"):
            object.__setattr__(self, tag, tuple(canonical_report_uri(u) for u in getattr(self, tag)))

    @property
    def stage(self) -> Stage:
        return Stage(self.p, self.pct)


def policy_from_mapping(raw: Mapping[str, object], *, extra_keys: Collection[str] = ()) -> DmarcPolicy:
    """A policy from config settings (keys as in :data:`POLICY_FIELDS`). Raises ValueError with every problem."""
    if raw.get("p") is None or any(k not in POLICY_FIELDS and k not in extra_keys for k in raw):
        _raise_problems(validate_policy_fields(raw, extra_keys=extra_keys))  # every problem, the fields' too
    values = {k: v for k, v in raw.items() if k in POLICY_FIELDS and v is not None}
    return DmarcPolicy(**values)  # type: ignore[arg-type]  # checks the fields itself


def render_dmarc_value(policy: DmarcPolicy) -> str:
    """The record text: ``v=DMARC1; p=...`` first (RFC 7489 §6.4), then a fixed order.

    Order: sp, np, pct + t, adkim, aspf, fo, rua, ruf. Defaults are left out (pct=100, adkim=r, aspf=r,
    fo=0, RFC 7489 §6.3). A partial stage carries ``pct=<n>; t=y`` (see the module docstring).
    """
    tags = [("v", "DMARC1"), ("p", policy.p)]
    tags += [(t, v) for t, v in (("sp", policy.sp), ("np", policy.np)) if v is not None]
    if policy.pct != 100:
        tags += [("pct", str(policy.pct)), ("t", "y")]
    tags += [(t, v) for t, v in (("adkim", policy.adkim), ("aspf", policy.aspf)) if v != "r"]
    if policy.fo != "0":
        tags.append(("fo", policy.fo))
    tags += [(t, ",".join(v)) for t, v in (("rua", policy.rua), ("ruf", policy.ruf)) if v]
    return "; ".join(f"{t}={v}" for t, v in tags)


_DMARC_RECORD = re.compile(r"^v\s*=\s*DMARC1\s*(;|$)", re.IGNORECASE)


def is_dmarc_record(text: str) -> bool:
    """Whether a TXT record at ``_dmarc`` is a DMARC record (RFC 7489 §6.6.3: it starts with ``v=DMARC1``)."""
    return bool(_DMARC_RECORD.match(text))


def dmarc_record_name(domain: str) -> str:
    """``_dmarc.<domain>`` (RFC 7489 §6.1)."""
    return f"_dmarc.{normalize_name(domain)}"


def dmarc_record(domain: str, policy: DmarcPolicy, ttl: int = 300) -> Record:
    """The TXT record publishing ``policy`` for ``domain``."""
    return Record.txt(dmarc_record_name(domain), render_dmarc_value(policy), ttl)


# --- parsing ----------------------------------------------------------------------------------------


def parse_dmarc_value(text: str) -> dict[str, str]:
    """The tags of a DMARC record's joined TXT text, in order, names lower-case, values stripped.

    Raises ValueError with the reason: not starting with ``v=DMARC1`` (RFC 7489 §6.4), a tag without ``=``,
    a bad tag name, an empty value, a duplicate tag. Unknown tags are kept (receivers ignore them).
    """
    tags = parse_tags(text, _TAG_SYNTAX)
    if not tags or next(iter(tags)) != "v" or tags["v"] != "DMARC1":
        raise ValueError("a DMARC record must start with v=DMARC1 (RFC 7489 §6.4)")
    return tags


def _tag_value_reason(name: str, value: str) -> str | None:
    return None if value else f"tag {name!r} has an empty value"  # every DMARC tag's ABNF needs a value


# RFC 7489 §6.4: the DKIM tag-list syntax; spaces and tabs around names and values, names case-insensitive.
_TAG_SYNTAX = TagSyntax(
    cite="RFC 7489 §6.4",
    wsp=" \t",
    end_wsp=" \t",
    fold_names=True,
    value_reason=_tag_value_reason,
)


def policy_from_tags(tags: Mapping[str, str]) -> DmarcPolicy:
    """Interpret parsed tags as a policy. Raises ValueError with the reason.

    ``p`` is required (RFC 7489 §6.3). Keyword values are case-insensitive (RFC 5234 §2.3). Tags the model
    does not hold (``t``, ``rf``, ``ri``, ``psd``, unknown tags) are ignored: ``t=y`` is implied by pct < 100.
    """
    if "p" not in tags:
        raise ValueError("missing p= tag (required by RFC 7489 §6.3)")
    raw: dict[str, object] = {k: v.lower() for k, v in tags.items() if k in ("p", "sp", "np", "adkim", "aspf")}
    if "pct" in tags:
        if not _DIGITS.match(tags["pct"]):
            raise ValueError(f"pct: must be a whole number 1..100, not {tags['pct']!r}")
        raw["pct"] = int(tags["pct"])
    if "fo" in tags:
        raw["fo"] = tags["fo"].lower()
    for tag in ("rua", "ruf"):
        if tag in tags:
            raw[tag] = tuple(uri.strip(" \t") for uri in tags[tag].split(","))
    return policy_from_mapping(raw)


def parse_dmarc_policy(text: str) -> DmarcPolicy:
    """``policy_from_tags(parse_dmarc_value(text))``."""
    return policy_from_tags(parse_dmarc_value(text))


# --- report authorization ---------------------------------------------------------------------------


def report_authorization_name(domain: str, destination: str) -> str:
    """``<domain>._report._dmarc.<destination>`` (RFC 7489 §7.1)."""
    return f"{normalize_name(domain)}._report._dmarc.{normalize_name(destination)}"


def report_authorization_records(
    domain: str, policy: DmarcPolicy, our_zones: Collection[str], ttl: int = 300
) -> tuple[list[Record], list[str]]:
    """Authorization records for report addresses outside ``domain``, and warnings for those we cannot publish.

    RFC 7489 §7.1: a receiver sends reports to another domain only when that domain publishes
    ``<domain>._report._dmarc.<destination> TXT "v=DMARC1"``. We publish it when the destination is (a
    subdomain of) one of ``our_zones``; otherwise the warning tells the user whom to ask.
    """
    domain = normalize_name(domain)
    zones = our_zones if isinstance(our_zones, AbstractSet) else {normalize_name(z) for z in our_zones}
    records: list[Record] = []
    warnings: list[str] = []
    for destination in _external_destinations(domain, policy):
        name = report_authorization_name(domain, destination)
        if _in_zones(destination, zones):
            records.append(Record.txt(name, "v=DMARC1", ttl))
        else:
            warnings.append(
                f"DMARC reports for {domain} go to {destination}, which is not one of our zones: ask its owner "
                f'to publish {name} TXT "v=DMARC1" (RFC 7489 §7.1), or receivers will not send the reports'
            )
    return sorted(records), warnings


def _external_destinations(domain: str, policy: DmarcPolicy) -> list[str]:
    """Report destinations that need an authorization record: RFC 7489 §7.1 asks for one only when the
    destination's organizational domain differs from the domain's (``news.example.org`` reporting to
    ``example.org`` needs none)."""
    destinations = {report_destination(uri) for uri in policy.rua + policy.ruf}
    return sorted(d for d in destinations if not same_organization(d, domain))


def _in_zones(name: str, zones: Collection[str]) -> bool:
    return containing_zone(name, zones) is not None
