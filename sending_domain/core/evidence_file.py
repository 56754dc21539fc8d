"""The reviewed DMARC evidence file (``stacks/dmarc-evidence.json``): what ``dmarc status --write`` records and
what the Pulumi program reads before it lets a domain's DMARC take a step towards enforcement.

One document for every stack of the project, like the SPF lock::

    {"version": 1, "kind": "dmarc-evidence",
     "stacks": {"prod": {"example.com": {"verdict": "PASS", "stage": "p=none",
                                         "next_stage": "p=quarantine pct=10", "judged_at": "2026-11-30T06:17:00Z",
                                         ...figures for the reviewer...}}}}

Each domain keeps its latest verdict only: a FAIL written after a PASS withdraws the PASS. The program reads
``verdict``, ``stage`` and ``next_stage``; the other fields (window, reporters, shares, blockers) are there for the
person reviewing the pull request. The file comes from a repository and is untrusted like any input: its size is
capped and every field the program reads is checked, with the path of what is wrong.

Pure: text in, values out, text back. The CLI writes the file (atomically, under a lock); the program reads it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .dmarc import Stage, parse_stage
from .errors import ConfigError, Problem
from .text import printable

EVIDENCE_FILE = "dmarc-evidence.json"  # beside the stack files
KIND = "dmarc-evidence"
VERSION = 1
MAX_BYTES = 4 * 2**20
VERDICTS = ("PASS", "FAIL", "INSUFFICIENT_EVIDENCE")
_WHEN = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")
_STACK = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


@dataclass(frozen=True)
class Judgement:
    """The latest verdict recorded for one domain: judged at ``stage``, for the step to ``next_stage``."""

    verdict: str
    stage: str
    next_stage: str | None
    judged_at: str

    @property
    def passed(self) -> tuple[Stage, Stage] | None:
        """The step this judgement admits (``(stage, next stage)``), or None unless it is a PASS."""
        if self.verdict != "PASS" or self.next_stage is None:
            return None
        return parse_stage(self.stage), parse_stage(self.next_stage)

    def as_input(self) -> dict[str, str | None]:
        """What the program hands the DMARC stage resource (and keeps in the state when it admits a step)."""
        return {"verdict": self.verdict, "stage": self.stage, "next_stage": self.next_stage, "judged_at": self.judged_at}


Document = dict[str, Any]


def empty_document() -> Document:
    return {"version": VERSION, "kind": KIND, "stacks": {}}


def parse_evidence(text: str, *, source: str) -> Document:
    """The document in ``text``, checked; one :class:`ConfigError` naming every problem otherwise."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise ConfigError(Problem("", "evidence-size", f"is over {MAX_BYTES // 2**20} MiB; an evidence file is a few KB per domain"), source=source)
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ConfigError(Problem("", "evidence-json", f"is not JSON: {e}"), source=source) from None
    problems = _document_problems(doc)
    if problems:
        raise ConfigError(problems, source=source)
    return doc


def judgements(doc: Document, stack: str) -> dict[str, Judgement]:
    """The judgement recorded for each domain of ``stack`` (a checked document)."""
    entries = doc["stacks"].get(stack, {})
    return {domain: Judgement(e["verdict"], e["stage"], e.get("next_stage"), e["judged_at"]) for domain, e in entries.items()}


def with_entries(doc: Document, stack: str, entries: Mapping[str, Mapping[str, Any]]) -> Document:
    """``doc`` with ``entries`` (domain → entry) replacing those domains' entries under ``stack``; the rest kept."""
    stacks = dict(doc["stacks"])
    stacks[stack] = {**stacks.get(stack, {}), **entries}
    return {"version": VERSION, "kind": KIND, "stacks": stacks}


def render_evidence(doc: Document) -> str:
    """The file's text: sorted keys and two-space indentation, so a pull request shows only what changed."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- checking ---------------------------------------------------------------------------------------


def _document_problems(doc: object) -> list[Problem]:
    if not isinstance(doc, dict):
        return [Problem("", "evidence-shape", "must be a JSON object with version, kind and stacks")]
    problems: list[Problem] = []
    if doc.get("version") != VERSION:
        problems.append(Problem("version", "evidence-version", f"must be {VERSION}; this file was written by another version"))
    if doc.get("kind") != KIND:
        problems.append(Problem("kind", "evidence-kind", f"must be {KIND!r}"))
    stacks = doc.get("stacks")
    if not isinstance(stacks, dict):
        return [*problems, Problem("stacks", "evidence-shape", "must be an object of stack name → domains")]
    for stack, domains in stacks.items():
        if not _STACK.match(stack):
            problems.append(Problem(f"stacks.{printable(stack[:100])!r}", "evidence-stack", "is not a stack name"))
        elif not isinstance(domains, dict):
            problems.append(Problem(f"stacks.{stack}", "evidence-shape", "must be an object of domain → entry"))
        else:
            for domain, entry in domains.items():
                problems += _entry_problems(f"stacks.{stack}.{printable(domain[:253])}", entry)
    return problems


def _entry_problems(path: str, entry: object) -> list[Problem]:
    if not isinstance(entry, dict):
        return [Problem(path, "evidence-shape", "must be an object with verdict, stage, next_stage and judged_at")]
    problems: list[Problem] = []
    if entry.get("verdict") not in VERDICTS:
        problems.append(Problem(f"{path}.verdict", "evidence-verdict", f"must be one of {', '.join(VERDICTS)}"))
    for key, optional in (("stage", False), ("next_stage", True)):
        value = entry.get(key)
        if value is None and optional:
            continue
        if not isinstance(value, str) or not _is_stage(value):
            problems.append(Problem(f"{path}.{key}", "evidence-stage", "must be a DMARC stage such as 'p=quarantine pct=25'"))
    when = entry.get("judged_at")
    if not isinstance(when, str) or not _WHEN.match(when):
        problems.append(Problem(f"{path}.judged_at", "evidence-time", "must be a UTC time such as 2026-11-30T06:17:00Z"))
    return problems


def _is_stage(text: str) -> bool:
    try:
        parse_stage(text)
    except ValueError:
        return False
    return True
