"""The test message sent through SES SMTP (pure: the caller gives the id and the time).

It looks like the mail the domain will send: ``Date`` and ``Message-ID`` (RFC 5322 §3.6), and a one-click
unsubscribe (RFC 8058 §3.1: ``List-Unsubscribe`` with an HTTPS URI plus ``List-Unsubscribe-Post:
List-Unsubscribe=One-Click``), which bulk-sender rules (Gmail/Yahoo 2024, Outlook.com 2025) ask for. The
unsubscribe URIs point at the From domain and carry the run id; nothing answers them — the default
recipient is the SES mailbox simulator.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

DEFAULT_RECIPIENT = "success@simulator.amazonses.com"  # SES mailbox simulator; works in the sandbox
ID_HEADER = "X-Sending-Domain-Verify"


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].lower()


def message_id(run_id: str, domain: str) -> str:
    return f"<{run_id}@{domain}>"


def build_test_message(*, sender: str, recipient: str, run_id: str, now: datetime) -> EmailMessage:
    """A short text message from ``sender`` to ``recipient`` with the headers above."""
    domain = domain_of(sender)
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = f"sending-domain verify {run_id}"
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id(run_id, domain)
    msg["List-Unsubscribe"] = f"<https://{domain}/unsubscribe/{run_id}>, <mailto:unsubscribe@{domain}?subject=unsubscribe-{run_id}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058 §3.1
    msg[ID_HEADER] = run_id
    msg.set_content(
        f"This is a test message from `sending-domain verify` for {domain}.\n"
        f"Run id: {run_id}\n"
        "It checks that SES accepts mail for the domain over SMTP; no reply is needed.\n"
    )
    return msg
