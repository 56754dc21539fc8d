"""Check results as values: what ``verify`` found, one line per check, and what a person can do about it.

Pure: no I/O. A check compares what the stack wants with what was observed and returns a
:class:`CheckResult`. Statuses, from good to bad:

- ``pass``  — as wanted;
- ``warn``  — works, but worth a look (counts as a pass for the exit code);
- ``error`` — could not be checked for now (DNS timeout/SERVFAIL, SES throttling): retry later;
- ``fail``  — wrong: fix it.

Exit codes (see :mod:`sending_domain.core.errors`): any ``fail`` → 1; else any ``error`` → 3; else 0.
A definite failure outranks a transient one: CI should fix the first before retrying for the second.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

Status = Literal["pass", "warn", "error", "fail"]
STATUSES: tuple[str, ...] = ("pass", "warn", "error", "fail")
_RANK = {s: i for i, s in enumerate(STATUSES)}
EXIT_OK, EXIT_FAILED, EXIT_TRANSIENT = 0, 1, 3


@dataclass(frozen=True)
class CheckResult:
    """One check: a stable ``name`` (``spf.record``, ``dkim.s2026a``…), its status, what was seen, what to do.

    ``hint`` is empty on ``pass``; on anything else it says what a person can act on.
    """

    name: str
    status: Status
    detail: str
    hint: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown check status {self.status!r}")

    @property
    def ok(self) -> bool:
        return self.status in ("pass", "warn")

    def as_json(self) -> dict:
        return {"name": self.name, "status": self.status, "detail": self.detail, "hint": self.hint}


def passed(name: str, detail: str) -> CheckResult:
    return CheckResult(name, "pass", detail)


def warned(name: str, detail: str, hint: str) -> CheckResult:
    return CheckResult(name, "warn", detail, hint)


def failed(name: str, detail: str, hint: str) -> CheckResult:
    return CheckResult(name, "fail", detail, hint)


def errored(name: str, detail: str, hint: str = "a transient failure; retry later, or use --wait") -> CheckResult:
    return CheckResult(name, "error", detail, hint)


def worst(statuses: Iterable[str]) -> Status:
    """The worst of ``statuses`` (``pass`` for none)."""
    return max(statuses, key=_RANK.__getitem__, default="pass")  # type: ignore[return-value]


@dataclass(frozen=True)
class DomainReport:
    """Every check of one domain, in the order they were made."""

    domain: str
    checks: tuple[CheckResult, ...] = field(default_factory=tuple)

    @property
    def status(self) -> Status:
        return worst(c.status for c in self.checks)

    def as_json(self) -> dict:
        return {"domain": self.domain, "status": self.status, "checks": [c.as_json() for c in self.checks]}


def exit_code(reports: Sequence[DomainReport]) -> int:
    """0 when every check passed or warned, 1 when one failed, else 3 when one could not be made."""
    status = worst(r.status for r in reports)
    return {"fail": EXIT_FAILED, "error": EXIT_TRANSIENT}.get(status, EXIT_OK)
