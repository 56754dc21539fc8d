"""The async resolver against the loopback DNS server: canonical answers, one question each, bounded retries."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset
import pytest

from sending_domain.core.dnsdata import Answer
from sending_domain.core.errors import ConfigError, DnsError, DnsTransientError
from sending_domain.dns import resolver as resolver_module
from sending_domain.dns.resolver import AsyncResolver, parse_nameserver
from tests.conftest import MakeDnsServer
from tests.dnsserver import DnsTestServer

T = TypeVar("T")

ZONE = r"""
$ORIGIN vendor.example.
@             TXT   "v=spf1 include:_spf.vendor.example -all"
_spf          TXT   "v=spf1 ip4:192.0.2.0/24" " ip6:2001:db8::/32" " ~all"
multi         TXT   "b-second"
multi         TXT   "a-first"
latin1        TXT   "caf\233"
mail          MX    20 MX2.Vendor.Example.
mail          MX    10 mx1
mx1           A     192.0.2.10
mx1           AAAA  2001:DB8:0:0:0:0:0:10
alias         CNAME mx1
deep.a.b      A     192.0.2.99
"""


def run(awaitable: Awaitable[T]) -> T:
    async def main() -> T:
        return await awaitable

    return asyncio.run(main())


def resolver_for(server: DnsTestServer, **kw: float) -> AsyncResolver:
    return AsyncResolver([server.nameserver], **kw)  # type: ignore[arg-type]


# --- canonical answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rdtype", "values"),
    [
        ("vendor.example", "TXT", ("v=spf1 include:_spf.vendor.example -all",)),
        ("_spf.vendor.example", "TXT", ("v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ~all",)),  # strings joined
        ("multi.vendor.example", "TXT", ("a-first", "b-second")),  # one value per record, sorted
        ("latin1.vendor.example", "TXT", ("caf\N{REPLACEMENT CHARACTER}",)),  # not UTF-8: replaced
        ("mx1.vendor.example", "A", ("192.0.2.10",)),
        ("mx1.vendor.example", "AAAA", ("2001:db8::10",)),  # compressed, lower-case
        ("mail.vendor.example", "MX", ("10 mx1.vendor.example", "20 mx2.vendor.example")),
        ("alias.vendor.example", "A", ("192.0.2.10",)),  # the CNAME is followed
    ],
)
def test_canonical_values(dns_server: MakeDnsServer, name: str, rdtype: str, values: tuple[str, ...]) -> None:
    resolver = resolver_for(dns_server(ZONE))
    assert run(resolver.query(name, rdtype)) == Answer("ok", values)


@pytest.mark.parametrize(
    ("name", "rdtype", "status"),
    [
        ("nope.vendor.example", "TXT", "nxdomain"),
        ("mx1.vendor.example", "TXT", "nodata"),
        ("a.b.vendor.example", "A", "nodata"),  # an empty non-terminal exists
        ("alias.vendor.example", "TXT", "nodata"),  # CNAME target without TXT
    ],
)
def test_nxdomain_and_nodata(dns_server: MakeDnsServer, name: str, rdtype: str, status: str) -> None:
    resolver = resolver_for(dns_server(ZONE))
    assert run(resolver.query(name, rdtype)) == Answer(status)  # type: ignore[arg-type]


def test_names_are_normalised_and_answers_kept_in_the_snapshot(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONE)
    resolver = resolver_for(server)

    async def main() -> None:
        await resolver.query("MX1.Vendor.Example.", "a")
        await resolver.query("mx1.vendor.example", "A")
        await resolver.query("nope.vendor.example", "TXT")

    run(main())
    assert resolver.snapshot() == {
        ("mx1.vendor.example", "A"): Answer("ok", ("192.0.2.10",)),
        ("nope.vendor.example", "TXT"): Answer("nxdomain"),
    }
    assert server.total_queries == 2 and resolver.queries_sent == 2 and resolver.retries_sent == 0


# --- one question each, bounded concurrency ------------------------------------------------------------


def test_fifty_concurrent_callers_share_one_query(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONE, delay=0.1)
    resolver = resolver_for(server)

    async def main() -> list[Answer]:
        first = await asyncio.gather(*(resolver.query("vendor.example", "TXT") for _ in range(50)))
        later = await resolver.query("Vendor.Example", "TXT")  # from the cache
        return [*first, later]

    answers = run(main())
    assert len(set(answers)) == 1 and answers[0].status == "ok"
    assert server.queries[("vendor.example", "TXT")] == 1
    assert server.total_queries == 1 and resolver.queries_sent == 1


def test_concurrency_bound_is_respected(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONE, delay=0.1)
    resolver = resolver_for(server, concurrency=4)
    names = [f"n{i}.vendor.example" for i in range(16)]

    async def main() -> list[Answer]:
        return await asyncio.gather(*(resolver.query(n, "A") for n in names))

    start = time.monotonic()
    answers = run(main())
    elapsed = time.monotonic() - start
    assert all(a == Answer("nxdomain") for a in answers)
    assert elapsed >= 0.38  # 16 questions, 4 at a time, 0.1 s each: at least 4 rounds
    assert server.total_queries == 16


def test_wide_concurrency_overlaps_the_questions(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONE, delay=0.2)
    resolver = resolver_for(server, concurrency=64)

    async def main() -> list[Answer]:
        return await asyncio.gather(*(resolver.query(f"n{i}.vendor.example", "A") for i in range(32)))

    start = time.monotonic()
    run(main())
    assert time.monotonic() - start < 32 * 0.2 / 4  # serial would take 6.4 s


def test_a_cancelled_caller_does_not_cancel_the_others(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONE, delay=0.2)
    resolver = resolver_for(server)

    async def main() -> Answer:
        leaver = asyncio.ensure_future(resolver.query("mx1.vendor.example", "A"))
        stayer = asyncio.ensure_future(resolver.query("mx1.vendor.example", "A"))
        await asyncio.sleep(0.05)
        leaver.cancel()
        return await stayer

    assert run(main()) == Answer("ok", ("192.0.2.10",))
    assert server.total_queries == 1


# --- transient failures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "what"),
    [("servfail", "DNS server failure (SERVFAIL)"), ("refused", "DNS query refused (REFUSED)")],
)
def test_servfail_and_refused_are_retried_then_raised(dns_server: MakeDnsServer, mode: str, what: str) -> None:
    server = dns_server(ZONE)
    server.fail("vendor.example", "TXT", mode)
    resolver = resolver_for(server, retries=2, backoff=0.01)
    with pytest.raises(DnsTransientError) as caught:
        run(resolver.query("vendor.example", "TXT"))
    assert str(caught.value) == f"{what} asking TXT for vendor.example after 3 attempts; retry later or check --nameserver"
    assert isinstance(caught.value.__cause__, dns.resolver.NoNameservers)
    assert caught.value.exit_code == 3
    assert server.queries[("vendor.example", "TXT")] == 3
    assert (resolver.queries_sent, resolver.retries_sent) == (1, 2)
    assert resolver.snapshot() == {}


def test_timeout_is_retried_then_raised_quickly(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONE)
    server.fail("vendor.example", "TXT", "timeout")
    resolver = resolver_for(server, timeout=0.2, retries=1, backoff=0.01)
    start = time.monotonic()
    with pytest.raises(DnsTransientError) as caught:
        run(resolver.query("vendor.example", "TXT"))
    assert time.monotonic() - start < 2
    assert str(caught.value) == "DNS timeout asking TXT for vendor.example after 2 attempts; retry later or check --nameserver"
    assert isinstance(caught.value.__cause__, dns.exception.Timeout)
    assert server.queries[("vendor.example", "TXT")] == 2


def test_a_retry_can_succeed(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONE)
    server.fail("vendor.example", "TXT", "servfail")
    resolver = resolver_for(server, retries=2, backoff=0.3)

    async def main() -> Answer:
        task = asyncio.ensure_future(resolver.query("vendor.example", "TXT"))
        while server.total_queries < 1:
            await asyncio.sleep(0.01)
        server.clear_failures()  # the server recovers during the backoff
        return await task

    assert run(main()).status == "ok"
    assert (resolver.queries_sent, resolver.retries_sent) == (1, 1)


def test_a_failure_is_not_cached(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONE)
    server.fail("vendor.example", "TXT", "servfail")
    resolver = resolver_for(server, retries=0)
    with pytest.raises(DnsTransientError, match="after 1 attempt;"):
        run(resolver.query("vendor.example", "TXT"))
    server.clear_failures()
    assert run(resolver.query("vendor.example", "TXT")).status == "ok"


def test_nxdomain_is_an_answer_not_retried(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONE)
    resolver = resolver_for(server, retries=3)
    assert run(resolver.query("nope.vendor.example", "A")) == Answer("nxdomain")
    assert server.total_queries == 1 and resolver.retries_sent == 0


def test_the_next_nameserver_is_asked_when_one_fails(dns_server: MakeDnsServer) -> None:
    broken, healthy = dns_server(ZONE), dns_server(ZONE)
    broken.fail("vendor.example", "TXT", "servfail")
    resolver = AsyncResolver([broken.nameserver, healthy.nameserver], retries=0)
    assert run(resolver.query("vendor.example", "TXT")).status == "ok"
    assert broken.total_queries == 1 and healthy.total_queries == 1


# --- the exchange: truncation, unreachable servers, stray datagrams, odd rcodes ----------------------

BIG_TXT = " ".join(f'"{chr(97 + i) * 200}"' for i in range(4))  # 800 octets: over 512, so truncated on UDP


def test_a_truncated_answer_is_asked_again_over_tcp(dns_server: MakeDnsServer) -> None:
    server = dns_server(f"$ORIGIN big.example.\n@ TXT {BIG_TXT}\n")
    answer = run(resolver_for(server).query("big.example", "TXT"))
    assert answer == Answer("ok", ("".join(chr(97 + i) * 200 for i in range(4)),))
    assert server.queries[("big.example", "TXT")] == 2  # UDP (TC set), then TCP


def closed_udp_port() -> int:
    """A loopback port with nothing listening: a datagram sent there comes back as ICMP port unreachable."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_server_fails_at_once_and_the_next_is_asked(dns_server: MakeDnsServer) -> None:
    healthy = dns_server(ZONE)
    resolver = AsyncResolver([f"127.0.0.1:{closed_udp_port()}", healthy.nameserver], timeout=5, retries=0)
    start = time.monotonic()
    assert run(resolver.query("mx1.vendor.example", "A")) == Answer("ok", ("192.0.2.10",))
    assert time.monotonic() - start < 1  # not the 5 s timeout
    assert healthy.total_queries == 1


