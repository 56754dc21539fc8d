"""Name the sender of every report row: the stack's sender inventory, and each row classified against it.

The inventory of a domain (:func:`build_inventory`) is what the stack already knows: the networks each sender
owns (its SPF term evaluated over the pinned answers of the SPF lock, so the same networks the published record
authorizes), our DKIM selectors (the domain's keys), the selectors declared for vendors (``dmarc.gate.selectors``)
and the custom MAIL FROM domain. Reverse DNS is never needed.

:func:`classify` puts a row (or a group of rows with the same facts) in one of four categories:

- ``aligned`` — from a sender's network (or signed with a selector declared for it) and DMARC-aligned by DKIM or SPF;
- ``unaligned`` — from a sender's network but aligned by neither; the reason says why (envelope domain not aligned,
  DKIM ``d=`` another domain, no signature, a signature that failed);
- ``forwarded`` — from outside the inventory with DKIM aligned and SPF not, or with a ``mailing_list`` /
  ``trusted_forwarder`` override: mail we sent, passed on by someone else; counted apart, never a blocker;
- ``unknown`` — from outside the inventory and not forwarded: a forgotten sender or someone spoofing the domain.

The reporter's own ``policy_evaluated`` results decide alignment; the reason text compares the domains by relaxed
alignment (:mod:`~.orgdomain`, the Public Suffix List), which is what a person needs to act on it.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from sending_domain.core.errors import SpfError
from sending_domain.core.orgdomain import same_organization
from sending_domain.core.settings import DomainSettings
from sending_domain.core.senders import spf_term
from sending_domain.core.spf.lock import EVAL_DOMAIN, SpfLock, lock_terms, term_record
from sending_domain.core.spf.netset import NetSet, first_match
from sending_domain.core.spf.terms import parse_record
from sending_domain.core.spf.tree import evaluate

CATEGORIES: tuple[str, ...] = ("aligned", "unaligned", "forwarded", "unknown")
FORWARDING_OVERRIDES = frozenset({"mailing_list", "trusted_forwarder"})  # RFC 7489 Appendix C PolicyOverrideType
SES_TERM = "include:amazonses.com"
NOT_A_SENDER = "not from a sender of the stack and not aligned"


class Facts(NamedTuple):
    """What a report row says about its mail, whatever its source: the unit of storage and classification."""

    dkim_aligned: bool  # policy_evaluated/dkim = pass
    spf_aligned: bool  # policy_evaluated/spf = pass
    header_from: str
    envelope_from: str
    dkim: tuple[tuple[str, str, str], ...]  # (d=, selector, result)
    spf: tuple[tuple[str, str, str], ...]  # (domain, scope, result)
    reasons: tuple[tuple[str, str], ...]  # (override type, comment)


class Tally(NamedTuple):
    """Messages from one source with the same facts on one UTC day (days since 1970), summed over reports.
    ``facts_id`` names ``facts`` within one query, so a caller classifies each (source, facts) once."""

    day: int
    source_ip: str
    facts_id: int
    facts: Facts
    count: int


@dataclass(frozen=True)
class Sender:
    name: str  # as the stack lists it (amazonses, ip4:192.0.2.0/24)
    networks: NetSet
    selectors: frozenset[str] = frozenset()  # DKIM selectors declared for it


@dataclass(frozen=True)
class Inventory:
    """What a domain's stack says about who sends for it; :meth:`sender_of` finds a source address's sender."""

    domain: str
    senders: tuple[Sender, ...]
    our_selectors: frozenset[str]  # the domain's own DKIM keys
    mail_from: str | None = None  # the SES custom MAIL FROM domain
    ses_sender: str | None = None  # the sender SES mail is counted under
    warnings: tuple[str, ...] = ()
    _starts: tuple[tuple[int, int], ...] = field(default=(), repr=False, compare=False)
    _ends: tuple[tuple[int, int, int], ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        # First match wins where networks overlap: each address belongs to the first sender that lists it.
        pieces = sorted((family, first, last, index)
                        for index, nets in enumerate(first_match([s.networks for s in self.senders]))
                        for family, first, last in nets.ranges)
        object.__setattr__(self, "_starts", tuple((f, a) for f, a, _, _ in pieces))
        object.__setattr__(self, "_ends", tuple((f, b, i) for f, _, b, i in pieces))

    def sender_of(self, address: str) -> str | None:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        key = (ip.version, int(ip))
        at = bisect.bisect_right(self._starts, key) - 1
        if at < 0:
            return None
        family, last, index = self._ends[at]
        return self.senders[index].name if family == key[0] and key[1] <= last else None

    def sender_by_selector(self, domain: str, selector: str) -> str | None:
        """The sender a DKIM signature names: a selector declared for a vendor, or (d= our domain) one of our keys,
        which SES signs with when the domain has SES."""
        for sender in self.senders:
            if selector in sender.selectors:
                return sender.name
        if selector in self.our_selectors and _within(domain, self.domain):
            return self.ses_sender
        return None


def build_inventory(settings: DomainSettings, lock: SpfLock | None,
                    selectors: Mapping[str, Sequence[str]] | None = None) -> Inventory:
    """The inventory of one domain: each sender's networks from the lock (an ip4:/ip6: term is its own network).

    ``selectors`` maps a sender (as listed) to the DKIM selectors it signs with. A sender the lock does not pin
    has no networks, with a warning: its mail will show as unknown until the lock is updated.
    """
    declared = {k.strip().lower(): frozenset(s.lower() for s in v) for k, v in (selectors or {}).items()}
    senders: list[Sender] = []
    warnings: list[str] = []
    for name in settings.senders:
        networks, problem = sender_networks(settings.domain, spf_term(name), lock)
        if problem:
            warnings.append(f"{name}: {problem}")
        senders.append(Sender(name, networks, declared.get(name.strip().lower(), frozenset())))
    ses_sender = None
    if settings.ses is not None:
        listed = [s.name for s in senders if spf_term(s.name) == SES_TERM]
        if listed:
            ses_sender = listed[0]
        else:
            networks, problem = sender_networks(settings.domain, SES_TERM, lock)
            ses_sender = "amazonses (ses)"
            senders.append(Sender(ses_sender, networks))
            if problem:
                warnings.append(f"{ses_sender}: {problem}")
    ours = frozenset(k.selector for k in settings.dkim if k.state != "revoked")
    return Inventory(settings.domain, tuple(senders), ours, settings.ses.mail_from if settings.ses else None,
                     ses_sender, tuple(warnings))


def sender_networks(domain: str, term: str, lock: SpfLock | None) -> tuple[NetSet, str]:
    """The addresses ``term`` passes, evaluated over the lock's pinned answers, and a problem when it cannot be."""
    kind, _, value = term.partition(":")
    if kind in ("ip4", "ip6"):
        return NetSet.of([ipaddress.ip_network(value, strict=False)]), ""
    pinned = lock_terms(domain, parse_record(term_record(term), domain))
    if lock is None or any(t not in lock.entries for t in pinned):
        return NetSet(), "not pinned in the SPF lock; its mail counts as unknown until `sending-domain spf lock --update`"
    parts: list[NetSet] = []
    for pinned_term in pinned:
        try:
            program = evaluate(EVAL_DOMAIN, lock.snapshot([pinned_term]), term_record(pinned_term), anonymous=True).program
        except SpfError as e:
            return NetSet(), f"its pinned SPF tree does not evaluate ({e})"
        if program is None or not program.flat:
            nets = lock.entries[pinned_term].networks()
            if nets is None:
                return NetSet(), "its SPF tree keeps terms that are not networks (exists:, ptr, macros); known by DKIM selector only"
            parts.append(nets)
        else:
            parts.append(program.passes())
    return NetSet.union(parts), ""


