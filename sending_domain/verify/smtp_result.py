"""The SMTP test's outcome, classified by the stage where it ended, with a hint a person can act on (pure).

Stages, in the order a session goes through them:

- ``connection``     — resolving the host, TCP, TLS (certificate verified), STARTTLS offered;
- ``authentication`` — ``AUTH LOGIN``/``PLAIN`` (535 wrong credentials, 530 auth required);
- ``recipient``      — ``RCPT TO`` (550 5.1.1 no such user);
- ``acceptance``     — ``MAIL FROM`` and ``DATA``: the message itself refused (554 not verified, 552 size);
- ``application``    — the service stayed in a temporary state after our retries (421/451/454: too many
  connections, throttling, quota); the outcome is ``error`` (exit 3): try later.

Replies follow the SES SMTP reply list (SES developer guide, "SMTP response codes").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sending_domain.core.checks import CheckResult, errored, failed, passed
from sending_domain.core.text import printable

STAGES: tuple[str, ...] = ("connection", "authentication", "recipient", "acceptance", "application")
TRANSIENT_CODES = frozenset({421, 451, 454})  # retried with backoff
_ENHANCED = re.compile(r"^\s*([245]\.\d{1,3}\.\d{1,3})\b")


MAX_QUOTED = 300  # characters of a server reply quoted in a report
_AUTH_ECHO = re.compile(r"(?i)\b(AUTH\s+[A-Z0-9_-]+)\s+\S+")
REDACTED = "[redacted]"


def quote_reply(text: str, *, secrets: tuple[str, ...] = ()) -> str:
    """A server reply as a report may quote it: our credentials (in any form we sent them) and anything after
    ``AUTH <mechanism>`` redacted, control characters escaped, at most :data:`MAX_QUOTED` characters."""
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = printable(_AUTH_ECHO.sub(rf"\1 {REDACTED}", text))
    return text if len(text) <= MAX_QUOTED else text[: MAX_QUOTED - 1] + "…"


def enhanced_status(text: str) -> str:
    """The RFC 3463 enhanced status code at the start of a reply text, or ``""``."""
    match = _ENHANCED.match(text)
    return match[1] if match else ""


@dataclass(frozen=True)
class SmtpOutcome:
    """How one test message went. ``stage`` is None when it was accepted.

    ``code``/``reply`` are the server's last reply (``code`` None for failures below SMTP, such as TLS);
    ``command`` the SMTP step where it ended; ``attempts`` the sessions made (retries on 421/451/454).
    """

    host: str
    port: int
    region: str
    stage: str | None = None
    code: int | None = None
    reply: str = ""
    command: str = ""
    attempts: int = 1
    message_id: str = ""
    recipient: str = ""
    sender: str = ""
    reason: str = ""  # below SMTP: "certificate verify failed", "connection refused", "no STARTTLS"

    def __post_init__(self) -> None:
        if self.stage is not None and self.stage not in STAGES:
            raise ValueError(f"unknown SMTP stage {self.stage!r}")


def smtp_check(outcome: SmtpOutcome) -> CheckResult:
    """The ``smtp`` check for one outcome."""
    where = f"{outcome.host}:{outcome.port}"
    if outcome.stage is None:
        return passed("smtp", f"{outcome.sender} → {outcome.recipient} accepted by {where} (Message-ID {outcome.message_id})")
    code = f"{outcome.code} {enhanced_status(outcome.reply)}".strip() if outcome.code else ""
    said = f": {code} {_strip_enhanced(outcome.reply)}".rstrip() if code else (f": {outcome.reason}" if outcome.reason else "")
    at = f" at {outcome.command}" if outcome.command else ""
    tries = f" after {outcome.attempts} attempts" if outcome.attempts > 1 else ""
    detail = f"{outcome.stage} stage{at}{tries}{said} ({where})"
    hint = smtp_hint(outcome)
    if outcome.stage == "application" or (outcome.code is not None and 400 <= outcome.code < 500):
        return errored("smtp", detail, hint)
    return failed("smtp", detail, hint)


def _strip_enhanced(reply: str) -> str:
    return _ENHANCED.sub("", reply, count=1).strip()


def smtp_hint(outcome: SmtpOutcome) -> str:
    code, text, region = outcome.code, outcome.reply.lower(), outcome.region
    if outcome.stage == "connection":
        return _connection_hint(outcome)
    if code == 535 or (outcome.stage == "authentication" and code and code >= 500):
        return (
            f"SMTP credentials must come from an IAM user's access key and be derived for this region ({region}): "
            "the user name is the access key id, the password is derived from the secret key (not the secret key "
            "itself, not a console password); the user needs ses:SendRawEmail"
        )
    if code == 530:
        return "the server wants authentication first; check that credentials were given"
    if code == 554 and "not verified" in text:
        return (
            f"the identity is not verified in region {region}: verify the From domain in SES there (see ses.verified); "
            "in the SES sandbox the recipient must be verified too — use the mailbox simulator or request production access"
        )
    if code in TRANSIENT_CODES or outcome.stage == "application":
        return "throttled or busy (too many connections, sending rate or daily quota); retried with backoff — try later or raise the SES sending limits"
    if code == 550 and enhanced_status(outcome.reply) == "5.1.1":
        return "the recipient does not exist; send to success@simulator.amazonses.com (--to) to test without a mailbox"
    if code == 552:
        return "the message is too large for the server"
    if outcome.stage == "recipient":
        return "the server refused the recipient; check --to"
    return "the server refused the message; see its reply"


def _connection_hint(outcome: SmtpOutcome) -> str:
    reason = outcome.reason.lower()
    if "starttls" in reason:
        return "the server did not offer STARTTLS, so no credentials were sent; check --smtp-host and --port (465 is implicit TLS)"
    if "certificate" in reason or "ssl" in reason or "tls" in reason:
        return "the TLS handshake or the server certificate did not verify; connect by the server's host name and check --smtp-ca"
    if "name" in reason and ("resolve" in reason or "not known" in reason or "nodename" in reason):
        return f"the host {outcome.host} does not resolve; check --smtp-host and the region"
    if outcome.code:
        return "the server refused the session at its greeting"
    return f"cannot reach {outcome.host}:{outcome.port}; outbound SMTP ports are often blocked — try --port 2587 or 465"
