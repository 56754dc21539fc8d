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
- Bounded: each session ends by ``deadline`` seconds at the latest (a watchdog closes the socket, so a server
  that drips a byte at a time cannot hold it open); a reply longer than :data:`MAX_REPLY_LINES` lines or
  :data:`MAX_REPLY_BYTES` bytes, or more than :data:`MAX_BYTES_BEFORE_TLS` bytes of replies before TLS
  (:data:`MAX_BYTES_AFTER_TLS` after), ends the session; the server's words reach the report only through
  :func:`~.smtp_result.quote_reply`: escaped, truncated, with anything that looks like credentials redacted.
"""

from __future__ import annotations

import base64
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from email.message import EmailMessage

from sending_domain.core.smtp_auth import SmtpCredentials
from sending_domain.verify.smtp_result import TRANSIENT_CODES, SmtpOutcome, quote_reply

IMPLICIT_TLS_PORTS = frozenset({465, 2465})
DEFAULT_DEADLINE = 120.0  # seconds for one whole session; SES answers each step in well under a second
MAX_REPLY_LINES = 100  # an EHLO reply has about ten
MAX_REPLY_BYTES = 16 * 1024
MAX_BYTES_BEFORE_TLS = 32 * 1024
MAX_BYTES_AFTER_TLS = 256 * 1024


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    region: str
    context: ssl.SSLContext
    timeout: float = 30.0
    deadline: float = DEFAULT_DEADLINE


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
            reply = quote_reply(stop.reply, secrets=_secret_forms(credentials))
            outcome = replace(base, stage=stop.stage, code=stop.code, reply=reply, command=stop.command, reason=stop.reason, attempts=attempt)
        if outcome.code not in TRANSIENT_CODES:
            return outcome
        if attempt > retries:
            return replace(outcome, stage="application")
        sleep(backoff * 2 ** (attempt - 1))


class ReplyTooLarge(smtplib.SMTPException):
    """The server's reply (or all its replies in this phase) went over a bound."""


class _Bounded:
    """smtplib's reply reading with bounds: lines and bytes per reply, bytes per phase, and the session deadline."""

    _deadline_at: float
    _budget: int
    _stopped: threading.Event
    _host: str
    _timer: threading.Timer

    def _bound(self, deadline: float) -> None:
        self._deadline_at = time.monotonic() + deadline
        self._budget = MAX_BYTES_BEFORE_TLS
        self._stopped = threading.Event()

    def _remaining(self) -> float:
        remaining = self._deadline_at - time.monotonic()
        if remaining <= 0 or self._stopped.is_set():
            raise TimeoutError("the session deadline passed")
        return remaining

    def getreply(self) -> tuple[int, bytes]:  # smtplib.SMTP.getreply, bounded
        lines: list[bytes] = []
        size = 0
        while True:
            sock = self.sock  # type: ignore[attr-defined]
            if sock is not None:
                sock.settimeout(min(self.timeout, self._remaining()))  # type: ignore[attr-defined]
            if self.file is None:  # type: ignore[has-type]
                self.file = sock.makefile("rb")
            try:
                line = self.file.readline(smtplib._MAXLINE + 1)
            except OSError as e:
                self.close()  # type: ignore[attr-defined]
                raise smtplib.SMTPServerDisconnected(f"Connection unexpectedly closed: {e}") from None
            if not line:
                self.close()  # type: ignore[attr-defined]
                if self._stopped.is_set():
                    raise TimeoutError("the session deadline passed")
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            size += len(line)
            self._budget -= len(line)
            if len(line) > smtplib._MAXLINE or size > MAX_REPLY_BYTES or len(lines) >= MAX_REPLY_LINES or self._budget < 0:
                self.close()  # type: ignore[attr-defined]
                raise ReplyTooLarge(f"the server's reply went over {MAX_REPLY_LINES} lines or {MAX_REPLY_BYTES} bytes, "
                                    "or its replies over their total bound")
            lines.append(line[4:].strip(b" \t\r\n"))
            code = line[:3]
            try:
                errcode = int(code)
            except ValueError:
                errcode = -1
                break
            if line[3:4] != b"-":
                break
        return errcode, b"\n".join(lines)

    def starttls(self, *args: object, **kwargs: object) -> tuple[int, bytes]:
        reply = super().starttls(*args, **kwargs)  # type: ignore[misc]
        self._budget = MAX_BYTES_AFTER_TLS
        return reply

    def _open(self, host: str, port: int) -> None:
        """Connect under the deadline's watchdog; a failed connection closes what it opened."""
        self._host = host  # smtplib sets it only when given the host at construction; STARTTLS checks it
        self._timer = self._watch()
        try:
            self.connect(host, port)  # type: ignore[attr-defined]
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        super().close()  # type: ignore[misc]
        if getattr(self, "_timer", None) is not None:
            self._timer.cancel()

    def _watch(self) -> threading.Timer:
        """Close the socket at the deadline, whatever the session is doing (a blocked read returns)."""

        def stop() -> None:
            self._stopped.set()
            sock = self.sock  # type: ignore[attr-defined]
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        timer = threading.Timer(max(0.0, self._deadline_at - time.monotonic()), stop)
        timer.daemon = True
        timer.start()
        return timer


class _SMTP(_Bounded, smtplib.SMTP):
    def __init__(self, host: str, port: int, *, timeout: float, deadline: float) -> None:
        self._bound(deadline)
        super().__init__(timeout=min(timeout, deadline))
        self._open(host, port)


class _SMTP_SSL(_Bounded, smtplib.SMTP_SSL):  # noqa: N801 (smtplib's name)
    def __init__(self, host: str, port: int, *, timeout: float, deadline: float, context: ssl.SSLContext) -> None:
        self._bound(deadline)
        super().__init__(timeout=min(timeout, deadline), context=context)
        self._budget = MAX_BYTES_AFTER_TLS
        self._open(host, port)


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
            smtp: smtplib.SMTP = _SMTP_SSL(target.host, target.port, timeout=target.timeout, deadline=target.deadline, context=target.context)
            smtp.ehlo()
            return smtp
        smtp = _SMTP(target.host, target.port, timeout=target.timeout, deadline=target.deadline)
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
    except ReplyTooLarge as e:
        raise _Stop("authentication", "AUTH", reason=str(e)) from None
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


def _secret_forms(credentials: SmtpCredentials) -> tuple[str, ...]:
    """The password as it may come back: itself, and in the base64 forms AUTH LOGIN and AUTH PLAIN send."""
    user, password = credentials.username, credentials.password.reveal()
    if not password:
        return ()
    b64 = lambda text: base64.b64encode(text.encode("utf-8", "replace")).decode()  # noqa: E731
    return (password, b64(password), b64(f"\0{user}\0{password}"), b64(f"{user}\0{user}\0{password}"))


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _os_reason(error: BaseException) -> str:
    if isinstance(error, socket.gaierror):
        return f"name not known ({error.strerror})"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "the session deadline passed" if "deadline" in str(error) else "timed out"
    if isinstance(error, ReplyTooLarge):
        return str(error)
    if isinstance(error, ssl.SSLError):
        return f"TLS failure ({error.reason or error})"
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return "the server closed the connection"
    return type(error).__name__ + (f" ({error.strerror})" if isinstance(error, OSError) and error.strerror else "")
