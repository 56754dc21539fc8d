"""Drift is a plan: what the stack wants published vs what live DNS answers, as sorted changes.

Pure: the edge asks DNS for :func:`questions` (again, until nothing new is needed) and hands the answers to
:func:`compare`, which returns a :class:`Plan` of create/update/delete :class:`Change` values; vendor
changes found by the lock check join the same plan. :func:`render_text`, :func:`render_json` and
:func:`render_markdown` print it (octoDNS ``provider/plan.py``: PlanLogger, PlanJson, PlanMarkdown).

Only records in *our* namespace at a name are compared, so a site-verification TXT next to the SPF
record never shows up: the SPF record at a name is the TXT starting ``v=spf1`` (RFC 7208 §4.5), the
DMARC one ``v=DMARC1`` (RFC 7489 §6.6.3), the DKIM one ``v=DKIM1`` (or a tag list with ``p=`` and no
``v=``, RFC 6376 §3.6.1), and every MX at the MAIL FROM name and at the reports name. Records we own but
no longer want are deletes: chained ``_spfN.<domain>`` records past the ones the flattened set needs, and second
SPF/DMARC/DKIM records at our names. TTLs are not compared (answers carry values only).

A DKIM key's public half exists only after deployment (whatever its state: pending, active or retiring), so
without the deployment's outputs only the presence of a DKIM record with the expected ``k=`` and a non-empty
``p=`` is checked; the plan says so in its notes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

from sending_domain.core import dkim, dmarc
from sending_domain.core.dnsdata import Answer, Question
from sending_domain.core.records import quote_txt
from sending_domain.core.render import NAMESPACE, DesiredDomain, DesiredRecord, PendingDkim
from sending_domain.core.spf.flatten import MAX_LOOKUPS, FlattenOptions
from sending_domain.core.spf.lock import VendorChange
from sending_domain.core.spf.terms import is_spf_record
from sending_domain.core.text import printable

ACTIONS = ("create", "update", "delete")
CHAIN_PREFIX = FlattenOptions().chain_prefix  # _spf1.<domain>, _spf2.<domain>, ... (see flatten.py)
MAX_CHAINS = MAX_LOOKUPS  # RFC 7208 §4.6.4: each chain costs a lookup, so no set has more than 10
_DKIM = re.compile(r"^\s*v\s*=\s*DKIM1\s*(;|$)")  # RFC 6376 §3.6.1
_MISSING = {
    "spf": "the SPF record is missing: receivers find no SPF policy",
    "spf-chain": "a chained SPF record is missing: the root includes it, so SPF ends in permerror (RFC 7208 §5.2)",
    "dkim": "the DKIM key record is missing: signatures with this selector fail",
    "dmarc": "the DMARC record is missing: receivers apply no DMARC policy",
    "dmarc-report-auth": "the report authorization is missing: DMARC reports to this domain are dropped (RFC 7489 §7.1)",
    "mail-from-mx": "the MAIL FROM MX is missing: SES cannot use the custom MAIL FROM domain",
    "mail-from-spf": "the MAIL FROM SPF record is missing: SPF cannot align for DMARC",
    "reports-mx": "the MX of the reports name is missing: DMARC reports to it cannot be delivered",
}
_DUPLICATE = {
    "spf": "a second SPF record at this name: two v=spf1 records make SPF permerror (RFC 7208 §4.5)",
    "dmarc": "a second DMARC record at this name: receivers then apply no DMARC policy (RFC 7489 §6.6.3)",
    "dkim": "a second DKIM key record at this selector: verifiers may pick either (RFC 6376 §3.6.2.2)",
    "mx": "an extra MX at the MAIL FROM domain: SES wants exactly one feedback MX",
    "reports-mx": "an extra MX at the reports name: some DMARC reports go to another server",
}


@dataclass(frozen=True)
class Change:
    """One difference: ``before`` is the live value (None for create), ``after`` the wanted one (None for delete)."""

    action: str
    name: str
    type: str
    before: str | None
    after: str | None
    reason: str

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown change action {self.action!r}")

    @property
    def sort_key(self) -> tuple[tuple[str, ...], str, int, str, str]:
        """DNS canonical name order (RFC 4034 §6.1: by labels from the right), so a domain's names stay together."""
        labels = tuple(reversed(self.name.split(".")))
        return (labels, self.type, ACTIONS.index(self.action), self.before or "", self.after or "")

    def as_json(self) -> dict:
        return {"action": self.action, "name": self.name, "type": self.type, "before": self.before,
                "after": self.after, "reason": self.reason}


