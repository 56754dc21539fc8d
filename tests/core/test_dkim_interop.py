"""DKIM interop: dkimpy signs with our keys and verifies against our RENDERED records, served by real DNS.

The records go through ``Record.zone_line()`` (our canonical quoted, split TXT) into a loopback DNS server;
dkimpy's ``dnsfunc`` asks that server with dnspython, so the whole path — generate, render, split, serve,
join, parse, verify — is someone else's implementation checking ours.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable, Iterator

import dkim as dkimpy
import dns.resolver
import pytest
from cryptography.hazmat.primitives import serialization

from sending_domain.core import dkim
from tests.conftest import MakeDnsServer

DOMAIN = "example.com"
MESSAGE = (
    b"From: Sender <sender@example.com>\r\n"
    b"To: Receiver <receiver@example.org>\r\n"
    b"Subject: interop\r\n"
    b"Date: Mon, 02 Jun 2025 10:00:00 +0000\r\n"
    b"Message-ID: <interop-1@example.com>\r\n"
    b"\r\n"
    b"Hello from the sending domain.\r\n"
)
DnsFunc = Callable[..., bytes | None]


@functools.cache
def _pem(algorithm: str, n: int = 0) -> str:
    return dkim.generate_private_key_pem(algorithm)


def _record_line(selector: str, algorithm: str, pem: str, state: str = "active") -> str:
    return dkim.dkim_record(selector, DOMAIN, algorithm, dkim.public_key_b64(pem), state).zone_line()


def _sign(pem: str, algorithm: str, selector: str, message: bytes = MESSAGE) -> bytes:
    if algorithm == "ed25519":
        # dkimpy takes an ed25519 key as base64 of the raw 32-byte seed (RFC 8463 §3).
        key = serialization.load_pem_private_key(pem.encode(), None)
        seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                 serialization.NoEncryption())
        private, sig_alg = base64.b64encode(seed), b"ed25519-sha256"
    else:
        private, sig_alg = pem.encode(), b"rsa-sha256"
    header = dkimpy.sign(message, selector.encode(), DOMAIN.encode(), private, signature_algorithm=sig_alg)
    return header + message


def _ses_pem(pem: str) -> str:
    """The SES BYODKIM value wrapped back into PEM: the PKCS#1 key SES will sign with."""
    body = dkim.ses_private_key(pem)
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN RSA PRIVATE KEY-----\n{lines}\n-----END RSA PRIVATE KEY-----\n"


@pytest.fixture
def serve(dns_server: MakeDnsServer) -> Iterator[Callable[[str], DnsFunc]]:
    """``serve(zone_text)`` → a dkimpy ``dnsfunc`` that asks a loopback server holding that zone."""

    def make(zone_text: str) -> DnsFunc:
        server = dns_server(zone_text)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [server.host]
        resolver.port = server.port

        def dnsfunc(name: bytes, timeout: float = 5) -> bytes | None:
            try:
                answer = resolver.resolve(name.decode(), "TXT", lifetime=timeout)
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
                return None
            return b"".join(answer[0].strings)

        return dnsfunc

    yield make


@pytest.mark.parametrize("algorithm", dkim.ALGORITHMS)
def test_signature_verifies_against_our_served_record(serve: Callable[[str], DnsFunc], algorithm: str) -> None:
    pem = _pem(algorithm)
    dnsfunc = serve(_record_line("s1", algorithm, pem))
    assert dkimpy.DKIM(_sign(pem, algorithm, "s1")).verify(dnsfunc=dnsfunc)


def test_served_record_is_split_joined_and_parsed_back(serve: Callable[[str], DnsFunc]) -> None:
    pem = _pem("rsa-2048")
    dnsfunc = serve(_record_line("s1", "rsa-2048", pem))
    text = dnsfunc(b"s1._domainkey.example.com.")
    assert text is not None
    parsed = dkim.parse_dkim_value(text.decode())
    assert (parsed.key_type, parsed.bits, parsed.public_b64) == ("rsa", 2048, dkim.public_key_b64(pem))


@pytest.mark.parametrize("algorithm", ["rsa-2048", "rsa-1024"])
def test_the_ses_key_signs_for_our_published_record(serve: Callable[[str], DnsFunc], algorithm: str) -> None:
    pem = _pem(algorithm)
    dnsfunc = serve(_record_line("ses", algorithm, pem))
    assert dkimpy.DKIM(_sign(_ses_pem(pem), algorithm, "ses")).verify(dnsfunc=dnsfunc)


@pytest.mark.parametrize("algorithm", dkim.ALGORITHMS)
def test_a_revoked_key_fails(serve: Callable[[str], DnsFunc], algorithm: str) -> None:
    pem = _pem(algorithm)
    dnsfunc = serve(_record_line("old", algorithm, pem, state="revoked"))
    assert dnsfunc(b"old._domainkey.example.com.") == f"v=DKIM1; k={dkim.key_type(algorithm)}; p=".encode()
    assert not dkimpy.DKIM(_sign(pem, algorithm, "old")).verify(dnsfunc=dnsfunc)


@pytest.mark.parametrize("state", ["pending", "retiring"])
def test_published_states_still_verify(serve: Callable[[str], DnsFunc], state: str) -> None:
    pem = _pem("rsa-2048")
    dnsfunc = serve(_record_line("s2", "rsa-2048", pem, state=state))
    assert dkimpy.DKIM(_sign(pem, "rsa-2048", "s2")).verify(dnsfunc=dnsfunc)


def test_another_keys_record_fails(serve: Callable[[str], DnsFunc]) -> None:
    dnsfunc = serve(_record_line("s1", "ed25519", _pem("ed25519", 1)))
    assert not dkimpy.DKIM(_sign(_pem("ed25519"), "ed25519", "s1")).verify(dnsfunc=dnsfunc)


def test_rsa_and_ed25519_signatures_on_one_message(serve: Callable[[str], DnsFunc]) -> None:
    """RSA for everyone, ed25519 as the extra signature (RFC 8463 §5); each verifies by index."""
    rsa_pem, ed_pem = _pem("rsa-2048"), _pem("ed25519")
    dnsfunc = serve(_record_line("rsa1", "rsa-2048", rsa_pem) + "\n" + _record_line("ed1", "ed25519", ed_pem))
    signed = _sign(ed_pem, "ed25519", "ed1", _sign(rsa_pem, "rsa-2048", "rsa1"))
    verifier = dkimpy.DKIM(signed)
    assert verifier.verify(idx=0, dnsfunc=dnsfunc) and verifier.verify(idx=1, dnsfunc=dnsfunc)
