"""Verify many domains concurrently: desired state, DNS, SES; ``--wait`` retries; the SMTP test last.

Per attempt, every domain still not passing is verified at once on one fresh resolver (so no cache hides
propagation between attempts, and within an attempt each (name, type) is asked once). The desired records
come from :func:`~sending_domain.desired.flatten_domain` and :func:`~sending_domain.core.render.render_domain`
— what :func:`~sending_domain.desired.desired_domains` (and so ``plan``) runs, one domain at a time — with the vendor
lock when there is one, else live DNS through that same resolver.

``wait`` seconds: after an attempt with failures, sleep (``backoff``, doubling, at most
:data:`MAX_BACKOFF`) and verify the failing domains again, until all pass or the time is up. Then, with
``smtp`` set, each SES domain sends one test message (one after another: the SES sandbox allows one per
second).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sending_domain.core.checks import CheckResult, DomainReport, errored, failed
from sending_domain.core.errors import DnsError, SpfError
from sending_domain.core.settings import DomainSettings, StackSettings
from sending_domain.core.smtp_auth import SmtpCredentials
from sending_domain.core.spf.lock import SpfLock
from sending_domain.core.render import ZoneRef, our_zones, render_domain
from sending_domain.desired import flatten_domain
from sending_domain.dns.resolver import AsyncResolver
from sending_domain.verify.dns_checks import dns_checks
from sending_domain.verify.dns_probe import observe_domain
from sending_domain.verify.message import build_test_message
from sending_domain.verify.ses_probe import check_identity
from sending_domain.verify.smtp_probe import DEFAULT_DEADLINE, SmtpTarget, send_test_message
from sending_domain.verify.smtp_result import smtp_check

MAX_BACKOFF = 30.0
SES_CONCURRENCY = 8
Progress = Callable[[int, int, int], None]  # (done, total, attempt)
AttemptDone = Callable[[int, Sequence[str], float], None]  # (attempt, domains still failing, seconds until the next)


def ses_smtp_host(region: str) -> str:
    return f"email-smtp.{region}.amazonaws.com"


@dataclass(frozen=True)
class SmtpPlan:
    """The test mail: who to, from (None: ``sending-domain-verify@<domain>``), where, and with which credentials."""

    recipient: str
    sender: str | None
    port: int
    host: str | None  # None: email-smtp.<region>.amazonaws.com
    context: Any  # ssl.SSLContext
    credentials: Callable[[str], SmtpCredentials]  # region → credentials
    retries: int = 3
    backoff: float = 1.0
    timeout: float = 30.0
    deadline: float = DEFAULT_DEADLINE  # seconds for each whole SMTP session


@dataclass
class VerifyIO:
    """Everything that talks to the world, handed in."""

    resolver: Callable[[], AsyncResolver]  # a fresh resolver per attempt
    ses_client: Callable[[str], Any] | None = None  # region → boto3 sesv2 client; None skips SES
    smtp: SmtpPlan | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.monotonic
    run_id: Callable[[], str] = field(default=lambda: uuid.uuid4().hex)
    now: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))
    smtp_sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class VerifyRun:
    reports: tuple[DomainReport, ...]
    attempts: int
    queries: int
    elapsed: float


async def verify_stack(
    stack: StackSettings,
    *,
    domains: Sequence[str] = (),
    lock: SpfLock | None,
    dkim_public: dict[tuple[str, str], str],
    io: VerifyIO,
    wait: float = 0.0,
    backoff: float = 2.0,
    on_progress: Progress | None = None,
    on_attempt: AttemptDone | None = None,
) -> VerifyRun:
    start = io.clock()
    chosen = [d for d in stack.domains if not domains or d.domain in domains]
    ses = _SesClients(io.ses_client)
    final: dict[str, DomainReport] = {}
    pending, attempts, queries, delay = chosen, 0, 0, backoff
    while True:
        attempts += 1
        resolver = io.resolver()
        reports = await _attempt(stack, pending, lock, dkim_public, resolver, ses, attempts, on_progress)
        queries += resolver.queries_sent + resolver.retries_sent
        final.update((r.domain, r) for r in reports)
        pending = [d for d, r in zip(pending, reports) if r.status in ("fail", "error")]
        remaining = start + wait - io.clock()
        if not pending or remaining <= 0:
            break
        if on_attempt is not None:
            on_attempt(attempts, [d.domain for d in pending], min(delay, remaining))
        await io.sleep(min(delay, remaining))
        delay = min(delay * 2, MAX_BACKOFF)
    if io.smtp is not None:
        for settings in chosen:
            if settings.ses is not None:
                check = await asyncio.to_thread(smtp_test, settings, io.smtp, io)
                final[settings.domain] = DomainReport(settings.domain, final[settings.domain].checks + (check,))
    return VerifyRun(tuple(final[d.domain] for d in chosen), attempts, queries, io.clock() - start)


class _SesClients:
    """One client per region for the whole run, and a bound on calls in flight."""

    def __init__(self, factory: Callable[[str], Any] | None) -> None:
        self.factory = factory
        self.clients: dict[str, Any] = {}
        self.semaphore = asyncio.Semaphore(SES_CONCURRENCY)

    async def check(self, settings: DomainSettings) -> list[CheckResult]:
        if self.factory is None or settings.ses is None:
            return []
        region = settings.ses.region
        if region not in self.clients:
            self.clients[region] = self.factory(region)
        async with self.semaphore:
            return await asyncio.to_thread(check_identity, self.clients[region], settings)


async def _attempt(
    stack: StackSettings,
    chosen: list[DomainSettings],
    lock: SpfLock | None,
    dkim_public: dict[tuple[str, str], str],
    resolver: AsyncResolver,
    ses: _SesClients,
    attempt: int,
    on_progress: Progress | None,
) -> list[DomainReport]:
    done = 0
    zones = our_zones(stack)
    # As many domains at work as the resolver has questions in flight (each asks several, so its slots stay
    # busy): a domain's own CPU work then runs between answers instead of all domains' at once up front,
    # which would hold every answer that arrives meanwhile until the loop is free again.
    working = asyncio.Semaphore(resolver.concurrency)

    async def one(settings: DomainSettings) -> DomainReport:
        nonlocal done
        async with working:
            report = await verify_domain(settings, lock, dkim_public, resolver, ses, zones)
        done += 1
        if on_progress is not None:
            on_progress(done, len(chosen), attempt)
        return report

    return list(await asyncio.gather(*(one(s) for s in chosen)))


async def verify_domain(
    settings: DomainSettings,
    lock: SpfLock | None,
    dkim_public: dict[tuple[str, str], str],
    resolver: AsyncResolver,
    ses: _SesClients,
    zones: Mapping[str, ZoneRef],
) -> DomainReport:
    domain = settings.domain
    try:
        # desired_domains() for one domain, with the stack's zones computed once per attempt (not per domain)
        spf = await flatten_domain(settings, lock=lock, resolver=resolver)
        desired = render_domain(settings, spf, dkim_public=dkim_public, zones=zones)
    except DnsError as e:
        return DomainReport(domain, (errored("desired", f"cannot resolve the senders' SPF trees to render what the stack wants: {e}"),))
    except SpfError as e:
        hint = "fix the senders (`sending-domain plan` shows the same problem); with a vendor lock, run `sending-domain spf lock --update`"
        return DomainReport(domain, (failed("desired", f"cannot render the stack's SPF: {e}", hint),))
    observed_task = observe_domain(desired, settings, resolver, lock)
    observed, ses_checks = await asyncio.gather(observed_task, ses.check(settings))
    return DomainReport(domain, tuple(dns_checks(desired, settings, observed)) + tuple(ses_checks))


def smtp_test(settings: DomainSettings, plan: SmtpPlan, io: VerifyIO) -> CheckResult:
    """Send one test message for ``settings.domain`` (blocking; run in a thread)."""
    assert settings.ses is not None
    region = settings.ses.region
    sender = plan.sender or f"sending-domain-verify@{settings.domain}"
    message = build_test_message(sender=sender, recipient=plan.recipient, run_id=io.run_id(), now=io.now())
    target = SmtpTarget(plan.host or ses_smtp_host(region), plan.port, region, plan.context, min(plan.timeout, plan.deadline), plan.deadline)
    outcome = send_test_message(target, plan.credentials(region), message, retries=plan.retries, backoff=plan.backoff, sleep=io.smtp_sleep)
    return smtp_check(outcome)
