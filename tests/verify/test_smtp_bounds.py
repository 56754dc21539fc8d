"""The SMTP test against hostile servers on loopback: flooding, dripping and echoing our credentials.

Each server is a plain socket (and TLS after STARTTLS, with the test CA) scripted by one function, so it can do
what no real SMTP server library would: never end its greeting, send a byte a second, echo ``AUTH PLAIN``.
"""

from __future__ import annotations

import base64
import socket
import ssl
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from sending_domain.core.smtp_auth import Secret, SmtpCredentials
from sending_domain.verify import smtp_probe
from sending_domain.verify.smtp_probe import SmtpTarget, send_test_message
from sending_domain.verify.smtp_result import MAX_QUOTED, quote_reply, smtp_check
from tests.verify.smtp_server import TestCa as CaFiles, make_ca
from tests.verify.test_smtp import _message

PASSWORD = "BHsmtp+password+derived+for+test"
USER = "AKIABOUNDSTEST"
PLAIN = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
Script = Callable[[socket.socket, CaFiles], None]


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CaFiles:
    return make_ca(tmp_path_factory.mktemp("ca"))


@contextmanager
def raw_server(script: Script, ca: CaFiles) -> Iterator[int]:
    """One connection on loopback, served by ``script`` in a thread until it returns or the client goes."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            try:
                script(conn, ca)
            except (OSError, ssl.SSLError):
                pass  # the client hung up, as it should

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        listener.close()
        thread.join(timeout=10)


def _lines(conn: socket.socket | ssl.SSLSocket) -> Iterator[bytes]:
    buffer = b""
    while True:
        while b"\r\n" not in buffer:
            chunk = conn.recv(4096)
            if not chunk:
                return
            buffer += chunk
        line, buffer = buffer.split(b"\r\n", 1)
        yield line


def _send(port: int, ca: CaFiles, *, deadline: float = 30.0):
    target = SmtpTarget("localhost", port, "eu-west-1", ssl.create_default_context(cafile=str(ca.ca_file)), timeout=10, deadline=deadline)
    return send_test_message(target, SmtpCredentials(USER, Secret(PASSWORD)), _message(), retries=0, sleep=lambda _: None)


def _bounded(run: Callable[[], object]) -> tuple[object, float, int]:
    """``run()``, its wall time and the peak of Python memory it allocated."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        result = run()
    finally:
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return result, elapsed, peak


def _starttls(conn: socket.socket, ca: CaFiles, *, auth: bool = False) -> ssl.SSLSocket:
    """Greeting, EHLO offering STARTTLS, the TLS handshake, and the EHLO after it (offering AUTH when asked)."""
    conn.sendall(b"220 hostile.test ESMTP\r\n")
    lines = _lines(conn)
    next(lines)  # EHLO
    conn.sendall(b"250-hostile.test\r\n250 STARTTLS\r\n")
    next(lines)  # STARTTLS
    conn.sendall(b"220 go ahead\r\n")
    return ca.server_context().wrap_socket(conn, server_side=True)


# --- flooding ---------------------------------------------------------------------------------------------


def flood_greeting(conn: socket.socket, ca: CaFiles) -> None:
    line = b"220-" + b"x" * 70 + b"\r\n"
    while True:
        conn.sendall(line * 100)


def test_an_endless_greeting_ends_the_session_in_little_time_and_memory(ca: CaFiles) -> None:
    with raw_server(flood_greeting, ca) as port:
        outcome, elapsed, peak = _bounded(lambda: _send(port, ca))
    assert outcome.stage == "connection" and "went over" in outcome.reason  # type: ignore[attr-defined]
    assert peak < 2 * 2**20, f"{peak} bytes"  # it streamed 4 GB in 15 s before the bounds
    assert elapsed < 10


def flood_after_tls(conn: socket.socket, ca: CaFiles) -> None:
    tls = _starttls(conn, ca)
    next(_lines(tls))  # EHLO
    while True:
        tls.sendall(b"250-" + b"y" * 70 + b"\r\n")


