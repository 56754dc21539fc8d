"""A deployed stack for the verify tests: DKIM keys, the rendered records, and the zone built from them.

The zone is made from the SAME render output ``plan`` and the Pulumi program use, so the correctly
deployed variant is right by construction; each broken variant changes one thing in it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sending_domain.core import dkim
from sending_domain.core.records import Record
from sending_domain.core.render import DesiredDomain
from sending_domain.core.settings import StackSettings
from sending_domain.desired import desired_domains
from sending_domain.dns.resolver import AsyncResolver
from sending_domain.stack import load_stack
from sending_domain.verify.runner import VerifyIO, VerifyRun, verify_stack
from tests.dnsserver import DnsTestServer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "verify"
STACK_FILE = FIXTURES / "Pulumi.verify.yaml"
VENDORS = (FIXTURES / "vendors.zone").read_text(encoding="utf-8")
EXTERNAL_AUTH = 'example.com._report._dmarc.reports.example.org. 300 IN TXT "v=DMARC1"'


@functools.lru_cache(maxsize=None)
def private_keys() -> dict[str, str]:
    """One private key per selector of the fixture stack (generated once per test session)."""
    stack = load_stack(config_file=STACK_FILE).settings
    return {k.selector: dkim.generate_private_key_pem(k.algorithm) for d in stack.domains for k in d.dkim}


def dkim_public() -> dict[tuple[str, str], str]:
    return {("example.com", selector): dkim.public_key_b64(pem) for selector, pem in private_keys().items()}


def stack() -> StackSettings:
    return load_stack(config_file=STACK_FILE).settings


def outputs_document() -> dict:
    """What `pulumi stack output --json` gives for the fixture stack (components/program.py's shape)."""
    keys = {sel: {"algorithm": "x", "state": "y", "public_key": pub} for (_, sel), pub in dkim_public().items()}
    return {"example.com": {"dkim": keys, "records": []}, "example.net": {"dkim": {}}}


def render(server: DnsTestServer, stack_settings: StackSettings | None = None) -> list[DesiredDomain]:
    """What the stack wants, its SPF flattened from the vendor zone on ``server``."""
    server.load(VENDORS)
    resolver = AsyncResolver([server.nameserver])
    return asyncio.run(desired_domains(stack_settings or stack(), resolver=resolver, dkim_public=dkim_public()))


@dataclass
class Zone:
    """The deployed records as values; variants edit them, then :meth:`text` is served."""

    records: list[Record]
    extra: list[str] = field(default_factory=lambda: [EXTERNAL_AUTH])

    @classmethod
    def deployed(cls, desired: Iterable[DesiredDomain]) -> Zone:
        return cls([r.record for d in desired for r in d.records])

    def text(self) -> str:
        return "\n".join([VENDORS, "$ORIGIN .", *(r.zone_line() for r in self.records), *self.extra]) + "\n"

    def find(self, name: str, rtype: str = "TXT") -> Record:
        return next(r for r in self.records if r.name == name and r.type == rtype)

    def remove(self, name: str, rtype: str = "TXT") -> None:
        self.records = [r for r in self.records if not (r.name == name and r.type == rtype)]

    def replace(self, name: str, value: str) -> None:
        self.remove(name)
        self.records.append(Record.txt(name, value))

    def add(self, record: Record) -> None:
        self.records.append(record)


def verify(server: DnsTestServer, *, stack_settings: StackSettings | None = None, keys: bool = True, **kw: object) -> VerifyRun:
    io = kw.pop("io", None) or VerifyIO(resolver=lambda: AsyncResolver([server.nameserver], timeout=1.0, retries=0))
    return asyncio.run(
        verify_stack(
            stack_settings or stack(),
            lock=kw.pop("lock", None),  # type: ignore[arg-type]
            dkim_public=dkim_public() if keys else {},
            io=io,  # type: ignore[arg-type]
            **kw,  # type: ignore[arg-type]
        )
    )


def checks_of(run: VerifyRun, domain: str = "example.com") -> dict[str, tuple[str, str]]:
    report = next(r for r in run.reports if r.domain == domain)
    return {c.name: (c.status, c.detail) for c in report.checks}


Mutation = Callable[[Zone], None]
