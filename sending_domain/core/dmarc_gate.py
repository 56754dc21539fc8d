"""The verdict for a domain's next DMARC stage, from the evidence of its aggregate reports.

:func:`choose_reports` picks the reports that count: those whose published policy is the stage the stack deploys
now, that begin ``settleHours`` after that stage first shows in reports (reporters cache policies), and that reach
into the last ``days`` days. :func:`judge` classifies their rows (:mod:`~.dmarc_evidence`), sums them per sender,
source and day, and decides:

- **INSUFFICIENT_EVIDENCE** when the reports cover fewer days of the stage than the window (14 before leaving
  ``none`` and for each quarantine step, 30 before ``reject``; one day of reporting delay is allowed), come from
  fewer reporters than ``minReporters``, or count fewer messages than ``minMessages``;
- **FAIL** with its blockers when known senders' mail is aligned less than ``minAligned`` percent overall or for any
  one known sender (a small failing sender is never averaged away), when one unknown source sends more than
  ``maxUnknownShare`` percent of all mail, or — before ``reject`` — when DKIM alignment is under
  ``minDkimAligned`` overall or any sender relies on SPF alone (RFC 9989 §7.4);
- **PASS** otherwise. A FAIL outranks missing evidence: a failing sender is worth knowing about at once.

Forwarded mail is counted apart and never blocks; unknown mail does not lower the aligned share (a spoofer must not
keep a domain from enforcing), only a large unknown source blocks.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sending_domain.core.dmarc import DEFAULT_LADDER, Stage, next_stage
from sending_domain.core.dmarc_evidence import NOT_A_SENDER, Classified, Inventory, Tally, build_inventory, classify
from sending_domain.core.settings import DmarcGateSettings, DomainSettings
from sending_domain.core.spf.lock import SpfLock

DAY = 86400
HOUR = 3600
TOP_UNKNOWN = 10
PASS, FAIL, INSUFFICIENT = "PASS", "FAIL", "INSUFFICIENT_EVIDENCE"


@dataclass(frozen=True)
class ReportHead:
    """A stored report without its rows."""

    id: int
    reporter: str
    begin: int
    end: int
    p: str
    pct: int | None
    testing: str | None
    bucket: int = 0  # reports with the same domain, period and policy share one (the store's tallies)


@dataclass(frozen=True)
class Selection:
    """The reports that count, and why the others do not."""

    ids: tuple[int, ...]
    reporters: tuple[str, ...]
    first: int | None  # begin of the earliest report counted
    last: int | None  # end of the latest
    stage_seen: int | None  # begin of the first report showing the deployed stage (after any other policy)
    other_policy: int  # reports in the window that show another policy (or this one, before the last other)
    settling: int  # reports of the stage that begin too soon after it appeared
    since: int  # the window's start


def policy_matches(head: ReportHead, stage: Stage) -> bool:
    """The reporter found the policy the stack deploys: same ``p``; same ``pct`` when reported (RFC 7489);
    test mode (RFC 9990 ``testing``) exactly when the stage is partial (the stack then publishes ``t=y``)."""
    if head.p != stage.p:
        return False
    if head.pct is not None and head.pct != stage.pct:
        return False
    partial = stage.p != "none" and stage.pct < 100
    return head.testing is None or (head.testing == "y") == partial


def choose_reports(heads: Sequence[ReportHead], stage: Stage, gate: DmarcGateSettings, *, now: int, days: int) -> Selection:
    """The reports of the deployed stage, settled, overlapping the last ``days`` days before ``now``."""
    since = now - days * DAY
    other_end = max((h.end for h in heads if not policy_matches(h, stage)), default=None)
    same = [h for h in heads if policy_matches(h, stage) and (other_end is None or h.begin >= other_end)]
    stage_seen = min((h.begin for h in same), default=None)
    settled_from = (stage_seen or 0) + gate.settle_hours * HOUR
    in_window = [h for h in heads if h.end > since and h.begin < now]
    chosen = [h for h in same if h.end > since and h.begin < now and h.begin >= settled_from]
    return Selection(
        ids=tuple(h.id for h in chosen),
        reporters=tuple(sorted({h.reporter for h in chosen})),
        first=min((h.begin for h in chosen), default=None),
        last=max((h.end for h in chosen), default=None),
        stage_seen=stage_seen,
        other_policy=sum(1 for h in in_window if not policy_matches(h, stage) or (other_end is not None and h.begin < other_end)),
        settling=sum(1 for h in same if h.end > since and h.begin < now and h.begin < settled_from),
        since=since,
    )


def window_days(stage: Stage, gate: DmarcGateSettings) -> int:
    """The days of evidence the step after ``stage`` needs."""
    upcoming = next_stage(stage, DEFAULT_LADDER)
    return gate.window_days_before_reject if (upcoming or stage).p == "reject" else gate.window_days


# --- the figures ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SenderFigures:
    name: str
    messages: int  # from its networks (or signed with its selectors), forwarded excluded
    aligned: int
    dkim_aligned: int
    forwarded: int
    reasons: tuple[tuple[str, int], ...]  # why the unaligned messages were not aligned, largest first

    @property
    def aligned_share(self) -> float | None:
        return 100.0 * self.aligned / self.messages if self.messages else None

    @property
    def dkim_share(self) -> float | None:
        return 100.0 * self.dkim_aligned / self.messages if self.messages else None


@dataclass(frozen=True)
class SourceFigures:
    source_ip: str
    messages: int
    share: float  # percent of all messages
    reason: str


@dataclass(frozen=True)
class DayFigures:
    day: int  # days since 1970 (UTC)
    series: str  # "" for every known sender together, else a sender's name
    messages: int
    aligned: int


@dataclass(frozen=True)
class Figures:
    messages: int  # every message the counted reports describe
    known: int  # from known senders (aligned or not)
    aligned: int
    dkim_aligned: int
    forwarded: int
    unknown: int
    senders: tuple[SenderFigures, ...]  # in the stack's order; a sender without mail too
    unknown_sources: tuple[SourceFigures, ...]  # every unknown source, largest first
    days: tuple[DayFigures, ...]

    @property
    def aligned_share(self) -> float | None:
        return 100.0 * self.aligned / self.known if self.known else None

    @property
    def dkim_share(self) -> float | None:
        return 100.0 * self.dkim_aligned / self.known if self.known else None


def figures(inventory: Inventory, tallies: Iterable[Tally]) -> Figures:
    """Classify every tally (each source and facts once) and sum it per sender, unknown source and day."""
    names = [s.name for s in inventory.senders]
    per: dict[str, list[int]] = {name: [0, 0, 0, 0] for name in names}  # messages, aligned, dkim, forwarded
    reasons: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    unknown: dict[str, list] = {}
    days: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    memo: dict[tuple[str, int], Classified] = {}
    total = forwarded = unknown_total = 0
    for day, source_ip, facts_id, facts, count in tallies:
        total += count
        c = memo.get((source_ip, facts_id))
        if c is None:
            c = memo[(source_ip, facts_id)] = classify(inventory, source_ip, facts)
        if c.category == "unknown":
            unknown_total += count
            entry = unknown.setdefault(source_ip, [0, c.reason])
            entry[0] += count
            continue
        figures_of = per.setdefault(c.sender, [0, 0, 0, 0]) if c.sender else None
        if c.category == "forwarded":
            forwarded += count
            if figures_of is not None:
                figures_of[3] += count
            continue
        assert figures_of is not None
        aligned = count if c.category == "aligned" else 0
        figures_of[0] += count
        figures_of[1] += aligned
        figures_of[2] += aligned if facts.dkim_aligned else 0
        if c.category == "unaligned":
            reasons[c.sender][c.reason] += count
        for series in ("", c.sender):
            tally = days[(day, series)]
            tally[0] += count
            tally[1] += aligned
    senders = tuple(
        SenderFigures(name, m, a, d, f, tuple(sorted(reasons[name].items(), key=lambda kv: (-kv[1], kv[0]))))
        for name, (m, a, d, f) in per.items()
    )
    sources = tuple(sorted(
        (SourceFigures(ip, n, 100.0 * n / total if total else 0.0, reason) for ip, (n, reason) in unknown.items()),
        key=lambda s: (-s.messages, s.source_ip),
    ))
    known = sum(s.messages for s in senders)
    return Figures(
        messages=total, known=known, aligned=sum(s.aligned for s in senders),
        dkim_aligned=sum(s.dkim_aligned for s in senders), forwarded=forwarded, unknown=unknown_total,
        senders=senders, unknown_sources=sources,
        days=tuple(DayFigures(day, series, m, a) for (day, series), (m, a) in sorted(days.items())),
    )


# --- the verdict ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Blocker:
    code: str  # window | reporters | volume | aligned | sender-aligned | unknown-source | dkim-aligned | spf-only
    message: str
    sender: str = ""


@dataclass(frozen=True)
class Verdict:
    status: str  # PASS | FAIL | INSUFFICIENT_EVIDENCE
    stage: str  # the deployed stage, as published (p=quarantine pct=25)
    next_stage: str | None  # None at the top of the ladder
    window_days: int
    blockers: tuple[Blocker, ...]


INSUFFICIENCY = ("window", "reporters", "volume")


def judge(stage: Stage, gate: DmarcGateSettings, selection: Selection, figs: Figures) -> Verdict:
    """The verdict for the step after ``stage`` (module docstring)."""
    upcoming = next_stage(stage, DEFAULT_LADDER)
    target = upcoming or stage
    days = window_days(stage, gate)
    blockers = _evidence_blockers(gate, selection, figs, days, target) + _alignment_blockers(gate, figs)
    if target.p == "reject":
        blockers += _dkim_blockers(gate, figs)
    failing = [b for b in blockers if b.code not in INSUFFICIENCY]
    status = FAIL if failing else INSUFFICIENT if blockers else PASS
    return Verdict(status, str(stage), str(upcoming) if upcoming else None, days, tuple(blockers))


def _evidence_blockers(gate: DmarcGateSettings, selection: Selection, figs: Figures, days: int, target: Stage) -> list[Blocker]:
    out: list[Blocker] = []
    covered = (selection.last - selection.first) / DAY if selection.first is not None and selection.last is not None else 0.0
    if covered < days - 1:  # one day for reports still on their way
        out.append(Blocker("window", f"the counted reports cover {covered:.1f} days of the deployed stage; "
                                     f"{days} are needed before {target}"))
    if len(selection.reporters) < gate.min_reporters:
        out.append(Blocker("reporters", f"{len(selection.reporters)} reporter(s); at least {gate.min_reporters} needed"))
    if figs.messages < gate.min_messages:
        out.append(Blocker("volume", f"{figs.messages} messages reported; at least {gate.min_messages} needed"))
    return out


def _alignment_blockers(gate: DmarcGateSettings, figs: Figures) -> list[Blocker]:
    out: list[Blocker] = []
    share = figs.aligned_share
    if share is not None and share < gate.min_aligned:
        out.append(Blocker("aligned", f"{percent(share)} of the known senders' mail is aligned; at least {percent(gate.min_aligned)} needed"))
    for sender in figs.senders:
        s = sender.aligned_share
        if s is not None and s < gate.min_aligned:
            why = "; ".join(f"{reason} ({count})" for reason, count in sender.reasons[:3])
            out.append(Blocker("sender-aligned", f"{sender.name}: {percent(s)} of {sender.messages} messages aligned, "
                                                 f"at least {percent(gate.min_aligned)} needed — {why}", sender.name))
    for source in figs.unknown_sources:
        if source.share > gate.max_unknown_share:
            why = "" if source.reason == NOT_A_SENDER else f" ({source.reason})"
            out.append(Blocker("unknown-source", f"{source.source_ip} sent {source.messages} messages ({percent(source.share)} "
                                                 f"of all mail) and is no sender of the stack{why}: list it in the "
                                                 "senders if it sends for you, else someone is spoofing the domain"))
    return out


def _dkim_blockers(gate: DmarcGateSettings, figs: Figures) -> list[Blocker]:
    """RFC 9989 §7.4: a domain at p=reject must not rely on SPF alone."""
    out: list[Blocker] = []
    share = figs.dkim_share
    if share is not None and share < gate.min_dkim_aligned:
        out.append(Blocker("dkim-aligned", f"{percent(share)} of the known senders' mail is DKIM-aligned; at least "
                                           f"{percent(gate.min_dkim_aligned)} needed before reject (RFC 9989 §7.4)"))
    for sender in figs.senders:
        s = sender.dkim_share
        if s is not None and s < gate.min_dkim_aligned:
            out.append(Blocker("spf-only", f"{sender.name}: {percent(s)} of its mail is DKIM-aligned; the rest relies on "
                                           "SPF alone, which forwarding breaks — sign it with DKIM before reject "
                                           "(RFC 9989 §7.4)", sender.name))
    return out


def percent(value: float) -> str:
    """A share as people read it, never rounded up past a threshold (97.96 is 97.9 %, not 98.0 %)."""
    return f"{int(value)} %" if value == int(value) else f"{math.floor(value * 10) / 10:.1f} %"


# --- one domain -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DomainStatus:
    """Everything ``dmarc status`` says about one domain; its JSON form is what a reviewed evidence file records."""

    domain: str
    days: int  # the window counted, in days before ``now``
    now: int
    selection: Selection
    figures: Figures
    verdict: Verdict
    warnings: tuple[str, ...]  # the inventory's (a sender not pinned in the lock...)


def domain_status(settings: DomainSettings, lock: SpfLock | None, heads: Sequence[ReportHead],
                  tallies_of: Callable[[Sequence[int]], Iterable[Tally]], *, now: int, days: int | None = None) -> DomainStatus:
    """Judge one domain: ``heads`` are its stored reports, ``tallies_of(ids)`` gives the rows of the chosen ones."""
    gate = settings.dmarc.gate
    stage = Stage(settings.dmarc.p, settings.dmarc.pct)
    window = days if days is not None else window_days(stage, gate)
    selection = choose_reports(heads, stage, gate, now=now, days=window)
    inventory = build_inventory(settings, lock, dict(gate.selectors))
    figs = figures(inventory, tallies_of(selection.ids))
    return DomainStatus(settings.domain, window, now, selection, figs, judge(stage, gate, selection, figs),
                        inventory.warnings)
