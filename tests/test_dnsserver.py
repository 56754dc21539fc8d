"""The loopback DNS test server, proven with dnspython as the client over real UDP and TCP."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import pytest

from tests.conftest import MakeDnsServer
from tests.dnsserver import DnsTestServer

ZONES = """\
$ORIGIN vendor.example.
@            TXT   "v=spf1 include:_spf.vendor.example -all"
_spf         TXT   "v=spf1 ip4:192.0.2.0/24" " ip6:2001:db8::/32 ~all"
mail         MX    10 mx1
mail         MX    20 MX2.Vendor.Example.
mx1          A     192.0.2.10
mx1          AAAA  2001:DB8:0:0:0:0:0:10
deep.a.b     A     192.0.2.99
$ORIGIN customer.test.
$TTL 60
@            A     198.51.100.1
www          CNAME mx1.vendor.example.
dangling     CNAME nowhere.vendor.example.
abs.other.   TXT   "absolute name outside any $ORIGIN"
"""

BIG_TXT = " ".join(f'"{chr(97 + i) * 200}"' for i in range(4))  # about 800 octets of TXT data
BIG_ZONE = f"$ORIGIN big.test.\n@ TXT {BIG_TXT}\nsmall TXT \"hi\"\n"


def ask(server: DnsTestServer, name: str, rdtype: str, *, tcp: bool = False, **kw: object) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, **kw)  # type: ignore[arg-type]
    send = dns.query.tcp if tcp else dns.query.udp
    return send(query, server.host, port=server.port, timeout=2)


def resolver_for(server: DnsTestServer) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [server.host]
    resolver.port = server.port
    resolver.lifetime = 3
    return resolver


def rdata_texts(response: dns.message.Message) -> list[tuple[str, str, str]]:
    return [(rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype), rd.to_text()) for rrset in response.answer for rd in rrset]


# --- answers -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rdtype", "expected"),
    [
        ("customer.test", "A", ["198.51.100.1"]),
        ("mx1.vendor.example", "A", ["192.0.2.10"]),
        ("mx1.vendor.example", "AAAA", ["2001:db8::10"]),
        ("mail.vendor.example", "MX", ["10 mx1.vendor.example.", "20 mx2.vendor.example."]),
        ("vendor.example", "TXT", ['"v=spf1 include:_spf.vendor.example -all"']),
        ("abs.other", "TXT", ['"absolute name outside any $origin"']),
    ],
)
def test_answers_each_type(dns_server: MakeDnsServer, name: str, rdtype: str, expected: list[str]) -> None:
    server = dns_server(ZONES)
    answer = resolver_for(server).resolve(name, rdtype)
    assert sorted(rd.to_text().lower() for rd in answer) == sorted(expected)  # compression may change case


def test_answer_is_authoritative_and_keeps_ttls(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONES)
    vendor = ask(server, "mx1.vendor.example", "A")
    customer = ask(server, "customer.test", "A")
    assert vendor.flags & dns.flags.AA and not vendor.flags & dns.flags.RA
    assert vendor.answer[0].ttl == 300  # the default when no $TTL is given
    assert customer.answer[0].ttl == 60


def test_multi_string_txt_is_preserved_exactly(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONES)
    (rdata,) = resolver_for(server).resolve("_spf.vendor.example", "TXT")
    assert rdata.strings == (b"v=spf1 ip4:192.0.2.0/24", b" ip6:2001:db8::/32 ~all")


def test_names_are_case_insensitive_and_the_owner_is_spelled_as_asked(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONES)
    response = ask(server, "MX1.Vendor.EXAMPLE", "A")
    assert rdata_texts(response) == [("MX1.Vendor.EXAMPLE.", "A", "192.0.2.10")]


# --- negative answers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rdtype", "rcode"),
    [
        ("nope.vendor.example", "A", dns.rcode.NXDOMAIN),
        ("mx1.vendor.example", "TXT", dns.rcode.NOERROR),  # the name has other types: NODATA
        ("b.vendor.example", "A", dns.rcode.NOERROR),  # an empty non-terminal above deep.a.b
        ("a.b.vendor.example", "TXT", dns.rcode.NOERROR),
        ("other", "A", dns.rcode.NOERROR),  # ancestor of abs.other
        ("x.deep.a.b.vendor.example", "A", dns.rcode.NXDOMAIN),
    ],
)
def test_nxdomain_versus_nodata(dns_server: MakeDnsServer, name: str, rdtype: str, rcode: int) -> None:
    response = ask(dns_server(ZONES), name, rdtype)
    assert response.rcode() == rcode
    assert response.answer == []
    assert response.flags & dns.flags.AA


def test_resolver_sees_nxdomain_and_noanswer(dns_server: MakeDnsServer) -> None:
    resolver = resolver_for(dns_server(ZONES))
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("nope.vendor.example", "TXT")
    with pytest.raises(dns.resolver.NoAnswer):
        resolver.resolve("a.b.vendor.example", "TXT")


# --- CNAME ---------------------------------------------------------------------------------------------


def test_cname_is_answered_with_the_target_records(dns_server: MakeDnsServer) -> None:
    response = ask(dns_server(ZONES), "www.customer.test", "A")
    assert response.rcode() == dns.rcode.NOERROR
    assert rdata_texts(response) == [
        ("www.customer.test.", "CNAME", "mx1.vendor.example."),
        ("mx1.vendor.example.", "A", "192.0.2.10"),
    ]


def test_cname_target_without_the_type_gives_only_the_cname(dns_server: MakeDnsServer) -> None:
    response = ask(dns_server(ZONES), "www.customer.test", "TXT")
    assert response.rcode() == dns.rcode.NOERROR
    assert rdata_texts(response) == [("www.customer.test.", "CNAME", "mx1.vendor.example.")]


def test_cname_to_a_missing_name_is_nxdomain_with_the_cname(dns_server: MakeDnsServer) -> None:
    response = ask(dns_server(ZONES), "dangling.customer.test", "A")  # RFC 6604 §2
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert rdata_texts(response) == [("dangling.customer.test.", "CNAME", "nowhere.vendor.example.")]


def test_asking_for_the_cname_itself_does_not_follow_it(dns_server: MakeDnsServer) -> None:
    response = ask(dns_server(ZONES), "www.customer.test", "CNAME")
    assert rdata_texts(response) == [("www.customer.test.", "CNAME", "mx1.vendor.example.")]


def test_resolver_follows_the_cname(dns_server: MakeDnsServer) -> None:
    answer = resolver_for(dns_server(ZONES)).resolve("www.customer.test", "AAAA")
    assert answer.canonical_name.to_text() == "mx1.vendor.example."
    assert [rd.to_text() for rd in answer] == ["2001:db8::10"]


def test_cname_loop_is_servfail(dns_server: MakeDnsServer) -> None:
    server = dns_server("$ORIGIN loop.test.\na CNAME b\nb CNAME a\n")
    assert ask(server, "a.loop.test", "A").rcode() == dns.rcode.SERVFAIL


# --- truncation and TCP --------------------------------------------------------------------------------


def test_big_udp_answer_is_truncated_and_tcp_serves_it(dns_server: MakeDnsServer) -> None:
    server = dns_server(BIG_ZONE)
    udp = ask(server, "big.test", "TXT")
    assert udp.flags & dns.flags.TC
    assert udp.answer == []
    tcp = ask(server, "big.test", "TXT", tcp=True)
    assert not tcp.flags & dns.flags.TC
    assert len(tcp.answer[0][0].strings) == 4


def test_resolver_falls_back_to_tcp_and_gets_everything(dns_server: MakeDnsServer) -> None:
    server = dns_server(BIG_ZONE)
    (rdata,) = resolver_for(server).resolve("big.test", "TXT")
    assert b"".join(rdata.strings) == b"".join(bytes([97 + i]) * 200 for i in range(4))
    assert server.queries[("big.test", "TXT")] == 2  # UDP (truncated), then TCP


def test_small_answers_are_not_truncated(dns_server: MakeDnsServer) -> None:
    assert not ask(dns_server(BIG_ZONE), "small.big.test", "TXT").flags & dns.flags.TC


def test_edns_payload_size_is_honoured(dns_server: MakeDnsServer) -> None:
    server = dns_server(BIG_ZONE)
    roomy = ask(server, "big.test", "TXT", use_edns=0, payload=4096)
    assert not roomy.flags & dns.flags.TC and len(roomy.answer) == 1
    tight = ask(server, "big.test", "TXT", use_edns=0, payload=200)  # below 512 counts as 512
    assert tight.flags & dns.flags.TC


def test_udp_limit_is_configurable(dns_server: MakeDnsServer) -> None:
    server = dns_server(BIG_ZONE, udp_limit=2048)
    assert not ask(server, "big.test", "TXT").flags & dns.flags.TC
    low = dns_server(BIG_ZONE, udp_limit=40)
    assert ask(low, "small.big.test", "TXT").flags & dns.flags.TC


# --- delay and concurrency -----------------------------------------------------------------------------


async def _ask_many(server: DnsTestServer, names: list[str], rdtype: str = "A") -> list[dns.message.Message]:
    async def one(name: str) -> dns.message.Message:
        query = dns.message.make_query(name, rdtype)
        return await dns.asyncquery.udp(query, server.host, port=server.port, timeout=10)

    return await asyncio.gather(*(one(n) for n in names))


def test_delay_is_applied_to_each_answer(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONES, delay=0.3)
    start = time.monotonic()
    ask(server, "customer.test", "A")
    assert time.monotonic() - start >= 0.25


def test_delay_can_change_at_runtime(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONES)
    server.delay = 0.3
    start = time.monotonic()
    ask(server, "customer.test", "A")
    assert time.monotonic() - start >= 0.25


def test_concurrent_delayed_answers_sleep_concurrently(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONES, delay=0.2)
    start = time.monotonic()
    responses = asyncio.run(_ask_many(server, ["customer.test"] * 20))
    elapsed = time.monotonic() - start
    assert all(r.rcode() == dns.rcode.NOERROR and r.answer for r in responses)
    assert 0.19 <= elapsed < 20 * 0.2 / 2  # serial answers would take 4 s


def test_hundreds_of_concurrent_questions_are_all_answered(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONES, delay=0.02)
    names = [f"n{i}.vendor.example" for i in range(256)]
    start = time.monotonic()
    responses = asyncio.run(_ask_many(server, names))
    assert all(r.rcode() == dns.rcode.NXDOMAIN for r in responses)
    assert time.monotonic() - start < 256 * 0.02 / 2
    assert server.total_queries == 256


# --- counting ------------------------------------------------------------------------------------------


def test_every_question_is_counted_over_udp_and_tcp(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONES)
    ask(server, "Customer.Test.", "A")
    ask(server, "customer.test", "A", tcp=True)
    ask(server, "nope.vendor.example", "TXT")
    assert server.queries == {("customer.test", "A"): 2, ("nope.vendor.example", "TXT"): 1}
    assert server.total_queries == 3
    server.reset_counts()
    assert server.total_queries == 0 and not server.queries


# --- changing data and failing on purpose --------------------------------------------------------------


def test_load_replaces_all_data(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONES)
    server.load('$ORIGIN fresh.test.\n@ TXT "new"\n')
    assert ask(server, "fresh.test", "TXT").answer[0][0].strings == (b"new",)
    assert ask(server, "customer.test", "A").rcode() == dns.rcode.NXDOMAIN


def test_load_rejects_bad_zone_text_and_keeps_the_old_data(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONES)
    with pytest.raises(dns.exception.SyntaxError):
        server.load("$ORIGIN x.test.\n@ A not-an-address\n")
    assert ask(server, "customer.test", "A").answer


@pytest.mark.parametrize(("mode", "rcode"), [("servfail", dns.rcode.SERVFAIL), ("refused", dns.rcode.REFUSED)])
@pytest.mark.parametrize("tcp", [False, True])
def test_fail_answers_with_the_rcode(dns_server: MakeDnsServer, mode: str, rcode: int, tcp: bool) -> None:
    server = dns_server(ZONES)
    server.fail("Customer.Test.", "a", mode)
    response = ask(server, "customer.test", "A", tcp=tcp)
    assert response.rcode() == rcode and response.answer == []
    assert ask(server, "customer.test", "TXT", tcp=tcp).rcode() == dns.rcode.NOERROR  # other types unaffected


@pytest.mark.parametrize("tcp", [False, True])
def test_fail_timeout_never_answers(dns_server: MakeDnsServer, tcp: bool) -> None:
    server = dns_server(ZONES)
    server.fail("customer.test", "A", "timeout")
    query = dns.message.make_query("customer.test", "A")
    send = dns.query.tcp if tcp else dns.query.udp
    with pytest.raises(dns.exception.Timeout):
        send(query, server.host, port=server.port, timeout=0.3)
    assert server.queries[("customer.test", "A")] == 1


def test_clear_failures_and_bad_mode(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONES)
    server.fail("customer.test", "A", "servfail")
    server.clear_failures()
    assert ask(server, "customer.test", "A").rcode() == dns.rcode.NOERROR
    with pytest.raises(ValueError, match="servfail, refused, timeout"):
        server.fail("customer.test", "A", "explode")


# --- zone files and lifecycle --------------------------------------------------------------------------


def test_from_files_concatenates_and_each_file_starts_afresh(tmp_path: Path) -> None:
    first = tmp_path / "vendor.zone"
    first.write_text('$ORIGIN vendor.example.\n$TTL 60\n@ TXT "vendor"')  # no final newline
    second = tmp_path / "root-relative.zone"
    second.write_text('other.test A 192.0.2.7\n')  # relative to the root again, default TTL again
    with DnsTestServer.from_files(first, str(second)) as server:
        assert ask(server, "vendor.example", "TXT").answer[0].ttl == 60
        response = ask(server, "other.test", "A")
        assert rdata_texts(response) == [("other.test.", "A", "192.0.2.7")]
        assert response.answer[0].ttl == 300


def test_nameserver_has_the_cli_form_and_one_port_serves_both_transports(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONES)
    assert server.host == "127.0.0.1"
    assert server.nameserver == f"127.0.0.1:{server.port}"
    assert ask(server, "customer.test", "A").answer == ask(server, "customer.test", "A", tcp=True).answer


def test_stop_is_prompt_with_answers_pending() -> None:
    server = DnsTestServer(ZONES, delay=30).start()
    server.fail("vendor.example", "TXT", "timeout")

    async def pending() -> None:
        queries = [dns.message.make_query(f"n{i}.vendor.example", "A") for i in range(50)]
        tasks = [asyncio.ensure_future(dns.asyncquery.udp(q, server.host, port=server.port, timeout=5)) for q in queries]
        tasks.append(asyncio.ensure_future(dns.asyncquery.tcp(queries[0], server.host, port=server.port, timeout=5)))
        while server.total_queries < 51:
            await asyncio.sleep(0.01)
        start = time.monotonic()
        server.stop()
        assert time.monotonic() - start < 2
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(pending())
    with pytest.raises(dns.exception.Timeout):
        dns.query.udp(dns.message.make_query("customer.test", "A"), "127.0.0.1", port=server.port, timeout=0.2)
    server.stop()  # a second stop is harmless


def test_context_manager_starts_and_stops() -> None:
    with DnsTestServer(ZONES) as server:
        assert ask(server, "customer.test", "A").answer
    with pytest.raises((dns.exception.Timeout, ConnectionError)):
        ask(server, "customer.test", "A", tcp=True)
