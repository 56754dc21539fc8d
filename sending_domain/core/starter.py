"""A starter stack from what a domain publishes today: the pure half of ``sending-domain init``.

The way octoDNS adopts a zone: dump the live state as configuration, so that the first plan shows no change.
From live answers (the edge asks DNS) this module derives, per domain,

- the senders, from the live SPF record: a well-known vendor include becomes its name (``include:sendgrid.net``
  → ``sendgrid``), every other term stays as written, in order, and the record's ``all`` becomes ``spf.all``.
  Terms a stack cannot express (a qualifier other than ``+`` before a sender, ``ptr``, ``exists``,
  ``redirect=``, macros, ``+all``) are refused with the reason (:func:`~.senders.sender_reason`): rewriting
  them silently would change who may send;
- the DMARC policy, tag by tag, from the live ``_dmarc`` record (tags the stack does not model are noted);
- notes on the live DKIM selectors it was asked about: keys someone signs with today, never keys to generate.

:func:`render_stack` writes the stack file, commented like ``stacks/Pulumi.example.yaml``; the edge checks it
with the same loader every command uses before writing it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sending_domain.core import dkim, dmarc
from sending_domain.core.orgdomain import organizational_domain
from sending_domain.core.errors import ConfigError, Problem, SpfSyntaxError
from sending_domain.core.senders import WELL_KNOWN_SENDERS, sender_reason
from sending_domain.core.spf.terms import Mechanism, Modifier, is_spf_record, parse_record
from sending_domain.core.text import printable

VENDOR_NAMES = {include: name for name, include in WELL_KNOWN_SENDERS.items()}
_NEW_SELECTOR = "sd"  # this stack's own keys: sd1, sd2, ... (whichever the live selectors leave free)


@dataclass(frozen=True)
class StarterDomain:
    """What ``init`` writes for one domain."""

    domain: str
    senders: tuple[str, ...] | None  # None: no SPF record live
    spf_all: str
    dmarc: dict[str, object] | None  # stack settings for dmarc; None: no usable DMARC record live
    notes: tuple[str, ...] = ()
    dkim_notes: tuple[str, ...] = ()
    ses_region: str | None = None
    new_selector: str | None = None  # with SES: the selector of the key this stack generates


# --- SPF ---------------------------------------------------------------------------------------


def spf_records(domain: str, values: Sequence[str]) -> str | None:
    """The one live SPF record among ``values`` (TXT at the domain), None when there is none.

    Two are a permerror for every receiver (RFC 7208 §4.5): refused, naming both, since which one the owner
    means cannot be guessed.
    """
    found = sorted(v for v in values if is_spf_record(v))
    if len(found) > 1:
        listed = "; ".join(repr(printable(v)) for v in found)
        raise ConfigError(Problem(domain, "spf-two-records",
                                  f"publishes {len(found)} SPF records ({listed}), a permerror for every receiver "
                                  "(RFC 7208 §4.5); delete all but one, then run init again"))
    return found[0] if found else None


def senders_from_spf(domain: str, text: str) -> tuple[tuple[str, ...], str, tuple[str, ...]]:
    """(senders, spf.all, notes) for a live SPF record; a ConfigError listing every term a stack cannot express."""
    try:
        record = parse_record(text, domain)
    except SpfSyntaxError as e:
        raise ConfigError(Problem(domain, "spf-syntax", f"the live SPF record does not parse: {printable(str(e))}")) from None
    senders: list[str] = []
    notes: list[str] = []
    problems: list[Problem] = []
    spf_all: str | None = None
    for term in record.terms:
        if spf_all is not None:
            notes.append(f"the live SPF record has {printable(str(term))} after its all: receivers never reach it (dropped)")
            continue
        if isinstance(term, Modifier):
            if term.name == "redirect":
                problems.append(_inexpressible(domain, str(term), sender_reason(f"redirect={term.value}") or ""))
            else:
                notes.append(f"the modifier {printable(str(term))} of the live SPF record is not kept")
            continue
        if term.kind == "all":
            if term.qualifier == "+":
                problems.append(_inexpressible(domain, "+all", "+all lets anyone send; the stack refuses it"))
            spf_all = f"{term.qualifier if term.qualifier != '+' else '?'}all"
            continue
        sender, reason = _sender(term)
        if reason:
            problems.append(_inexpressible(domain, term.text, reason))
        else:
            senders.append(sender)
    if problems:
        raise ConfigError(problems)
    if spf_all is None:
        spf_all = "?all"
        notes.append("the live SPF record has no all, which receivers read as ?all (neutral): written as ?all")
    return tuple(senders), spf_all, tuple(notes)


def _sender(term: Mechanism) -> tuple[str, str | None]:
    if term.qualifier != "+":
        return "", sender_reason(term.text)  # "list senders without a qualifier; ..."
    if term.kind == "include" and term.domain in VENDOR_NAMES:
        return VENDOR_NAMES[term.domain], None
    return term.text, sender_reason(term.text)


def _inexpressible(domain: str, term: str, reason: str) -> Problem:
    return Problem(domain, "spf-term", f"the live SPF term {printable(term)!r} cannot be written as a sender: "
                                       f"{reason}; write this domain's senders by hand")


# --- DMARC -------------------------------------------------------------------------------------

_MODELLED = {"v", "p", "pct", "sp", "np", "adkim", "aspf", "rua", "ruf", "fo"}


def dmarc_from_live(values: Sequence[str]) -> tuple[dict[str, object] | None, tuple[str, ...]]:
    """Stack settings for the live DMARC record(s) at ``_dmarc`` (None: no policy receivers apply), and notes."""
    found = [v for v in values if dmarc.is_dmarc_record(v)]
    if not found:
        return None, ("no DMARC record is live: the stack starts at p=none",)
    if len(found) > 1:
        return None, (f"{len(found)} DMARC records are live, so receivers apply none (RFC 7489 §6.6.3): "
                      "the stack starts at p=none and the deployment replaces them (adopt: true)",)
    try:
        tags = dmarc.parse_dmarc_value(found[0])
        policy = dmarc.policy_from_tags(tags)
    except ValueError as e:
        return None, (f"the live DMARC record is ignored by receivers ({printable(str(e))}): the stack starts at p=none",)
    settings: dict[str, object] = {"p": policy.p}
    if policy.pct != 100:
        settings["pct"] = policy.pct
    for name in ("sp", "np"):
        if getattr(policy, name) is not None:
            settings[name] = getattr(policy, name)
    for name in ("adkim", "aspf"):
        if getattr(policy, name) != "r":
            settings[name] = getattr(policy, name)
    for name in ("rua", "ruf"):
        if getattr(policy, name):
            settings[name] = list(getattr(policy, name))
    if policy.fo not in (None, "0"):
        settings["fo"] = policy.fo
    dropped = sorted(set(tags) - _MODELLED)
    notes = (f"live DMARC tags not kept by the stack: {printable(', '.join(dropped))}",) if dropped else ()
    return settings, notes


# --- DKIM --------------------------------------------------------------------------------------


def dkim_note(selector: str, values: Sequence[str]) -> str:
    """What a live selector publishes, for a comment: a key someone signs with, a revoked key, or nothing."""
    if not values:
        return f"{selector}: nothing published"
    notes = []
    for value in values:
        try:
            key = dkim.parse_dkim_value(value)
        except ValueError as e:
            notes.append(f"a TXT record that is not a DKIM key ({printable(str(e))})")
            continue
        if key.revoked:
            notes.append("a revoked key (empty p=)")
        else:
            size = f", {key.bits} bits" if key.bits else ""
            notes.append(f"a live {key.key_type} key{size}: someone signs with it today; this stack leaves it alone")
    return f"{selector}: " + "; ".join(notes)


def new_selector(taken: Sequence[str]) -> str:
    """A selector for this stack's own key that none of the live ones uses: sd1, sd2, ..."""
    index = 1
    while f"{_NEW_SELECTOR}{index}" in taken:
        index += 1
    return f"{_NEW_SELECTOR}{index}"