@pytest.fixture
def silent() -> Iterator[str]:
    """A loopback nameserver that takes every question and never answers (nor refuses)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def test_a_silent_server_gets_its_share_of_the_timeout_and_the_next_is_asked(dns_server: MakeDnsServer, silent: str) -> None:
    healthy = dns_server(ZONE)
    resolver = AsyncResolver([silent, healthy.nameserver], timeout=0.6, retries=0)
    start = time.monotonic()
    assert run(resolver.query("mx1.vendor.example", "A")) == Answer("ok", ("192.0.2.10",))  # within the one attempt
    assert time.monotonic() - start >= 0.25  # the silent server was waited on first, for about half the timeout
    assert healthy.total_queries == 1


def test_a_silent_server_and_a_failing_one_are_both_named(dns_server: MakeDnsServer, silent: str) -> None:
    broken = dns_server(ZONE)
    broken.fail("vendor.example", "TXT", "servfail")
    resolver = AsyncResolver([silent, broken.nameserver], timeout=0.4, retries=0)
    with pytest.raises(DnsTransientError) as caught:
        run(resolver.query("vendor.example", "TXT"))
    assert str(caught.value) == (
        "DNS server failure (SERVFAIL) and timeout asking TXT for vendor.example after 1 attempt; retry later or check --nameserver"
    )


def test_only_unreachable_servers_is_a_transient_error_that_says_so() -> None:
    resolver = AsyncResolver([f"127.0.0.1:{closed_udp_port()}"], timeout=5, retries=1, backoff=0.01)
    start = time.monotonic()
    with pytest.raises(DnsTransientError) as caught:
        run(resolver.query("vendor.example", "TXT"))
    assert time.monotonic() - start < 1
    assert str(caught.value) == (
        "DNS server unreachable (connection refused) asking TXT for vendor.example after 2 attempts; retry later or check --nameserver"
    )


class ScriptedServer:
    """A UDP server on loopback that answers each query with the datagrams ``script(query)`` returns."""

    def __init__(self, script: Callable[[dns.message.Message], list[bytes]], host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.1)
        port = self.sock.getsockname()[1]
        self.nameserver = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
        self.script = script
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                wire, client = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            for datagram in self.script(dns.message.from_wire(wire)):
                self.sock.sendto(datagram, client)

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()
        self.sock.close()


def reply(query: dns.message.Message, rcode: int = dns.rcode.NOERROR, *records: str) -> dns.message.Message:
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    for text in records:
        response.answer.append(dns.rrset.from_text(query.question[0].name, 300, "IN", query.question[0].rdtype, text))
    return response


def test_garbage_and_answers_to_other_questions_are_skipped() -> None:
    def script(query: dns.message.Message) -> list[bytes]:
        other = dns.message.make_query("other.example", "TXT")
        other.id = query.id  # same id, different question: not the answer
        wrong_id = reply(query, dns.rcode.NOERROR, '"v=spf1 -all"')
        wrong_id.id = (query.id + 1) % 65536
        right = reply(query, dns.rcode.NOERROR, '"v=spf1 ~all"')
        echo = query.to_wire()  # our own query reflected back: QR not set, not an answer
        return [b"\x00junk", echo, reply(other, dns.rcode.NOERROR, '"x"').to_wire(), wrong_id.to_wire(), right.to_wire()]

    with ScriptedServer(script) as server:
        answer = run(AsyncResolver([server.nameserver], timeout=2, retries=0).query("vendor.example", "TXT"))
    assert answer == Answer("ok", ("v=spf1 ~all",))


@pytest.mark.parametrize(("rcode", "words"), [(dns.rcode.FORMERR, "error FORMERR"), (dns.rcode.NOTIMP, "error NOTIMP")])
def test_other_error_rcodes_are_server_failures(rcode: int, words: str) -> None:
    with ScriptedServer(lambda q: [reply(q, rcode).to_wire()]) as server:
        with pytest.raises(DnsTransientError) as caught:
            run(AsyncResolver([server.nameserver], retries=0).query("vendor.example", "TXT"))
    assert str(caught.value) == f"DNS {words} asking TXT for vendor.example after 1 attempt; retry later or check --nameserver"


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
def test_an_ipv6_nameserver_is_asked_over_ipv6() -> None:
    with ScriptedServer(lambda q: [reply(q, dns.rcode.NOERROR, "192.0.2.1").to_wire()], host="::1") as server:
        answer = run(AsyncResolver([server.nameserver], timeout=2, retries=0).query("vendor.example", "A"))
    assert answer == Answer("ok", ("192.0.2.1",))


def test_a_loop_without_readers_receives_through_the_loop(dns_server: MakeDnsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows' proactor loop has no add_reader; the resolver then awaits the loop's sock_recv."""

    def no_readers(*args: object) -> None:
        raise NotImplementedError

    monkeypatch.setattr(asyncio.SelectorEventLoop, "add_reader", no_readers)
    server = dns_server(ZONE)
    assert run(resolver_for(server).query("mx1.vendor.example", "A")) == Answer("ok", ("192.0.2.10",))
    server.fail("vendor.example", "TXT", "timeout")
    with pytest.raises(DnsTransientError, match="^DNS timeout asking TXT for vendor.example after 1 attempt;"):
        run(resolver_for(server, timeout=0.2, retries=0).query("vendor.example", "TXT"))


