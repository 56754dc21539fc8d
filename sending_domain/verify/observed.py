"""What the verifier saw in DNS, as plain values the pure checks read.

The probe (:mod:`.dns_probe`) fills an :class:`ObservedDns` for one domain; the checks never do I/O.
A question that could not be answered for now (timeout, SERVFAIL) is an :class:`Unanswered` value, so
the check that needed it reports ``error`` (exit 3) instead of a wrong ``fail``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sending_domain.core.dkim import dkim_record_name
from sending_domain.core.orgdomain import same_organization
from sending_domain.core.dmarc import DmarcPolicy, dmarc_record_name, report_authorization_name, report_destination
from sending_domain.core.dnsdata import Answer, Question
from sending_domain.core.render import DesiredDomain
from sending_domain.core.settings import DomainSettings
from sending_domain.core.spf.flatten import FlattenOptions
from sending_domain.core.spf.netset import NetSet
from sending_domain.core.spf.tree import Program


@dataclass(frozen=True)
class Unanswered:
    """A DNS question that failed for now; ``reason`` says how."""

    reason: str


Lookup = Answer | Unanswered


@dataclass(frozen=True)
class LiveSpf:
    """The live SPF tree as a receiver evaluates it (RFC 7208 §4.6.4).

    Exactly one of: ``program`` (it evaluates; ``lookups`` and ``voids`` counted), ``error`` (a receiver
    would return permerror, the reason), ``transient`` (it could not be resolved now).
    """

    program: Program | None = None
    lookups: int = 0
    voids: Mapping[int, int] = field(default_factory=dict)
    error: str = ""
    void_limit: bool = False  # the error is too many void lookups (not a loop, a missing record, ...)
    transient: str = ""


@dataclass(frozen=True)
class SenderNets:
    """The addresses one configured sender term passes: ``nets``, or why they are not known.

    ``opaque`` — the sender's tree keeps terms that are not networks (``exists``, macros), so coverage
    can only be compared by the term itself. ``transient``/``error`` — its tree could not be resolved.
    """

    nets: NetSet | None = None
    opaque: bool = False
    error: str = ""
    transient: str = ""


@dataclass(frozen=True)
class ObservedDns:
    answers: Mapping[Question, Lookup]
    spf: LiveSpf
    senders: Mapping[str, SenderNets]

    def get(self, name: str, rdtype: str) -> Lookup:
        """The answer for a question the probe asked (a missing one reads as unanswered)."""
        return self.answers.get((name, rdtype), Unanswered(f"{rdtype} {name} was not asked"))


def leftover_chain_name(desired: DesiredDomain, options: FlattenOptions = FlattenOptions()) -> str:
    """The chained-record name one past the last one the stack publishes (``_spf<n+1>.<domain>``)."""
    return f"{options.chain_prefix}{len(desired.spf.records)}.{desired.domain}"


def external_report_names(domain: str, policy: DmarcPolicy) -> list[str]:
    """Every report authorization name ``domain``'s policy needs (RFC 7489 §7.1), ours and other domains'."""
    destinations = {report_destination(uri) for uri in policy.rua + policy.ruf}
    # RFC 7489 §7.1: only a destination in another organizational domain needs to authorize us
    return [report_authorization_name(domain, d) for d in sorted(destinations) if not same_organization(d, domain)]


def questions(desired: DesiredDomain, settings: DomainSettings) -> list[Question]:
    """Every (name, type) the checks of one domain read, root SPF tree aside (the probe walks it)."""
    asked: list[Question] = [(r.record.name, "TXT") for r in desired.records if r.record.type == "TXT"]
    asked += [(dkim_record_name(k.selector, settings.domain), "TXT") for k in settings.dkim]
    asked += [(dmarc_record_name(settings.domain), "TXT"), (leftover_chain_name(desired), "TXT")]
    asked += [(name, "TXT") for name in external_report_names(settings.domain, desired.dmarc_policy)]
    if settings.ses is not None:
        asked += [(settings.ses.mail_from, "MX"), (settings.ses.mail_from, "TXT")]
    if settings.reports_mx is not None:
        asked.append((settings.reports_mx.domain, "MX"))
    return sorted(set(asked))
