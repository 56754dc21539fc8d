"""``dmarc status`` as text, Markdown, JSON, and one self-contained HTML page with an inline SVG chart.

Every value that came from a report (domains in reasons, reporter names) is escaped with
:func:`~.text.printable` before it reaches a terminal, and HTML-escaped on the page. The JSON document
(``kind: dmarc-status``) holds everything the other forms show; it is what a reviewed evidence file records.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Sequence

from sending_domain.core.dmarc_gate import DAY, TOP_UNKNOWN, DomainStatus, SenderFigures, percent
from sending_domain.core.text import printable

STATUS_VERSION = 1
_COLOURS = ("#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#ff7f0e")


def _time(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _date(day: int) -> str:
    return dt.datetime.fromtimestamp(day * DAY, dt.timezone.utc).strftime("%Y-%m-%d")


def _share(value: float | None) -> str:
    return "—" if value is None else percent(value)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# --- JSON -----------------------------------------------------------------------------------------------------


def status_document(stack: str, statuses: Sequence[DomainStatus]) -> dict:
    return {"version": STATUS_VERSION, "kind": "dmarc-status", "stack": stack,
            "generated_at": _time(statuses[0].now) if statuses else None,
            "domains": [_domain_json(s) for s in statuses]}


def _domain_json(s: DomainStatus) -> dict:
    f, sel, v = s.figures, s.selection, s.verdict
    return {
        "domain": s.domain,
        "stage": v.stage,
        "next_stage": v.next_stage,
        "verdict": v.status,
        "blockers": [{"code": b.code, "message": printable(b.message), "sender": b.sender or None} for b in v.blockers],
        "window_days": v.window_days,
        "counted": {"days": s.days, "since": _time(sel.since), "until": _time(s.now), "reports": len(sel.ids),
                    "reporters": [printable(r) for r in sel.reporters], "first": _time(sel.first), "last": _time(sel.last),
                    "stage_seen": _time(sel.stage_seen), "other_policy_reports": sel.other_policy,
                    "settling_reports": sel.settling},
        "messages": {"total": f.messages, "known": f.known, "aligned": f.aligned, "dkim_aligned": f.dkim_aligned,
                     "forwarded": f.forwarded, "unknown": f.unknown},
        "aligned_share": _round(f.aligned_share),
        "dkim_aligned_share": _round(f.dkim_share),
        "senders": [_sender_json(x) for x in f.senders],
        "unknown_sources": [{"source_ip": u.source_ip, "messages": u.messages, "share": _round(u.share),
                             "reason": u.reason} for u in f.unknown_sources[:TOP_UNKNOWN]],
        "days": [{"date": _date(d.day), "sender": printable(d.series) or None, "messages": d.messages,
                  "aligned": d.aligned} for d in f.days],
        "warnings": [printable(w) for w in s.warnings],
    }


def _sender_json(x: SenderFigures) -> dict:
    return {"name": x.name, "messages": x.messages, "aligned": x.aligned, "dkim_aligned": x.dkim_aligned,
            "forwarded": x.forwarded, "aligned_share": _round(x.aligned_share), "dkim_aligned_share": _round(x.dkim_share),
            "unaligned_reasons": [{"reason": printable(r), "messages": n} for r, n in x.reasons]}


def evidence_entry(s: DomainStatus) -> dict:
    """The domain's entry of the reviewed evidence file (:mod:`.evidence_file`): the verdict the program reads,
    and the figures behind it for the person reviewing the pull request."""
    doc = _domain_json(s)
    entry = {key: doc[key] for key in ("verdict", "stage", "next_stage", "window_days", "aligned_share", "dkim_aligned_share")}
    entry["judged_at"] = _time(s.now)
    entry["counted"] = {key: doc["counted"][key] for key in ("reports", "reporters", "first", "last")}
    entry["messages"] = doc["messages"]
    entry["blockers"] = [b["message"] for b in doc["blockers"]]
    return entry


def render_json(stack: str, statuses: Sequence[DomainStatus]) -> str:
    return json.dumps(status_document(stack, statuses), indent=2) + "\n"


# --- text -----------------------------------------------------------------------------------------------------


def _headline(s: DomainStatus) -> str:
    v = s.verdict
    step = f"{v.stage} → {v.next_stage}" if v.next_stage else f"{v.stage} (top of the ladder)"
    return f"{s.domain}: {step}: {v.status}"


def _counted(s: DomainStatus) -> str:
    sel = s.selection
    span = f"{_time(sel.first)} .. {_time(sel.last)}" if sel.first is not None else "none"
    extra = []
    if sel.other_policy:
        extra.append(f"{sel.other_policy} of another policy")
    if sel.settling:
        extra.append(f"{sel.settling} too soon after the stage appeared")
    left_out = f"; not counted: {', '.join(extra)}" if extra else ""
    return (f"{len(sel.ids)} reports from {len(sel.reporters)} reporters ({', '.join(printable(r) for r in sel.reporters) or '-'}), "
            f"{span}, last {s.days} days{left_out}")


def _messages(s: DomainStatus) -> str:
    f = s.figures
    return (f"{f.messages} messages: known senders {f.known} (aligned {_share(f.aligned_share)}, DKIM-aligned "
            f"{_share(f.dkim_share)}), forwarded {f.forwarded}, unknown {f.unknown}")


def render_text(stack: str, statuses: Sequence[DomainStatus]) -> str:
    lines: list[str] = []
    for s in statuses:
        lines += [_headline(s), f"  {_counted(s)}", f"  {_messages(s)}"]
        width = max([len(x.name) for x in s.figures.senders] + [6])
        lines.append(f"  {'sender':<{width}}  {'messages':>9}  {'aligned':>8}  {'DKIM':>8}  {'forwarded':>9}")
        for x in s.figures.senders:
            lines.append(f"  {printable(x.name):<{width}}  {x.messages:>9}  {_share(x.aligned_share):>8}  "
                         f"{_share(x.dkim_share):>8}  {x.forwarded:>9}")
            for reason, count in x.reasons[:3]:
                lines.append(f"  {'':<{width}}    unaligned: {printable(reason)} ({count})")
        if s.figures.unknown_sources:
            lines.append("  top unknown sources:")
            for u in s.figures.unknown_sources[:TOP_UNKNOWN]:
                lines.append(f"    {u.source_ip:<39} {u.messages:>9} ({percent(u.share)})  {printable(u.reason)}")
        for w in s.warnings:
            lines.append(f"  warning: {printable(w)}")
        if s.verdict.blockers:
            lines.append("  blockers:")
            lines += [f"    - [{b.code}] {printable(b.message)}" for b in s.verdict.blockers]
        lines.append("")
    return "\n".join(lines)


# --- Markdown -------------------------------------------------------------------------------------------------


def _md(text: str) -> str:
    return printable(text).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def render_markdown(stack: str, statuses: Sequence[DomainStatus]) -> str:
    lines = [f"## DMARC evidence — stack `{_md(stack)}`", ""]
    for s in statuses:
        lines += [f"### {_md(_headline(s))}", "", f"- {_md(_counted(s))}", f"- {_md(_messages(s))}", ""]
        lines += ["| sender | messages | aligned | DKIM-aligned | forwarded | why not aligned |", "| --- | ---: | ---: | ---: | ---: | --- |"]
        for x in s.figures.senders:
            why = "; ".join(f"{r} ({n})" for r, n in x.reasons[:3])
            lines.append(f"| {_md(x.name)} | {x.messages} | {_share(x.aligned_share)} | {_share(x.dkim_share)} | "
                         f"{x.forwarded} | {_md(why)} |")
        if s.figures.unknown_sources:
            lines += ["", "| unknown source | messages | share | |", "| --- | ---: | ---: | --- |"]
            lines += [f"| {u.source_ip} | {u.messages} | {percent(u.share)} | {_md(u.reason)} |"
                      for u in s.figures.unknown_sources[:TOP_UNKNOWN]]
        if s.verdict.blockers:
            lines += ["", "**Blockers**", ""] + [f"- `{b.code}` {_md(b.message)}" for b in s.verdict.blockers]
        lines += [f"- warning: {_md(w)}" for w in s.warnings]
        lines.append("")
    return "\n".join(lines)


# --- HTML -----------------------------------------------------------------------------------------------------

_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}
td:first-child,th:first-child{text-align:left}.PASS{color:#1a7f37}.FAIL{color:#cf222e}
.INSUFFICIENT_EVIDENCE{color:#9a6700}svg text{font-size:11px;font-family:system-ui,sans-serif}"""