def test_yxdomain_is_an_error_not_retried() -> None:
    asked: list[str] = []

    def script(query: dns.message.Message) -> list[bytes]:
        asked.append(query.question[0].name.to_text())
        return [reply(query, dns.rcode.YXDOMAIN).to_wire()]

    with ScriptedServer(script) as server:
        with pytest.raises(DnsError) as caught:
            run(AsyncResolver([server.nameserver], retries=2).query("vendor.example", "TXT"))
    assert not isinstance(caught.value, DnsTransientError)
    assert str(caught.value) == "DNS error asking TXT for vendor.example: the name is too long after DNAME substitution (YXDOMAIN)"
    assert asked == ["vendor.example."]


def test_without_nameservers_the_system_configuration_is_used(dns_server: MakeDnsServer, silent: str, monkeypatch: pytest.MonkeyPatch) -> None:
    server = dns_server(ZONE)
    silent_host, silent_port = parse_nameserver(silent)

    class SystemResolver:  # what dns.resolver.Resolver() reads from resolv.conf
        nameservers = [dns.nameserver.Do53Nameserver(silent_host, silent_port), server.host]
        port = server.port

    monkeypatch.setattr(dns.resolver, "Resolver", SystemResolver)
    resolver = AsyncResolver(timeout=0.4, retries=0)
    assert run(resolver.query("mx1.vendor.example", "A")) == Answer("ok", ("192.0.2.10",))
    assert server.total_queries == 1  # asked after the silent server's share of the timeout