@dataclass(frozen=True)
class Plan:
    """Everything that drifted in one stack: record changes, vendor changes, and what was only partly checked."""

    stack: str
    changes: tuple[Change, ...]
    vendors: tuple[VendorChange, ...] = ()
    notes: tuple[str, ...] = ()
    checked: int = 0

    @property
    def drifted(self) -> bool:
        return bool(self.changes or self.vendors)

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)


# --- what to ask -------------------------------------------------------------------------------------


def questions(desired: Collection[DesiredDomain], observed: Mapping[Question, Answer]) -> set[Question]:
    """Every (name, type) the comparison needs, given what is known so far; ask until nothing new appears.

    The desired records and pending DKIM names, then for each domain the chained SPF names past the last
    one it wants, one after another while they exist live, and any ``_spfN.<domain>`` its live root includes.
    """
    wanted: set[Question] = set()
    for domain in desired:
        wanted |= {(r.record.name, r.record.type) for r in domain.records}
        wanted |= {(p.name, "TXT") for p in domain.pending}
        wanted |= _chain_questions(domain, observed)
    return wanted


def _chain_questions(domain: DesiredDomain, observed: Mapping[Question, Answer]) -> set[Question]:
    if not any(r.purpose == "spf" for r in domain.records):
        return set()
    found = {(name, "TXT") for name in _referenced_chains(domain.domain, observed)}
    index = _chain_count(domain) + 1
    while index <= MAX_CHAINS:
        question = (_chain_name(index, domain.domain), "TXT")
        found.add(question)
        if question not in observed or not _ours("spf", observed[question].values):
            break
        index += 1
    return found


def _chain_count(domain: DesiredDomain) -> int:
    return sum(1 for r in domain.records if r.purpose == "spf-chain")


def _chain_name(index: int, domain: str) -> str:
    return f"{CHAIN_PREFIX}{index}.{domain}"


def _referenced_chains(domain: str, observed: Mapping[Question, Answer]) -> set[str]:
    """The ``_spfN.<domain>`` names the live SPF record(s) at ``domain`` include."""
    answer = observed.get((domain, "TXT"))
    pattern = re.compile(rf"^[+\-~?]?include:({re.escape(CHAIN_PREFIX)}\d+\.{re.escape(domain)})$", re.IGNORECASE)
    names: set[str] = set()
    for value in _ours("spf", answer.values if answer else ()):
        names |= {m.group(1).lower() for m in map(pattern.match, value.split()) if m}
    return names


# --- comparing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Want:
    """A value wanted in one slot: ``shown`` in the plan; ``accepts`` tells whether a live value is it."""

    shown: str
    purpose: str
    accepts: Callable[[str], bool]
    differs: str = "the live value differs from the stack"


Slot = tuple[str, str, str]  # (name, type, namespace)


def compare(
    stack: str,
    desired: Collection[DesiredDomain],
    observed: Mapping[Question, Answer],
    vendors: Iterable[VendorChange] = (),
) -> Plan:
    """The plan that brings live DNS (``observed``, which must answer every :func:`questions`) to ``desired``."""
    missing = questions(desired, observed) - observed.keys()
    if missing:
        raise ValueError(f"no answer for {', '.join(f'{n} {t}' for n, t in sorted(missing))}")
    written = {d.domain for d in desired if _spf_as_written(d, observed)}
    slots = _wanted_slots(desired, written)
    for domain in desired:
        for index in range(_chain_count(domain) + 1, MAX_CHAINS + 1):
            slots.setdefault((_chain_name(index, domain.domain), "TXT", "spf"), [])
        for name in _referenced_chains(domain.domain, observed):
            slots.setdefault((name, "TXT", "spf"), [])
    changes: list[Change] = []
    for slot, wants in slots.items():
        answer = observed.get(slot[:2])
        changes += _slot_changes(slot, wants, _ours(slot[2], answer.values if answer else ()))
    notes = [_pending_note(p) for d in desired for p in d.pending]
    notes += [_written_note(d) for d in desired if d.domain in written]
    checked = sum(len(d.records) + len(d.pending) for d in desired)
    return Plan(stack, tuple(sorted(changes, key=lambda c: c.sort_key)), tuple(sorted(vendors, key=lambda v: v.term)),
                tuple(sorted(notes)), checked)


