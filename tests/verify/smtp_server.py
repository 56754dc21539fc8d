"""A real SMTP server on loopback for the verify tests: aiosmtpd with STARTTLS (or implicit TLS), AUTH required,
a test CA and a server certificate for ``localhost`` made with ``cryptography``, and scripted replies.

Notes (FACTS.md): aiosmtpd does not take port 0, so a free port is picked first; a failed login must return
``AuthResult(success=False, handled=False)`` or the client hangs.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USERNAME = "AKIAVERIFYTEST"


@dataclass(frozen=True)
class TestCa:
    """A CA certificate file and a server certificate + key (for ``localhost`` and 127.0.0.1) it signed."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_ca(directory: Path, name: str = "verify-test") -> TestCa:
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    out = TestCa(directory / f"{name}-ca.pem", directory / f"{name}-server.pem", directory / f"{name}-server.key")
    out.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    out.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out.key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return out


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Script:
    """What the server answers. ``mail``/``rcpt``/``data``: replies used in turn (the last one repeats)."""

    password: str
    mail: list[str] = field(default_factory=lambda: ["250 OK"])
    rcpt: list[str] = field(default_factory=lambda: ["250 OK"])
    data: list[str] = field(default_factory=lambda: ["250 Ok 0102018f-test"])
    logins: list[tuple[str, str]] = field(default_factory=list)
    messages: list[bytes] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=lambda: {"mail": 0, "rcpt": 0, "data": 0})

    def _next(self, what: str) -> str:
        replies = getattr(self, what)
        reply = replies[min(self.calls[what], len(replies) - 1)]
        self.calls[what] += 1
        return reply

    async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: N802 (aiosmtpd hook names)
        reply = self._next("mail")
        if reply.startswith("250"):
            envelope.mail_from = address
        return reply

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
        reply = self._next("rcpt")
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        reply = self._next("data")
        if reply.startswith("250"):
            self.messages.append(envelope.original_content or envelope.content)
        return reply

    def authenticator(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((login, password))
        if login == USERNAME and password == self.password:
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


@contextmanager
def smtp_server(script: Script, ca: TestCa | None, *, mode: str = "starttls") -> Iterator[int]:
    """Serve ``script`` on 127.0.0.1; ``mode`` is ``starttls``, ``implicit`` (TLS from the start) or ``plain``."""
    port = free_port()
    kw: dict = {"auth_required": True, "authenticator": script.authenticator, "decode_data": False}
    if mode == "starttls":
        assert ca is not None
        kw.update(tls_context=ca.server_context(), require_starttls=True)
    elif mode == "implicit":
        assert ca is not None
        kw.update(ssl_context=ca.server_context(), auth_require_tls=False)
    else:
        kw.update(auth_require_tls=False)
    controller = Controller(script, hostname="127.0.0.1", port=port, **kw)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
