"""Send the test message through an SMTP endpoint with TLS and AUTH (I/O only; blocking, run it in a thread).

Safety rules, each enforced here:

- TLS always, certificate always verified: the caller's ``ssl.SSLContext`` (from
  ``ssl.create_default_context(cafile=...)``) goes to ``starttls``/``SMTP_SSL``, and we connect by host name
  so the name is checked. (``smtplib.SMTP.starttls()`` without a context does not verify — FACTS.)
- Port 465 is implicit TLS; any other port must offer STARTTLS, or the session ends before AUTH: a
  server that does not offer it never sees the credentials.
- The password leaves its :class:`~sending_domain.core.smtp_auth.Secret` only inside ``login``; no debug
  output, and results carry the server's replies, never what we sent.
- 421/451/454 end the session and start a new one after a backoff, at most ``retries`` more times.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from email.message import EmailMessage

from sending_domain.core.smtp_auth import SmtpCredentials
from sending_domain.verify.smtp_result import TRANSIENT_CODES, SmtpOutcome

IMPLICIT_TLS_PORTS = frozenset({465, 2465})


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    region: str
    context: ssl.SSLContext
    timeout: float = 30.0


class _Stop(Exception):
    """The session ended at ``stage``; carries what the server said."""

    def __init__(self, stage: str, command: str, code: int | None = None, reply: str = "", reason: str = "") -> None:
        super().__init__(stage)
        self.stage, self.command, self.code, self.reply, self.reason = stage, command, code, reply, reason


def send_test_message(
    target: SmtpTarget,
    credentials: SmtpCredentials,
    message: EmailMessage,
    *,
    retries: int = 3,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> SmtpOutcome:
    sender, recipient = str(message["From"]), str(message["To"])
    base = SmtpOutcome(target.host, target.port, target.region, recipient=recipient, sender=sender, message_id=str(message["Message-ID"]))
    attempt = 0
    while True:
        attempt += 1
        try:
            _session(target, credentials, message, sender, recipient)
            return replace(base, attempts=attempt)
        except _Stop as stop:
            outcome = replace(base, stage=stop.stage, code=stop.code, reply=stop.reply, command=stop.command, reason=stop.reason, attempts=attempt)
        if outcome.code not in TRANSIENT_CODES:
            return outcome
        if attempt > retries:
            return replace(outcome, stage="application")
        sleep(backoff * 2 ** (attempt - 1))


def _session(target: SmtpTarget, credentials: SmtpCredentials, message: EmailMessage, sender: str, recipient: str) -> None:
    smtp = _connect(target)
    try:
        _login(smtp, credentials)
        _expect("acceptance", "MAIL FROM", _command("acceptance", "MAIL FROM", lambda: smtp.mail(sender)), (250,))
        _expect("recipient", "RCPT TO", _command("recipient", "RCPT TO", lambda: smtp.rcpt(recipient)), (250, 251))
        _expect("acceptance", "DATA", _data(smtp, message), (250,))
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass  # the message was accepted; a lost QUIT changes nothing
    finally:
        smtp.close()


def _connect(target: SmtpTarget) -> smtplib.SMTP:
    stage = "connection"
    try:
        if target.port in IMPLICIT_TLS_PORTS:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(target.host, target.port, timeout=target.timeout, context=target.context)
            smtp.ehlo()
            return smtp
        smtp = smtplib.SMTP(target.host, target.port, timeout=target.timeout)
    except smtplib.SMTPResponseException as e:
        raise _Stop(stage, "greeting", e.smtp_code, _text(e.smtp_error)) from None
    except ssl.SSLCertVerificationError as e:
        raise _Stop(stage, "TLS", reason=f"certificate verify failed: {e.verify_message}") from None
    except (ssl.SSLError, socket.gaierror, OSError, smtplib.SMTPException) as e:
        raise _Stop(stage, "connect", reason=_os_reason(e)) from None
    try:
        smtp.ehlo()
        if not smtp.has_extn("starttls"):
            raise _Stop(stage, "STARTTLS", reason="the server does not offer STARTTLS; no credentials were sent")
        code, reply = smtp.starttls(context=target.context)
        smtp.ehlo()
    except _Stop:
        smtp.close()
        raise
    except smtplib.SMTPResponseException as e:
        smtp.close()
        raise _Stop(stage, "STARTTLS", e.smtp_code, _text(e.smtp_error)) from None
    except ssl.SSLCertVerificationError as e:
        smtp.close()
        raise _Stop(stage, "STARTTLS", reason=f"certificate verify failed: {e.verify_message}") from None
    except (ssl.SSLError, OSError, smtplib.SMTPException) as e:
        smtp.close()
        raise _Stop(stage, "STARTTLS", reason=_os_reason(e)) from None
    return smtp


def _login(smtp: smtplib.SMTP, credentials: SmtpCredentials) -> None:
    try:
        smtp.login(credentials.username, credentials.password.reveal())
    except smtplib.SMTPResponseException as e:
        raise _Stop("authentication", "AUTH", e.smtp_code, _text(e.smtp_error)) from None
    except smtplib.SMTPNotSupportedError:
        raise _Stop("authentication", "AUTH", reason="the server does not offer AUTH") from None
    except smtplib.SMTPException as e:
        raise _Stop("authentication", "AUTH", reason=type(e).__name__) from None
    except OSError as e:
        raise _Stop("authentication", "AUTH", reason=_os_reason(e)) from None
    except UnicodeError:  # smtplib encodes the password as ASCII; the error object would hold it: never chain it
        raise _Stop("authentication", "AUTH", reason="the SMTP user name or password is not ASCII") from None


def _command(stage: str, command: str, send: Callable[[], tuple[int, bytes]]) -> tuple[int, bytes]:
    try:
        return send()
    except OSError as e:  # smtplib.SMTPServerDisconnected is an OSError too
        raise _Stop(stage, command, reason=_os_reason(e)) from None


def _data(smtp: smtplib.SMTP, message: EmailMessage) -> tuple[int, bytes]:
    try:
        return smtp.data(message.as_bytes())
    except smtplib.SMTPResponseException as e:
        return e.smtp_code, e.smtp_error if isinstance(e.smtp_error, bytes) else str(e.smtp_error).encode()
    except OSError as e:
        raise _Stop("acceptance", "DATA", reason=_os_reason(e)) from None


def _expect(stage: str, command: str, reply: tuple[int, bytes], ok: tuple[int, ...]) -> None:
    code, text = reply
    if code not in ok:
        raise _Stop(stage, command, code, _text(text))


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _os_reason(error: BaseException) -> str:
    if isinstance(error, socket.gaierror):
        return f"name not known ({error.strerror})"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(error, ssl.SSLError):
        return f"TLS failure ({error.reason or error})"
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return "the server closed the connection"
    return type(error).__name__ + (f" ({error.strerror})" if isinstance(error, OSError) and error.strerror else "")