def _wanted_slots(desired: Collection[DesiredDomain], written: Collection[str]) -> dict[Slot, list[_Want]]:
    slots: dict[Slot, list[_Want]] = {}
    for domain in desired:
        for r in domain.records:
            if domain.domain in written and r.purpose in ("spf", "spf-chain"):
                continue  # the live record is the stack's own as written: same meaning, chains not needed yet
            slots.setdefault((r.record.name, r.record.type, NAMESPACE[r.purpose]), []).append(_record_want(r, domain))
        for p in domain.pending:
            slots.setdefault((p.name, "TXT", "dkim"), []).append(_pending_want(p))
    return slots


def _record_want(desired: DesiredRecord, domain: DesiredDomain) -> _Want:
    shown = _live_form(desired)
    if desired.purpose == "dmarc":
        return _Want(shown, "dmarc", lambda live: live == shown or _same_dmarc(live, domain.dmarc_policy, shown))
    return _Want(shown, desired.purpose, lambda live: live == shown)


def _same_dmarc(live: str, policy: dmarc.DmarcPolicy, shown: str) -> bool:
    """Compared by tags (RFC 7489 §6.4: order and case of keywords carry no meaning), ``t`` included."""
    try:
        tags = dmarc.parse_dmarc_value(live)
        got = dmarc.policy_from_tags(tags)
    except ValueError:
        return False
    want_t = dmarc.parse_dmarc_value(shown).get("t", "n").lower()
    return got == policy and tags.get("t", "n").lower() == want_t


def _spf_as_written(domain: DesiredDomain, observed: Mapping[Question, Answer]) -> bool:
    """Whether the live SPF record at the domain is the stack's record before flattening, term for term.

    That is what a domain adopted with ``sending-domain init`` publishes until its first deployment: it means
    the same as the flattened set (same senders, same ``all``), as long as receivers can evaluate it
    (RFC 7208 §4.6.4: at most 10 lookups). Its chained records are then not needed yet.
    """
    if not domain.spf_written or domain.spf.original_lookups > MAX_LOOKUPS:
        return False
    answer = observed.get((domain.domain, "TXT"))
    live = _ours("spf", answer.values if answer else ())
    return len(live) == 1 and same_spf_terms(live[0], domain.spf_written)


def same_spf_terms(live: str, written: str) -> bool:
    """Two SPF records with the same terms in the same order (case and an explicit ``+`` aside)."""

    def terms(text: str) -> list[str]:
        return [t[1:] if t.startswith("+") else t for t in text.lower().split()]

    return terms(live) == terms(written)


def _written_note(domain: DesiredDomain) -> str:
    return (f"{domain.domain}: the live SPF record is the stack's record as written ({domain.spf.original_lookups} "
            "lookups), not yet flattened; the next deployment publishes the flattened form, which means the same")


def _live_form(desired: DesiredRecord) -> str:
    """The record as an answer shows it (:class:`~.dnsdata.Answer`): joined TXT, ``"<pref> <host>"`` for MX."""
    record = desired.record
    return f"{record.priority} {record.value}" if record.type == "MX" else record.value


def _pending_want(pending: PendingDkim) -> _Want:
    k = dkim.key_type(pending.algorithm)

    def accepts(live: str) -> bool:
        try:
            parsed = dkim.parse_dkim_value(live)
        except ValueError:
            return False
        return parsed.key_type == k and not parsed.revoked

    shown = f"v=DKIM1; k={k}; p=(the public key, known after deployment)"
    # the key's lifecycle word from the stack (pending, active, retiring), not from its public half being unknown
    return _Want(shown, "dkim", accepts,
                 f"the {pending.state} key's live record has another k=, an empty p= or does not parse (want k={k})")


