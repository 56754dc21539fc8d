"""SPF checks: the live record set against the one the stack publishes (pure).

- ``spf.record``  — exactly one ``v=spf1`` record at the domain (RFC 7208 §4.5: two are permerror).
  When this fails, the other SPF checks are not reported: they would all repeat the same cause.
- ``spf.lookups`` — the live tree needs at most 10 DNS-querying terms (RFC 7208 §4.6.4).
- ``spf.voids``   — at most 2 void lookups (RFC 7208 §4.6.4).
- ``spf.size``    — each published SPF record fits the stack's byte budget (§3.4: one UDP answer).
- ``spf.match``   — the root and every chained record equal what the stack renders; no leftover chain.
- ``spf.senders`` — every configured sender's addresses pass under the live record (networks compared).
"""

from __future__ import annotations

from sending_domain.core.checks import CheckResult, errored, failed, passed, warned
from sending_domain.core.dnsdata import Answer
from sending_domain.core.records import Record
from sending_domain.core.render import DesiredDomain
from sending_domain.core.settings import DomainSettings
from sending_domain.core.spf.flatten import MAX_BYTES, MAX_LOOKUPS
from sending_domain.core.spf.netset import NetSet
from sending_domain.core.spf.terms import format_network, is_spf_record
from sending_domain.core.spf.tree import MAX_VOID
from sending_domain.verify.observed import LiveSpf, ObservedDns, Unanswered, leftover_chain_name

DEPLOY_HINT = "deploy the stack (pulumi up) so DNS holds what `sending-domain plan` shows"


def spf_values(answer: Answer) -> list[str]:
    return [v for v in answer.values if is_spf_record(v)]


def spf_checks(desired: DesiredDomain, settings: DomainSettings, observed: ObservedDns) -> list[CheckResult]:
    root = observed.get(desired.domain, "TXT")
    first = check_record(desired.domain, root)
    if first.status != "pass":
        return [first]
    return [
        first,
        *check_tree(desired.domain, observed.spf),
        check_size(desired, settings, observed),
        check_match(desired, observed),
        check_senders(settings, observed),
    ]


def check_record(domain: str, root: Answer | Unanswered) -> CheckResult:
    name = "spf.record"
    if isinstance(root, Unanswered):
        return errored(name, f"TXT {domain}: {root.reason}")
    records = spf_values(root)
    if not records:
        return failed(name, f"no v=spf1 record at {domain}", f"publish the SPF record; {DEPLOY_HINT}")
    if len(records) > 1:
        return failed(
            name,
            f"{len(records)} v=spf1 records at {domain}; receivers return permerror (RFC 7208 §4.5)",
            "delete every SPF record the stack does not manage (merge senders into the stack's senders list)",
        )
    return passed(name, f"one v=spf1 record at {domain} ({len(records[0].encode())} bytes)")


def check_tree(domain: str, live: LiveSpf) -> list[CheckResult]:
    """``spf.lookups`` and ``spf.voids`` from the live tree's evaluation."""
    if live.transient:
        return [errored("spf.lookups", live.transient), errored("spf.voids", live.transient)]
    if live.error:
        # too many void lookups, or something (a loop, an include without SPF, more than 10 MX) that stops
        # the evaluation before counting
        bad, other = ("spf.voids", "spf.lookups") if live.void_limit else ("spf.lookups", "spf.voids")
        found = {
            bad: failed(
                bad,
                f"the live SPF tree of {domain} does not evaluate: {live.error}",
                "fix the record the message names; receivers return permerror for the whole domain",
            ),
            other: warned(other, f"not counted (see {bad})", f"fix {bad} first"),
        }
        return [found["spf.lookups"], found["spf.voids"]]
    lookups = (
        passed("spf.lookups", f"{live.lookups} of at most {MAX_LOOKUPS} DNS lookups")
        if live.lookups <= MAX_LOOKUPS
        else failed(
            "spf.lookups",
            f"the live tree needs {live.lookups} DNS lookups, more than {MAX_LOOKUPS}: permerror (RFC 7208 §4.6.4)",
            f"publish the flattened records; {DEPLOY_HINT}",
        )
    )
    worst_void = max(live.voids.values(), default=0)
    voids = (
        passed("spf.voids", f"{worst_void} void lookup(s), at most {MAX_VOID} allowed")
        if worst_void <= MAX_VOID
        else failed("spf.voids", f"{worst_void} void lookups, more than {MAX_VOID}", "remove terms that point at names without addresses")
    )
    return [lookups, voids]