def test_an_endless_reply_after_tls_ends_the_session(ca: CaFiles) -> None:
    with raw_server(flood_after_tls, ca) as port:
        outcome, elapsed, peak = _bounded(lambda: _send(port, ca))
    assert outcome.stage == "connection" and "went over" in outcome.reason  # type: ignore[attr-defined]
    assert peak < 2 * 2**20, f"{peak} bytes"
    assert elapsed < 10


def test_many_short_replies_before_tls_are_bounded_in_total(ca: CaFiles) -> None:
    def chatty(conn: socket.socket, ca: CaFiles) -> None:
        conn.sendall(b"220 hostile.test ESMTP\r\n")
        for _ in _lines(conn):  # every EHLO/HELO answered with a long but legal reply, forever
            conn.sendall(b"".join(b"250-" + b"z" * 60 + b"\r\n" for _ in range(90)) + b"250 OK\r\n")

    with raw_server(chatty, ca) as port, pytest.MonkeyPatch.context() as patch:
        patch.setattr(smtp_probe, "MAX_BYTES_BEFORE_TLS", 8 * 1024)
        outcome = _send(port, ca)
    assert outcome.stage == "connection" and ("went over" in outcome.reason or "STARTTLS" in outcome.reason)


# --- dripping: the deadline holds for the whole session ------------------------------------------------------


def drip(conn: socket.socket, ca: CaFiles) -> None:
    conn.sendall(b"220-")
    while True:  # a byte at a time, each well inside the per-read timeout, the line never ending
        conn.sendall(b"a")
        time.sleep(0.05)


def test_a_dripping_server_is_cut_off_at_the_session_deadline(ca: CaFiles) -> None:
    with raw_server(drip, ca) as port:
        outcome, elapsed, _ = _bounded(lambda: _send(port, ca, deadline=1.0))
    assert outcome.stage == "connection" and outcome.reason == "the session deadline passed"  # type: ignore[attr-defined]
    assert elapsed < 5  # the deadline (1 s) and the close, not the per-read timeout (10 s) times the bytes


# --- echoed credentials are never quoted -------------------------------------------------------------------


def echo_auth(conn: socket.socket, ca: CaFiles) -> None:
    tls = _starttls(conn, ca)
    lines = _lines(tls)
    next(lines)  # EHLO
    tls.sendall(b"250-hostile.test\r\n250 AUTH PLAIN\r\n")
    for said in lines:  # AUTH PLAIN <base64>
        tls.sendall(b"535 5.7.8 Authentication failed: you said " + said + b" \x1b[31m(" + PASSWORD.encode() + b")\r\n")


def test_an_echoed_auth_payload_never_reaches_the_report(ca: CaFiles) -> None:
    with raw_server(echo_auth, ca) as port:
        outcome = _send(port, ca)
    check = smtp_check(outcome)
    text = f"{outcome!r} {check.detail} {check.hint}"
    assert outcome.stage == "authentication" and outcome.code == 535
    assert PLAIN not in text and PASSWORD not in text and "\x1b" not in text
    assert "AUTH PLAIN [redacted]" in outcome.reply and "\\x1b[31m([redacted])" in outcome.reply


@pytest.mark.parametrize(
    ("reply", "quoted"),
    [
        ("535 AUTH LOGIN dXNlcg== failed", "535 AUTH LOGIN [redacted] failed"),
        ("bad: " + PASSWORD, "bad: [redacted]"),
        ("line one\nline two\r\n", "line one\\nline two\\r\\n"),
    ],
)
def test_quote_reply(reply: str, quoted: str) -> None:
    assert quote_reply(reply, secrets=(PASSWORD,)) == quoted


def test_a_long_reply_is_truncated() -> None:
    quoted = quote_reply("554 " + "n" * 5000)
    assert len(quoted) == MAX_QUOTED and quoted.endswith("…")