def _pending_note(pending: PendingDkim) -> str:
    k = dkim.key_type(pending.algorithm)
    return (f"{pending.name}: {pending.state} DKIM key whose public key is known only after deployment; "
            f"checked only that a DKIM record with k={k} and a non-empty p= exists (the deployment's outputs give the key)")


def _slot_changes(slot: Slot, wants: list[_Want], live: list[str]) -> list[Change]:
    """Pair wanted and live values of one slot: equal ones match, the rest become updates, creates, deletes."""
    name, rdtype, namespace = slot
    unmatched_live = list(live)
    unmatched_wants: list[_Want] = []
    for want in wants:
        hit = next((v for v in unmatched_live if want.accepts(v)), None)
        if hit is None:
            unmatched_wants.append(want)
        else:
            unmatched_live.remove(hit)
    changes: list[Change] = []
    for want, before in zip(unmatched_wants, unmatched_live):
        changes.append(Change("update", name, rdtype, before, want.shown, want.differs))
    for want in unmatched_wants[len(unmatched_live):]:
        changes.append(Change("create", name, rdtype, None, want.shown, _MISSING[want.purpose]))
    for before in unmatched_live[len(unmatched_wants):]:
        changes.append(Change("delete", name, rdtype, before, None, _extra(namespace, bool(wants))))
    return changes


def _extra(namespace: str, wanted_here: bool) -> str:
    if wanted_here:
        return _DUPLICATE[namespace]
    return "a chained SPF record past the ones the flattened set needs: nothing includes it any more"


def _ours(namespace: str, values: Iterable[str]) -> list[str]:
    """The live values at a name that belong to ``namespace`` (module docstring), sorted."""
    return sorted(v for v in values if _in_namespace(namespace, v))


def _in_namespace(namespace: str, value: str) -> bool:
    if namespace == "spf":
        return is_spf_record(value)
    if namespace == "dmarc":
        return dmarc.is_dmarc_record(value)
    if namespace == "dkim":
        return bool(_DKIM.match(value)) or _is_versionless_dkim(value)
    return namespace in ("mx", "reports-mx")  # any MX at the MAIL FROM name or the reports name


def _is_versionless_dkim(value: str) -> bool:
    try:
        tags = dkim.parse_tag_list(value)
    except ValueError:
        return False
    return "p" in tags and "v" not in tags


# --- vendors -----------------------------------------------------------------------------------------


def vendor_message(change: VendorChange) -> str:
    """What a vendor's change means for mail, and what to do."""
    fix = f"run `{change.fix}` and review the diff"
    head = f"vendor {change.term}'s live SPF tree no longer matches the lock"
    if "not pinned" in change.detail:  # spf_lock.check_lock: a stack term the lock lacks
        return f"vendor {change.term} {change.detail}, so plans cannot be made offline; {fix}"
    if change.error:  # spf_lock.check_lock: the vendor's include vanished or no longer evaluates
        gone = f" ({', '.join(change.removed)})" if change.removed else ""
        return (f"vendor {change.term} is gone from live DNS or broken: {change.error}. Receivers now return "
                f"permerror for any record that includes it, and the lock still authorizes its old addresses{gone}; "
                f"remove the sender from the stack or replace it with the vendor's new include, then run "
                f"`{change.fix}` (which refuses the stack, like a live flattening, until then)")
    if change.added:
        what = f"the flattened record is stale and mail from its new addresses ({', '.join(change.added)}) would fail SPF"
    elif change.removed:
        what = f"the flattened record still authorizes addresses it no longer uses ({', '.join(change.removed)})"
    elif "same addresses" in change.detail:
        what = "its records changed but it covers the same addresses, so mail is unaffected; refresh the lock anyway"
    else:
        what = f"{change.detail}; the flattened record may be stale and mail from new addresses would fail SPF"
    return f"{head}: {what}; {fix}"


# --- rendering ---------------------------------------------------------------------------------------


