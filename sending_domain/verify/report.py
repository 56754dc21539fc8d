"""The verify report as text (one table per domain) and as a JSON document (pure; the CLI prints)."""

from __future__ import annotations

import textwrap
from collections import Counter
from typing import TYPE_CHECKING

from sending_domain.core.checks import DomainReport, exit_code

if TYPE_CHECKING:  # the report is pure: it only reads the run's values
    from sending_domain.verify.runner import VerifyRun

DETAIL_WIDTH = 88
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


def render_text(run: VerifyRun) -> str:
    blocks = [domain_table(r) for r in run.reports]
    counts = Counter(r.status for r in run.reports)
    summary = ", ".join(f"{counts[s]} {s}" for s in ("pass", "warn", "error", "fail") if counts[s])
    attempts = f"{run.attempts} attempt" + ("s" if run.attempts != 1 else "")
    blocks.append(f"{len(run.reports)} domain(s): {summary or 'none'}; {run.queries} DNS queries, {attempts}, {run.elapsed:.2f} s")
    return "\n\n".join(blocks)


def domain_table(report: DomainReport) -> str:
    width = max([len("CHECK"), *(len(c.name) for c in report.checks)])
    lines = [f"{report.domain}: {report.status.upper()}", f"  {'CHECK':<{width}}  STATUS  DETAIL"]
    indent = " " * (2 + width + 2 + 8)
    for check in report.checks:
        detail = textwrap.wrap(check.detail, DETAIL_WIDTH) or [""]
        lines.append(f"  {check.name:<{width}}  {check.status:<6}  {detail[0]}")
        lines += [indent + more for more in detail[1:]]
        if check.hint and check.status != "pass":
            hint = textwrap.wrap("hint: " + check.hint, DETAIL_WIDTH)
            lines += [indent + h for h in hint]
    return "\n".join(lines)
