"""The verify report as text (one table per domain) and as a JSON document (pure; the CLI prints)."""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from sending_domain.core.checks import DomainReport, exit_code

if TYPE_CHECKING:  # the report is pure: it only reads the run's values
    from sending_domain.verify.runner import VerifyRun

DETAIL_WIDTH = 88  # without a terminal width to fit
MIN_DETAIL_WIDTH = 30
Paint = Callable[[str, str], str]  # (text, status) → text, coloured or not
JSON_VERSION = 1


def render_json(run: VerifyRun) -> dict:
    """Everything the text shows, for machines. ``status``: pass | warn | error | fail."""
    return {
        "version": JSON_VERSION,
        "kind": "verify",
        "exit_code": exit_code(run.reports),
        "summary": dict(Counter(r.status for r in run.reports)),
        "attempts": run.attempts,
        "dns_queries": run.queries,
        "elapsed_seconds": round(run.elapsed, 3),
        "domains": [r.as_json() for r in run.reports],
    }


def render_text(run: VerifyRun, *, columns: int | None = None, paint: Paint | None = None) -> str:
    """One table per domain and a summary line; with ``columns``, details and hints wrap to fit (nothing is cut:
    the detail is the reason); ``paint(text, status)`` colours the status words."""
    blocks = [domain_table(r, columns=columns, paint=paint) for r in run.reports]
    counts = Counter(r.status for r in run.reports)
    summary = ", ".join(f"{counts[s]} {s}" for s in ("pass", "warn", "error", "fail") if counts[s])
    attempts = f"{run.attempts} attempt" + ("s" if run.attempts != 1 else "")
    line = f"{len(run.reports)} domain(s): {summary or 'none'}; {run.queries} DNS queries, {attempts}, {run.elapsed:.2f} s"
    blocks.append("\n".join(textwrap.wrap(line, columns)) if columns else line)
    return "\n\n".join(blocks)


def domain_table(report: DomainReport, *, columns: int | None = None, paint: Paint | None = None) -> str:
    colour = paint or (lambda text, _status: text)
    width = max([len("CHECK"), *(len(c.name) for c in report.checks)])
    indent = " " * (2 + width + 2 + 8)
    detail_width = max(MIN_DETAIL_WIDTH, columns - len(indent)) if columns else DETAIL_WIDTH
    lines = [f"{report.domain}: {colour(report.status.upper(), report.status)}", f"  {'CHECK':<{width}}  STATUS  DETAIL"]
    for check in report.checks:
        detail = textwrap.wrap(check.detail, detail_width) or [""]
        lines.append(f"  {check.name:<{width}}  {colour(f'{check.status:<6}', check.status)}  {detail[0]}")
        lines += [indent + more for more in detail[1:]]
        if check.hint and check.status != "pass":
            hint = textwrap.wrap("hint: " + check.hint, detail_width)
            lines += [indent + h for h in hint]
    return "\n".join(lines)