def test_no_system_nameserver_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_configuration(*args: object, **kw: object) -> None:
        raise dns.resolver.NoResolverConfiguration("no nameservers")

    monkeypatch.setattr(dns.resolver, "Resolver", no_configuration)
    resolver = AsyncResolver()  # reads nothing yet
    with pytest.raises(ConfigError, match=r"no DNS server found in the system configuration; pass --nameserver IP\[:PORT\]"):
        run(resolver.query("vendor.example", "TXT"))


# --- bad input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rdtype", "message"),
    [
        ("a..b", "TXT", "'a..b' is not a valid DNS name: A DNS label is empty."),
        ("x" * 64 + ".example", "TXT", f"'{'x' * 64}.example' is not a valid DNS name: A DNS label is > 63 octets long."),
        ("", "TXT", "cannot ask DNS about an empty name"),
        ("vendor.example", "CNAME", "cannot ask DNS type 'CNAME'; supported: TXT, A, AAAA, MX"),
    ],
)
def test_bad_questions_are_config_errors(dns_server: MakeDnsServer, name: str, rdtype: str, message: str) -> None:
    server = dns_server(ZONE)
    with pytest.raises(ConfigError) as caught:
        run(resolver_for(server).query(name, rdtype))
    assert caught.value.problems[0].message == message
    assert server.total_queries == 0