def check_size(desired: DesiredDomain, settings: DomainSettings, observed: ObservedDns) -> CheckResult:
    name = "spf.size"
    budget = settings.spf.max_bytes
    over: list[str] = []
    crowded: list[str] = []
    for record in desired.spf.records:
        answer = observed.get(record.name, "TXT")
        if isinstance(answer, Unanswered):
            return errored(name, f"TXT {record.name}: {answer.reason}")
        for value in spf_values(answer):
            if len(value.encode()) > budget:
                over.append(f"{record.name} ({len(value.encode())} bytes)")
        total = sum(len(v.encode()) for v in answer.values)
        if total > MAX_BYTES:
            crowded.append(f"{record.name} ({total} bytes of TXT)")
    if over:
        return failed(name, f"over the {budget}-byte budget: {', '.join(over)}", f"publish the stack's split records; {DEPLOY_HINT}")
    if crowded:
        return warned(
            name,
            f"all TXT at {', '.join(crowded)} exceeds {MAX_BYTES} bytes; the answer may not fit one UDP packet (RFC 7208 §3.4)",
            "remove stale TXT records (old verification tokens) at that name",
        )
    return passed(name, f"{len(desired.spf.records)} record(s), each within {budget} bytes")


def check_match(desired: DesiredDomain, observed: ObservedDns) -> CheckResult:
    name = "spf.match"
    problems: list[str] = []
    order_only: list[str] = []
    for record in desired.spf.records:
        answer = observed.get(record.name, "TXT")
        if isinstance(answer, Unanswered):
            return errored(name, f"TXT {record.name}: {answer.reason}")
        problem = _compare(record, spf_values(answer))
        if problem == "order":
            order_only.append(record.name)
        elif problem:
            problems.append(problem)
    leftover = observed.get(leftover_chain_name(desired), "TXT")
    if isinstance(leftover, Answer) and spf_values(leftover):
        problems.append(f"{leftover_chain_name(desired)} still holds an SPF record the stack no longer publishes (stale)")
    if problems:
        return failed(name, "; ".join(problems), DEPLOY_HINT)
    if order_only:
        return warned(name, f"same terms in another order at {', '.join(order_only)}", DEPLOY_HINT)
    chains = len(desired.spf.records) - 1
    return passed(name, f"root and {chains} chained record(s) as the stack renders them")


def _compare(want: Record, live: list[str]) -> str:
    if not live:
        return f"{want.name}: missing (the stack publishes '{_short(want.value)}')"
    if len(live) > 1:
        return f"{want.name}: {len(live)} SPF records (RFC 7208 §4.5: permerror)"
    if live[0] == want.value:
        return ""
    have, wanted = live[0].split(), want.value.split()
    if sorted(have) == sorted(wanted):
        return "order"
    missing = [t for t in wanted if t not in have]
    extra = [t for t in have if t not in wanted]
    parts = [f"lacks {' '.join(missing)}" if missing else "", f"has extra {' '.join(extra)}" if extra else ""]
    return f"{want.name}: stale, " + ", ".join(p for p in parts if p)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_senders(settings: DomainSettings, observed: ObservedDns) -> CheckResult:
    name = "spf.senders"
    live = observed.spf
    if live.transient:
        return errored(name, live.transient)
    if live.error or live.program is None:
        return warned(name, "not compared: the live tree does not evaluate", "fix spf.lookups / spf.voids first")
    if not live.program.flat:
        return warned(
            name,
            "not compared by address: the live record keeps terms that are not networks (exists, ptr, macros)",
            "check those senders by hand, or replace the terms with ip4:/ip6: networks",
        )
    passing = live.program.passes()
    uncovered: list[str] = []
    opaque: list[str] = []
    for term in settings.spf_terms:
        sender = observed.senders.get(term)
        if sender is None:
            continue
        if sender.transient:
            return errored(name, f"{term}: {sender.transient}")
        if sender.error:
            return failed(name, f"{term}: {sender.error}", "fix or remove this sender; its own SPF tree is broken")
        if sender.opaque or sender.nets is None:
            opaque.append(term)
            continue
        missing = sender.nets - passing
        if missing:
            uncovered.append(f"{term} ({_nets(missing)})")
    if uncovered:
        return failed(
            name,
            "not covered by the live record: " + "; ".join(uncovered),
            "re-render and deploy (`sending-domain spf lock --update` if a vendor changed its addresses, then pulumi up)",
        )
    if opaque:
        return warned(name, f"covered by address except {', '.join(opaque)} (not expressible as networks)", "check these senders by hand")
    return passed(name, f"all {len(settings.spf_terms)} sender(s) covered")


def _nets(nets: NetSet, limit: int = 4) -> str:
    shown = [format_network(n) for n in nets.networks[:limit]]
    more = len(nets.networks) - limit
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