def _e(text: object) -> str:
    return html.escape(printable(str(text)))


def render_html(stack: str, statuses: Sequence[DomainStatus]) -> str:
    """One page, no external resource: styles inline, one SVG chart per domain."""
    body = [f"<h1>DMARC evidence — stack {_e(stack)}</h1>"]
    for s in statuses:
        v = s.verdict
        body.append(f'<h2>{_e(s.domain)}: <span class="{_e(v.status)}">{_e(v.status)}</span></h2>')
        step = f"{v.stage} → {v.next_stage}" if v.next_stage else f"{v.stage} (top of the ladder)"
        body.append(f"<p>{_e(step)}<br>{_e(_counted(s))}<br>{_e(_messages(s))}</p>")
        body.append(_chart(s))
        rows = "".join(
            f"<tr><td>{_e(x.name)}</td><td>{x.messages}</td><td>{_e(_share(x.aligned_share))}</td>"
            f"<td>{_e(_share(x.dkim_share))}</td><td>{x.forwarded}</td>"
            f"<td>{_e('; '.join(f'{r} ({n})' for r, n in x.reasons[:3]))}</td></tr>"
            for x in s.figures.senders)
        body.append("<table><tr><th>sender</th><th>messages</th><th>aligned</th><th>DKIM-aligned</th><th>forwarded</th>"
                    f"<th>why not aligned</th></tr>{rows}</table>")
        if s.figures.unknown_sources:
            rows = "".join(f"<tr><td>{_e(u.source_ip)}</td><td>{u.messages}</td><td>{_e(percent(u.share))}</td><td>{_e(u.reason)}</td></tr>"
                           for u in s.figures.unknown_sources[:TOP_UNKNOWN])
            body.append(f"<table><tr><th>unknown source</th><th>messages</th><th>share</th><th></th></tr>{rows}</table>")
        if v.blockers:
            body.append("<ul>" + "".join(f"<li><code>{_e(b.code)}</code> {_e(b.message)}</li>" for b in v.blockers) + "</ul>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>DMARC evidence — {_e(stack)}</title>'
            f"<style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def _chart(s: DomainStatus, width: int = 720, height: int = 260) -> str:
    """Aligned share per day: one line for all known senders together, one per sender."""
    days = sorted({d.day for d in s.figures.days})
    if not days:
        return "<p>No reports counted yet.</p>"
    left, right, top, bottom = 40, 160, 10, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    span = max(1, days[-1] - days[0])

    def x(day: int) -> float:
        return left + plot_w * (day - days[0]) / span

    def y(share: float) -> float:
        return top + plot_h * (1 - share / 100)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="aligned share per day">']
    for share in (0, 50, 90, 100):
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(share):.1f}" y2="{y(share):.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 4}" y="{y(share) + 4:.1f}" text-anchor="end">{share}%</text>')
    parts.append(f'<text x="{left}" y="{height - 8}">{_date(days[0])}</text>'
                 f'<text x="{left + plot_w}" y="{height - 8}" text-anchor="end">{_date(days[-1])}</text>')
    series = [""] + [x_.name for x_ in s.figures.senders if x_.messages]
    for index, name in enumerate(series):
        points = [(d.day, 100.0 * d.aligned / d.messages) for d in s.figures.days if d.series == name and d.messages]
        if not points:
            continue
        colour = "#000" if not name else _COLOURS[(index - 1) % len(_COLOURS)]
        path = " ".join(f"{x(day):.1f},{y(share):.1f}" for day, share in points)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="{3 if not name else 1.5}" points="{path}"/>')
        parts += [f'<circle cx="{x(day):.1f}" cy="{y(share):.1f}" r="2" fill="{colour}"/>' for day, share in points]
        label = "all known senders" if not name else name
        parts.append(f'<text x="{left + plot_w + 8}" y="{top + 14 * (index + 1)}" fill="{colour}">{_e(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
