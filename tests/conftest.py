"""Fixtures shared by every test suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.dnsserver import DnsTestServer

MakeDnsServer = Callable[..., DnsTestServer]


@pytest.fixture
def dns_server() -> Iterator[MakeDnsServer]:
    """``make(zone_text, **kw)`` starts a :class:`DnsTestServer` on loopback; all are stopped at teardown."""
    servers: list[DnsTestServer] = []

    def make(zone_text: str = "", **kw: object) -> DnsTestServer:
        server = DnsTestServer(zone_text, **kw).start()  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