@pytest.mark.parametrize(
    ("kw", "problem"),
    [
        ({"timeout": 0}, "timeout: must be more than 0 seconds [resolver-timeout]"),
        ({"retries": -1}, "retries: must be 0 or more [resolver-retries]"),
        ({"concurrency": 0}, "concurrency: must be 1 or more [resolver-concurrency]"),
        ({"backoff": -0.1}, "backoff: must be 0 or more seconds [resolver-backoff]"),
    ],
)
def test_bad_settings_are_config_errors(kw: dict[str, float], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        AsyncResolver(["127.0.0.1"], **kw)  # type: ignore[arg-type]
    assert str(caught.value) == f"resolver: {problem}"


def test_a_bad_nameserver_fails_at_construction() -> None:
    with pytest.raises(ConfigError, match="--nameserver 'ns1.example'"):
        AsyncResolver(["127.0.0.1", "ns1.example"])


def test_a_single_nameserver_string_is_accepted(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONE)
    resolver = AsyncResolver(server.nameserver)  # type: ignore[arg-type]
    assert run(resolver.query("mx1.vendor.example", "A")).status == "ok"


# --- parse_nameserver ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.53", ("192.0.2.53", 53)),
        ("192.0.2.53:5353", ("192.0.2.53", 5353)),
        (" 127.0.0.1:53 ", ("127.0.0.1", 53)),
        ("127.0.0.1:65535", ("127.0.0.1", 65535)),
        ("::1", ("::1", 53)),
        ("2001:DB8:0:0::53", ("2001:db8::53", 53)),
        ("::1:53", ("::1:53", 53)),  # a bare IPv6 address takes no port: use brackets
        ("[::1]:5353", ("::1", 5353)),
        ("[2001:db8::1]", ("2001:db8::1", 53)),
    ],
)
def test_parse_nameserver_accepts(text: str, expected: tuple[str, int]) -> None:
    assert parse_nameserver(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("x:y", "port must be 1..65535"),
        ("127.0.0.1:0", "port must be 1..65535"),
        ("127.0.0.1:65536", "port must be 1..65535"),
        ("127.0.0.1:", "port must be 1..65535"),
        ("127.0.0.1:-1", "port must be 1..65535"),
        ("127.0.0.1:５３", "port must be 1..65535"),  # non-ASCII digits
        ("[::1]:http", "port must be 1..65535"),
        ("", "no IP address given"),
        (":53", "no IP address given"),
        ("ns1.example", "'ns1.example' is not an IP address (give the server's IP, not a host name)"),
        ("ns1.example:53", "'ns1.example' is not an IP address (give the server's IP, not a host name)"),
        ("256.0.0.1", "'256.0.0.1' is not an IP address (give the server's IP, not a host name)"),
        ("1.2.3.4:5:6", "'1.2.3.4:5:6' is not an IP address (give the server's IP, not a host name)"),
        ("[::1", "missing ']' after the IPv6 address"),
        ("[::1]53", "expected ':PORT' after ']'"),
        ("[192.0.2.1]:53", "brackets are for IPv6 addresses only"),
    ],
)
def test_parse_nameserver_rejects(text: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_nameserver(text)
    (problem,) = caught.value.problems
    assert problem.message == f"--nameserver {text!r}: {reason}"
    assert problem.code == "bad-nameserver"
    assert caught.value.exit_code == 2


# --- lookups run on loop callbacks: what a task would have done for them ---------------------------------


def test_a_cancelled_ask_future_leaves_the_question_to_the_others(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONE, delay=0.2)
    resolver = resolver_for(server)

    async def main() -> tuple[bool, Answer]:
        leaver = resolver.ask("mx1.vendor.example", "A")
        stayer = resolver.ask("mx1.vendor.example", "A")
        leaver.cancel()
        return leaver.cancelled(), await asyncio.wait_for(stayer, 10)

    assert run(main()) == (True, Answer("ok", ("192.0.2.10",)))
    assert server.total_queries == 1


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open files through /proc")
def test_a_loop_ending_mid_question_closes_its_sockets_and_the_resolver_serves_the_next_loop(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONE, delay=5)
    resolver = AsyncResolver([server.nameserver], timeout=30, retries=0, concurrency=4)

    async def abandon() -> None:
        for i in range(10):  # 4 in flight on sockets, 6 waiting for a slot
            asyncio.ensure_future(resolver.query(f"n{i}.vendor.example", "A"))
        await asyncio.sleep(0.05)
        raise RuntimeError("the run ends while questions are in flight")

    before = open_fds()
    with pytest.raises(RuntimeError):
        asyncio.run(abandon())
    assert open_fds() == before  # every socket closed with the loop, not left to the garbage collector
    server.delay = 0.0
    assert run(asyncio.wait_for(resolver.query("mx1.vendor.example", "A"), 10)) == Answer("ok", ("192.0.2.10",))
    assert resolver.queries_sent == 5  # 4 abandoned, 1 answered: the 6 waiting were never sent


class _NoRouteSocket(socket.socket):
    """Sending fails at once, as it does when the machine is offline."""

    def send(self, data: object, flags: int = 0) -> int:
        raise OSError(errno.ENETUNREACH, "Network is unreachable")


def test_thousands_of_questions_failing_at_once_do_not_recurse(silent: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first question holds the only slot until the silent server's timeout; then the network is gone,
    and each of the 2999 waiting questions fails as it starts, freeing the slot for the next one while
    being started itself: that must loop, not nest."""
    connect = resolver_module._connected_udp_socket
    sockets: list[str] = []

    def first_silent_then_no_route(host: str, port: int) -> socket.socket:
        sockets.append(host)
        return connect(host, port) if len(sockets) == 1 else _NoRouteSocket(socket.AF_INET, socket.SOCK_DGRAM)

    monkeypatch.setattr(resolver_module, "_connected_udp_socket", first_silent_then_no_route)
    resolver = AsyncResolver([silent], timeout=0.2, retries=0, concurrency=1)

    async def main() -> list[object]:
        return await asyncio.gather(*(resolver.query(f"n{i}.example", "A") for i in range(3000)), return_exceptions=True)

    results = run(main())
    assert [type(r) for r in results] == [DnsTransientError] * 3000
    assert str(results[0]) == "DNS timeout asking A for n0.example after 1 attempt; retry later or check --nameserver"
    assert str(results[1]) == (
        "DNS failure (OSError: [Errno 101] Network is unreachable) asking A for n1.example after 1 attempt; retry later or check --nameserver"
    )


def test_an_unexpected_error_reaches_the_callers_instead_of_leaving_them_waiting(dns_server: MakeDnsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(rdtype: str, rdatas: object) -> tuple[str, ...]:
        raise RuntimeError("a bug while reading the answer")

    monkeypatch.setattr(resolver_module, "canonical_values", broken)
    resolver = resolver_for(dns_server(ZONE), timeout=5)
    with pytest.raises(RuntimeError, match="a bug while reading the answer"):
        run(asyncio.wait_for(resolver.query("mx1.vendor.example", "A"), 10))
    assert resolver._inflight == {}


# --- the query on the wire, and what counts as its answer ------------------------------------------------


@pytest.mark.parametrize("name", ["vendor.example", "_dmarc.example.com", "s1._domainkey.d0001.bench.example", "xn--caf-dma.example", "café.example"])
@pytest.mark.parametrize("rdtype", ["TXT", "A", "AAAA", "MX"])
def test_the_query_is_the_one_dnspython_would_send(name: str, rdtype: str) -> None:
    qname = dns.name.from_text(name)
    wire = resolver_module._query_wire(0x1F2E, qname, dns.rdatatype.from_text(rdtype))
    assert wire == dns.message.make_query(qname, rdtype, id=0x1F2E).to_wire()


def test_an_answer_echoing_the_question_in_other_case_is_ours() -> None:
    def script(query: dns.message.Message) -> list[bytes]:
        shouted = dns.message.from_wire(reply(query, dns.rcode.NOERROR, '"v=spf1 ~all"').to_wire())
        question = shouted.question[0]
        upper = dns.name.from_text(question.name.to_text().upper())
        shouted.question = [dns.rrset.RRset(upper, question.rdclass, question.rdtype)]  # as a 0x20-style server echoes it
        other_type = reply(query, dns.rcode.NOERROR)
        other_type.question = [dns.rrset.RRset(question.name, question.rdclass, dns.rdatatype.A)]  # not our question
        return [other_type.to_wire(), shouted.to_wire()]

    with ScriptedServer(script) as server:
        answer = run(AsyncResolver([server.nameserver], timeout=2, retries=0).query("vendor.example", "TXT"))
    assert answer == Answer("ok", ("v=spf1 ~all",))


def test_a_servfail_without_a_question_is_the_servers_failure_not_noise(dns_server: MakeDnsServer) -> None:
    def script(query: dns.message.Message) -> list[bytes]:
        bare = reply(query, dns.rcode.SERVFAIL)
        bare.question = []
        return [bare.to_wire()]

    healthy = dns_server(ZONE)
    with ScriptedServer(script) as server:
        start = time.monotonic()
        answer = run(AsyncResolver([server.nameserver, healthy.nameserver], timeout=4, retries=0).query("mx1.vendor.example", "A"))
    assert answer == Answer("ok", ("192.0.2.10",))
    assert time.monotonic() - start < 1  # moved on at once, not after the first server's share of the timeout