# --- classifying ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Classified:
    category: str  # one of CATEGORIES
    sender: str  # "" when unknown
    reason: str  # why unaligned, forwarded or unknown; "" when aligned


def classify(inventory: Inventory, source_ip: str, group: Facts) -> Classified:
    """The category of mail from ``source_ip`` with ``group``'s facts (module docstring), its sender and why."""
    aligned = group.dkim_aligned or group.spf_aligned
    sender = inventory.sender_of(source_ip)
    override = next((kind for kind, _ in group.reasons if kind in FORWARDING_OVERRIDES), "")
    if sender is not None:
        if aligned:
            return Classified("aligned", sender, "")
        if override:
            return Classified("forwarded", sender, f"{override} override")
        return Classified("unaligned", sender, unaligned_reason(group))
    signer = _signer(inventory, group)
    if group.spf_aligned and inventory.mail_from and group.envelope_from == inventory.mail_from and inventory.ses_sender:
        return Classified("aligned", inventory.ses_sender, "")
    if override:
        return Classified("forwarded", signer or "", f"{override} override")
    if group.dkim_aligned and not group.spf_aligned:
        return Classified("forwarded", signer or "", "DKIM aligned, SPF not, from outside the senders' networks")
    if group.spf_aligned:
        return Classified("unknown", "", "SPF passes for an address no sender of the stack owns: is live SPF the stack's?")
    return Classified("unknown", "", NOT_A_SENDER)


def _signer(inventory: Inventory, group: Facts) -> str | None:
    for domain, selector, result in group.dkim:
        if result == "pass" and (name := inventory.sender_by_selector(domain, selector)):
            return name
    return None


def unaligned_reason(group: Facts) -> str:
    """Why a row is aligned by neither DKIM nor SPF, in the words a person acts on."""
    header = group.header_from
    ours = [(d, s, r) for d, s, r in group.dkim if _aligned(d, header)]
    if not group.dkim:
        dkim = "no DKIM signature"
    elif not ours:
        dkim = "DKIM d=" + ", ".join(sorted({d or "?" for d, _, _ in group.dkim})) + " (another domain)"
    else:
        dkim = "DKIM " + ", ".join(sorted({f"d={d} s={s} {r or 'fail'}" for d, s, r in ours}))
    envelope = group.envelope_from or next((d for d, scope, _ in group.spf if scope in ("mfrom", "")), "")
    result = next((r for d, _, r in group.spf if d == envelope), "")
    if not envelope:
        spf = "no envelope domain reported"
    elif not _aligned(envelope, header):
        spf = f"envelope domain {envelope} not aligned"
    else:
        spf = f"SPF {result or 'fail'} for {envelope}"
    return f"{dkim}; {spf}"


def _within(name: str, domain: str) -> bool:
    return name == domain or name.endswith("." + domain)


def _aligned(identifier: str, header_from: str) -> bool:
    """Relaxed alignment (RFC 7489 §3.1): the same organizational domain, by the Public Suffix List."""
    return bool(identifier) and (identifier == header_from or same_organization(identifier, header_from))