def summary(plan: Plan) -> str:
    """One line: what drifted, or that nothing did."""
    if not plan.drifted:
        return f"stack {plan.stack}: no drift ({plan.checked} records checked)"
    parts = [f"{plan.count(a)} to {a}" for a in ACTIONS if plan.count(a)]
    if plan.vendors:
        parts.append(f"{len(plan.vendors)} vendor{'s' if len(plan.vendors) != 1 else ''} changed")
    return f"stack {plan.stack}: drift: {', '.join(parts)} ({plan.checked} records checked)"


def shown_value(rdtype: str, value: str) -> str:
    """A value as a zone file would show it: TXT quoted, MX ``<pref> <host>.``."""
    return quote_txt((value,)) if rdtype == "TXT" else value + "."


def _inert(shown: str) -> str:
    """``shown`` as is when it is all printable, else with control characters (and backslashes) escaped."""
    return shown if shown.isprintable() else printable(shown)


def _diff_lines(change: Change) -> list[str]:
    lines = []
    if change.before is not None:  # a live value: control characters escaped before it reaches a terminal or a PR
        lines.append(f"- {change.name}. {change.type} {_inert(shown_value(change.type, change.before))}")
    if change.after is not None:
        lines.append(f"+ {change.name}. {change.type} {shown_value(change.type, change.after)}")
    return lines


def render_text(plan: Plan) -> str:
    lines = [summary(plan)]
    for change in plan.changes:
        lines.append(f"* {change.action} {change.type} {change.name}: {change.reason}")
        lines += [f"    {line}" for line in _diff_lines(change)]
    lines += [f"* {vendor_message(v)}" for v in plan.vendors]
    lines += [f"; note: {note}" for note in plan.notes]
    lines += [f"; {hint}" for hint in next_steps(plan)]
    return "\n".join(lines) + "\n"


def next_steps(plan: Plan) -> list[str]:
    """What to do about the record changes (vendor messages carry their own)."""
    steps = []
    if plan.count("create") or plan.count("update"):
        steps.append("creates and updates: `pulumi up` restores the records; if a live change was intended, "
                     "put it in the stack file instead")
    if plan.count("delete"):
        steps.append("deletes: records at our names that the stack does not publish; remove them in Cloudflare")
    return steps


def render_json(plan: Plan) -> str:
    data = {
        "stack": plan.stack,
        "drifted": plan.drifted,
        "summary": {**{a: plan.count(a) for a in ACTIONS}, "vendors": len(plan.vendors), "checked": plan.checked},
        "changes": [c.as_json() for c in plan.changes],
        "vendors": [{**v.as_json(), "message": vendor_message(v)} for v in plan.vendors],
        "notes": list(plan.notes),
    }
    return json.dumps(data, indent=2) + "\n"


def render_markdown(plan: Plan) -> str:
    """A PR or issue comment: a heading, a table of changes, vendor changes, the records in a collapsed block."""
    title = f"## DNS drift in stack `{plan.stack}`" if plan.drifted else f"## No DNS drift in stack `{plan.stack}`"
    out = [title, "", summary(plan) + "."]
    if plan.changes:
        out += ["", "| Action | Type | Name | Why |", "| --- | --- | --- | --- |"]
        out += [f"| {c.action} | {c.type} | `{c.name}` | {_cell(c.reason)} |" for c in plan.changes]
    if plan.vendors:
        out += ["", "### Vendors", ""] + [f"- {_cell(vendor_message(v))}" for v in plan.vendors]
    if plan.changes:
        body = [line for c in plan.changes for line in _diff_lines(c)]
        fence = _fence(body)
        out += ["", "<details><summary>Records (live − / wanted +)</summary>", "", fence + "diff", *body, fence, "",
                "</details>"]
    if plan.changes:
        out += ["", "Next steps:", ""] + [f"- {_cell(step)}" for step in next_steps(plan)]
    if plan.notes:
        out += ["", "Notes:", ""] + [f"- {_cell(n)}" for n in plan.notes]
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    """Safe inside a Markdown table cell or list item: no pipes, no line breaks, no raw HTML."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")


def _fence(lines: list[str]) -> str:
    """A code fence longer than any run of backticks in ``lines`` (CommonMark §4.5)."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    return "`" * max(3, longest + 1)
