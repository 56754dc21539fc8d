"""``sending-domain verify``: check a deployed stack — live DNS, the SES identity and (``--smtp``) a test mail.

Exit codes: 0 every check passed (a warning is a pass), 1 a check failed, 2 bad input, 3 a check could not
be made for now (DNS timeout/SERVFAIL, SES throttling): retry.

Environment (read here and nowhere else):

- ``SENDING_DOMAIN_SMTP_USERNAME`` and ``SENDING_DOMAIN_SMTP_PASSWORD`` — ready SES SMTP credentials (the
  password as SES gives it, already derived for the region). Both or neither.
- Otherwise the AWS credential chain (``AWS_PROFILE``, ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, …,
  read by boto3) gives the access key, and the SMTP password is derived per region. Temporary credentials
  (with a session token) are refused before anything is sent: SES SMTP does not accept them.
- The SES checks use the same AWS credential chain (``ses:GetEmailIdentity``); ``--no-ses`` skips them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sending_domain.cli import term
from sending_domain.cli.common import (
    add_nameserver_option,
    add_stack_options,
    bounded_int,
    chosen_domains,
    domain_argument,
    load_stack_from_args,
    print_json,
    stack_lock_path,
)
from sending_domain.core.errors import ConfigError, Problem

if TYPE_CHECKING:  # the verifier is imported when the command runs: --help and argument errors stay fast
    import ssl

    from sending_domain.core.settings import DomainSettings, StackSettings
    from sending_domain.core.smtp_auth import SmtpCredentials
    from sending_domain.verify.runner import SmtpPlan

USERNAME_ENV = "SENDING_DOMAIN_SMTP_USERNAME"
PASSWORD_ENV = "SENDING_DOMAIN_SMTP_PASSWORD"
SMTP_PORTS = (587, 2587, 465)
MAX_WAIT = 3 * 24 * 3600  # SES itself looks for 72 hours
SMTP_DEADLINE = 120.0  # seconds for one whole SMTP session; SES answers each step in well under a second


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("verify", help="check live DNS, SES and a test mail against the stack")
    add_stack_options(p)
    p.add_argument("--domain", action="append", default=[], metavar="D", help="verify only this domain (repeatable)")
    add_nameserver_option(p)
    p.add_argument("--wait", default="0", metavar="SECONDS", help="retry with backoff until every check passes or SECONDS pass")
    p.add_argument("--outputs", metavar="FILE", help="`pulumi stack output --json` file: DKIM public keys to compare")
    p.add_argument("--smtp", action=argparse.BooleanOptionalAction, default=False, help="send a test message through SES SMTP (default: no)")
    p.add_argument("--ses", action=argparse.BooleanOptionalAction, default=True, help="check the SES identities (default: yes)")
    p.add_argument("--to", metavar="ADDRESS", help="test recipient (default: the SES mailbox simulator's success@ address)")
    p.add_argument("--from", dest="sender", metavar="ADDRESS", help="test sender (default sending-domain-verify@<domain>)")
    p.add_argument("--port", type=int, choices=SMTP_PORTS, default=587, help="587 or 2587 (STARTTLS) or 465 (TLS); default 587")
    p.add_argument("--smtp-host", metavar="HOST", help="SMTP host name (default email-smtp.<region>.amazonaws.com)")
    p.add_argument("--smtp-port", metavar="N", help="any port 1..65535, with --smtp-host (a local test server); 465 and 2465 are implicit TLS, others STARTTLS")
    p.add_argument("--smtp-deadline", default=str(SMTP_DEADLINE), metavar="SECONDS",
                   help=f"the longest one SMTP session may take, 1..3600 (default {SMTP_DEADLINE:g})")
    p.add_argument("--smtp-ca", metavar="FILE", help="CA bundle to verify the SMTP server with (default: the system's)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr (the report and the exit code only)")
    p.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    import asyncio

    from sending_domain.core.checks import exit_code
    from sending_domain.desired import read_lock
    from sending_domain.dns.resolver import AsyncResolver
    from sending_domain.outputs import read_dkim_public_keys
    from sending_domain.spf_lock import update_command
    from sending_domain.verify.report import render_json, render_text
    from sending_domain.verify.runner import VerifyIO, verify_stack

    loaded = load_stack_from_args(args)
    chosen = _chosen(loaded.settings, args.domain)
    wait = _wait(args.wait)
    AsyncResolver(args.nameserver)  # bad --nameserver is bad input now, not in the first attempt
    dkim_public = read_dkim_public_keys(args.outputs) if args.outputs else {}
    with_ses = [d for d in chosen if d.ses is not None]
    session = _aws_session() if (args.ses or args.smtp) and with_ses else None
    io = VerifyIO(
        resolver=lambda: AsyncResolver(args.nameserver),
        ses_client=ses_clients(session) if args.ses and session is not None else None,
        smtp=_smtp_plan(args, with_ses, session, os.environ) if args.smtp else None,
    )
    if io.ses_client is not None:
        _require_credentials(session, "the SES checks", "--no-ses")
    progress = _Progress() if sys.stderr.isatty() and not args.quiet else None
    run = asyncio.run(
        verify_stack(
            loaded.settings,
            domains=[d.domain for d in chosen],
            lock=read_lock(stack_lock_path(loaded), update_command=update_command(loaded.path, loaded.stack_name)),
            dkim_public=dkim_public,
            io=io,
            wait=wait,
            on_progress=progress,
            on_attempt=None if args.quiet else _attempt_line(progress),
        )
    )
    if progress is not None:
        progress.clear()
    if args.json:
        print_json(render_json(run))
    else:
        enabled = term.colour_enabled(sys.stdout)
        print(render_text(run, columns=term.width(), paint=lambda text, status: term.paint(text, status, enabled)))
    return exit_code(run.reports)


def _chosen(stack: StackSettings, wanted: list[str]) -> list[DomainSettings]:
    names = chosen_domains(stack, wanted)
    return [d for d in stack.domains if d.domain in names]


def _wait(text: str) -> float:
    return _seconds(text, "--wait", 0, MAX_WAIT)


def _seconds(text: str, option: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not low <= value <= high:  # also refuses nan
        raise ConfigError(Problem("", "usage", f"{option} {text!r} must be a number of seconds from {low:g} to {high:g}"))
    return value


# --- AWS: the session, SES clients, SMTP credentials --------------------------------------------------


def _aws_session() -> Any:
    import boto3

    return boto3.Session()


def ses_clients(session: Any) -> Callable[[str], Any]:
    """Region → a ``sesv2`` client of ``session``."""
    return lambda region: session.client("sesv2", region_name=region)


def _require_credentials(session: Any, what: str, opt_out: str) -> Any:
    credentials = session.get_credentials() if session is not None else None
    if credentials is None:
        raise ConfigError(Problem(
            "", "aws-config",
            f"no AWS credentials for {what}: configure the AWS credential chain (AWS_PROFILE, or AWS_ACCESS_KEY_ID "
            f"and AWS_SECRET_ACCESS_KEY), or pass {opt_out}",
        ))
    return credentials


def smtp_credentials(env: Mapping[str, str], session: Any) -> Callable[[str], SmtpCredentials]:
    """Region → SMTP credentials: ready ones from the environment, else derived from the IAM key in the chain."""
    from sending_domain.core.smtp_auth import TEMPORARY_CREDENTIALS_REASON, Secret, SmtpCredentials

    username, password = env.get(USERNAME_ENV, ""), env.get(PASSWORD_ENV, "")
    if username or password:
        if not (username and password):
            raise ConfigError(Problem("", "usage", f"set both {USERNAME_ENV} and {PASSWORD_ENV}, or neither"))
        ready = SmtpCredentials(username, Secret(password), "environment")
        return lambda _region: ready
    frozen = _require_credentials(session, f"--smtp (or set {USERNAME_ENV} and {PASSWORD_ENV})", "--no-smtp").get_frozen_credentials()
    if frozen.token:
        raise ConfigError(Problem("", "aws-config", TEMPORARY_CREDENTIALS_REASON))
    access_key, secret = frozen.access_key, Secret(frozen.secret_key)
    del frozen
    return lambda region: SmtpCredentials.from_iam_key(access_key, secret, region, source="AWS credential chain")


def _smtp_plan(args: argparse.Namespace, with_ses: list[DomainSettings], session: Any, env: Mapping[str, str]) -> SmtpPlan:
    from sending_domain.verify.message import DEFAULT_RECIPIENT, domain_of
    from sending_domain.verify.runner import SmtpPlan

    recipient = args.to if args.to is not None else DEFAULT_RECIPIENT
    if not with_ses:
        raise ConfigError(Problem("", "usage", "--smtp: none of the chosen domains has an ses: block to send through"))
    if args.sender is not None:
        if "@" not in args.sender or len(with_ses) != 1:
            raise ConfigError(Problem("", "usage", "--from takes one address and needs exactly one SES domain (use --domain)"))
        domain = with_ses[0].domain
        if not (domain_of(args.sender) == domain or domain_of(args.sender).endswith("." + domain)):
            raise ConfigError(Problem("", "usage", f"--from {args.sender}: the test is for {domain}; send from an address at {domain}"))
    if "@" not in recipient:
        raise ConfigError(Problem("", "usage", f"--to {recipient!r} is not an email address"))
    if args.smtp_host is not None:
        domain_argument(args.smtp_host, "--smtp-host")
    port = args.port
    if args.smtp_port is not None:
        if args.smtp_host is None:
            raise ConfigError(Problem("", "usage", "--smtp-port needs --smtp-host: SES listens only on 587, 2587 and 465 (--port)"))
        port = bounded_int(args.smtp_port, name="--smtp-port", low=1, high=65535)
    return SmtpPlan(
        recipient=recipient,
        sender=args.sender,
        port=port,
        deadline=_seconds(args.smtp_deadline, "--smtp-deadline", 1, 3600),
        host=args.smtp_host,
        context=_tls_context(args.smtp_ca),
        credentials=smtp_credentials(env, session),
    )


def _tls_context(cafile: str | None) -> ssl.SSLContext:
    import ssl

    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(Problem("", "usage", f"--smtp-ca {cafile}: cannot load it as a CA bundle ({getattr(e, 'strerror', None) or e})")) from None


# --- progress on a terminal ---------------------------------------------------------------------------


def _attempt_line(progress: _Progress | None) -> Callable[[int, Any, float], None]:
    """After each failed attempt of ``--wait``: which domains still fail and when the next attempt starts."""

    def report(attempt: int, failing: Any, delay: float) -> None:
        if progress is not None:
            progress.clear()
        names = ", ".join(list(failing)[:5]) + (f" and {len(failing) - 5} more" if len(failing) > 5 else "")
        sys.stderr.write(f"verify: attempt {attempt}: {len(failing)} domain(s) not passing yet ({names}); "
                         f"next attempt in {delay:.0f} s\n")
        sys.stderr.flush()

    return report


class _Progress(term.Progress):
    """``verifying 37/500 domains (attempt 1)`` on stderr, redrawn at most ten times a second."""

    def __init__(self) -> None:
        super().__init__(sys.stderr, "verifying")

    def __call__(self, done: int, total: int, attempt: int) -> None:  # type: ignore[override]
        self.suffix = f" domains (attempt {attempt})"
        super().__call__(done, total)