# --- the file ----------------------------------------------------------------------------------


def _q(value: object) -> str:
    """A YAML scalar: JSON's double-quoted strings are YAML too; numbers and flags as they are."""
    return json.dumps(value, ensure_ascii=True)


def render_stack(domains: Sequence[StarterDomain], *, source: str) -> str:
    """The stack file for ``domains``, commented; ``source`` says where the live records were read."""
    lines = [
        "# Written by `sending-domain init` from the records live in DNS (" + printable(source) + ").",
        "# The domains below adopt what they publish today: `adopt: true` lets the first deployment import",
        "# the live records and update them in place instead of publishing second ones beside them.",
        "# Check it, then: sending-domain plan --live ...; pulumi preview; pulumi up; sending-domain verify ...",
        "# Every option is described in stacks/Pulumi.example.yaml and docs/stack-reference.md.",
        "config:",
        "  sending-domain:settings:",
        "    defaults:",
        "      adopt: true",
        "    domains:",
    ]
    for d in domains:
        lines += _domain_lines(d)
    return "\n".join(lines) + "\n"


def _domain_lines(d: StarterDomain) -> list[str]:
    lines = [
        f"      - domain: {_q(d.domain)}",
        f"        zone: {_q(organizational_domain(d.domain))}    # its registrable domain, the usual Cloudflare zone; "
        "or the zone's zoneId",
    ]
    lines += [f"        # note: {printable(n)}" for n in d.notes]
    if d.senders is None:
        lines += ["        # No SPF record is live: list who sends as this domain before deploying", "        senders: []"]
    elif not d.senders:
        lines.append("        senders: []")
    else:
        lines.append("        senders:                 # from the live SPF record, in its order")
        lines += [f"          - {_q(s)}" for s in d.senders]
    lines += ["        spf:", f"          all: {_q(d.spf_all)}"]
    if d.dkim_notes or d.new_selector:
        lines.append("        # Live DKIM selectors (not managed here; this stack's own keys need selectors of their own):")
        lines += [f"        #   {printable(n)}" for n in d.dkim_notes]
    if d.new_selector:
        lines += [
            "        dkim:",
            "          keys:                  # SES signs with this stack's own key (BYODKIM), on a new selector",
            f"            - {{selector: {d.new_selector}, algorithm: rsa-2048, state: active}}",
        ]
    lines += _dmarc_lines(d.dmarc)
    if d.ses_region:
        lines += [
            "        ses:                     # the SES identity; one that exists already is imported",
            f"          region: {_q(d.ses_region)}",
            "          mailFrom: bounce        # custom MAIL FROM: bounce.<domain> gets SES's MX and SPF",
        ]
    return lines


def _dmarc_lines(settings: dict[str, object] | None) -> list[str]:
    if settings is None:
        return ["        dmarc:", "          p: none"]
    lines = ["        dmarc:                   # from the live _dmarc record: the stage it enforces today"]
    for key, value in settings.items():
        if isinstance(value, list):
            lines.append(f"          {key}:")
            lines += [f"            - {_q(v)}" for v in value]
        else:
            lines.append(f"          {key}: {_q(value)}")
    return lines
