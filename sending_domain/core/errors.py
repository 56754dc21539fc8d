"""One small error tree. Each class carries the CLI exit code a caller can branch on.

Exit codes used across the CLI: 0 success; 1 a check failed or drift was found; 2 bad input or
configuration; 3 a transient failure (DNS timeout, SERVFAIL) — retry later.
"""

from __future__ import annotations

from dataclasses import dataclass


class SendingDomainError(Exception):
    """Something went wrong."""

    exit_code = 2

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


@dataclass(frozen=True)
class Problem:
    """One reason something is invalid: where (a key path), a stable id, and what to do."""

    path: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message} [{self.code}]" if self.path else f"{self.message} [{self.code}]"


class ConfigError(SendingDomainError):
    """The configuration or input is invalid."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | Problem | str, *, source: str = "") -> None:
        if isinstance(problems, str):
            problems = [Problem("", "invalid", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        if len(self.problems) == 1:
            text = head + str(self.problems[0])
        else:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            text = f"{head}{len(self.problems)} problems:\n{lines}"
        super().__init__(text)


class SpfError(SendingDomainError):
    """The SPF record or its tree cannot be flattened safely."""

    exit_code = 2


class SpfSyntaxError(SpfError):
    """An SPF record does not parse."""


class SpfVoidLimitError(SpfError):
    """The SPF tree makes more void lookups than receivers allow (RFC 7208 §4.6.4)."""


class DnsError(SendingDomainError):
    """A DNS query failed."""

    exit_code = 3


class DnsTransientError(DnsError):
    """A DNS query failed for now (timeout, SERVFAIL, refused): retry later."""

    exit_code = 3


class CheckFailed(SendingDomainError):
    """A check failed."""

    exit_code = 1


class DriftFound(CheckFailed):
    """Live state differs from what the stack wants."""
