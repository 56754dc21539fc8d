"""DNS verification against a real DNS server: the deployed zone passes; each broken variant fails its own check."""

from __future__ import annotations

import asyncio

import pytest

from sending_domain.core.checks import exit_code
from sending_domain.core.records import Record
from sending_domain.core.spf.lock import SpfLock
from sending_domain.dns.resolver import AsyncResolver
from sending_domain.spf_lock import refresh_lock
from sending_domain.verify.runner import VerifyIO
from tests.conftest import MakeDnsServer
from tests.verify.deployment import VENDORS, Zone, checks_of, dkim_public, private_keys, render, stack, verify

from sending_domain.core import dkim

ROOT, CHAIN, MAIL_FROM = "example.com", "_spf1.example.com", "bounce.example.com"
S_ACTIVE = "s2026a._domainkey.example.com"
S_REVOKED = "s2025a._domainkey.example.com"
DMARC = "_dmarc.example.com"
AUTH_OURS = "example.com._report._dmarc.example.net"
RUA = "rua=mailto:dmarc@example.com,mailto:reports@example.net,mailto:dmarc@reports.example.org"


@pytest.fixture
def deployed(dns_server: MakeDnsServer):
    server = dns_server()
    zone = Zone.deployed(render(server))
    return server, zone


def serve(server, zone: Zone):
    server.load(zone.text())
    return verify(server)


def test_deployed_stack_passes(deployed) -> None:
    server, zone = deployed
    run = serve(server, zone)
    statuses = {(r.domain, c.name): c.status for r in run.reports for c in r.checks}
    assert set(statuses.values()) == {"pass"}, statuses
    assert exit_code(run.reports) == 0
    names = set(checks_of(run))
    assert {"spf.record", "spf.lookups", "spf.voids", "spf.size", "spf.match", "spf.senders"} <= names
    assert {"dkim.s2026a", "dkim.s2025b", "dkim.s2025a", "dkim.ed2026a", "dmarc.record", "dmarc.policy"} <= names
    assert {"dmarc.report-auth.example.net", "dmarc.report-auth.reports.example.org", "mail-from.mx", "mail-from.spf"} <= names
    assert {"alignment.spf", "alignment.dkim"} <= names


def _other_key(algorithm: str) -> str:
    return dkim.public_key_b64(dkim.generate_private_key_pem(algorithm))


def _dup(name: str, rtype: str = "TXT"):
    def mutate(zone: Zone) -> None:
        record = zone.find(name, rtype)
        if rtype == "MX":
            zone.add(Record.mx(name, "feedback-smtp.eu-west-1.amazonses.com.other.example", 20))
        else:
            zone.add(Record.txt(name, record.value + " "))  # a second, slightly different record

    return mutate


def _remove(name: str, rtype: str = "TXT"):
    return lambda zone: zone.remove(name, rtype)


def _replace(name: str, value: str):
    return lambda zone: zone.replace(name, value)


def _add(record: Record):
    return lambda zone: zone.add(record)


def _replace_mx(exchange: str):
    def mutate(zone: Zone) -> None:
        zone.remove(MAIL_FROM, "MX")
        zone.add(Record.mx(MAIL_FROM, exchange, 10))

    return mutate


ELEVEN = "v=spf1 " + " ".join(f"include:l{i}.lookups.test" for i in range(1, 12)) + " ~all"
VOIDS = "v=spf1 a:void1.example.com a:void2.example.com a:void3.example.com ~all"
BIG = "v=spf1 " + " ".join(f"ip4:192.0.2.{i}" for i in range(1, 30)) + " ~all"
STALE = "v=spf1 ip4:198.51.100.128/25 ip4:203.0.113.0/24 include:_spf1.example.com ~all"
REORDERED_DMARC = f"v=DMARC1; p=none; {RUA}"

# (id, mutation, check, status, words in the detail)
VARIANTS = [
    ("spf-missing", _remove(ROOT), "spf.record", "fail", "no v=spf1 record at example.com"),
    ("spf-duplicated", _dup(ROOT), "spf.record", "fail", "2 v=spf1 records"),
    ("spf-too-many-lookups", _replace(ROOT, ELEVEN), "spf.lookups", "fail", "needs 11 DNS lookups"),
    ("spf-void-lookups", _replace(ROOT, VOIDS), "spf.voids", "fail", "void lookups"),
    ("spf-too-big", _replace(ROOT, BIG), "spf.size", "fail", "over the 100-byte budget"),
    ("spf-stale-root", _replace(ROOT, STALE), "spf.match", "fail", "stale, lacks ip4:192.0.2.0/24"),
    ("spf-sender-not-covered", _replace(ROOT, STALE), "spf.senders", "fail", "ip4:192.0.2.0/24 (192.0.2.0/24)"),
    ("spf-chain-missing", _remove(CHAIN), "spf.match", "fail", "_spf1.example.com: missing"),
    ("spf-chain-duplicated", _dup(CHAIN), "spf.match", "fail", "_spf1.example.com: 2 SPF records"),
    ("spf-chain-leftover", _add(Record.txt("_spf2.example.com", "v=spf1 ip4:192.0.2.1")), "spf.match", "fail", "_spf2.example.com still holds"),
    ("dkim-missing", _remove(S_ACTIVE), "dkim.s2026a", "fail", "no key record at s2026a._domainkey.example.com"),
    ("dkim-duplicated", _dup(S_ACTIVE), "dkim.s2026a", "fail", "2 TXT records"),
    ("dkim-malformed", _replace(S_ACTIVE, "v=DKIM1; k=rsa; p=not*base64"), "dkim.s2026a", "fail", "does not parse"),
    ("dkim-wrong-type", _replace(S_ACTIVE, f"v=DKIM1; k=ed25519; p={_other_key('ed25519')}"), "dkim.s2026a", "fail", "k=ed25519"),
    ("dkim-wrong-size", _replace(S_ACTIVE, f"v=DKIM1; k=rsa; p={_other_key('rsa-1024')}"), "dkim.s2026a", "fail", "1024-bit"),
    ("dkim-stale-key", _replace(S_ACTIVE, f"v=DKIM1; k=rsa; p={_other_key('rsa-2048')}"), "dkim.s2026a", "fail", "another key"),
    ("dkim-revoked-early", _replace(S_ACTIVE, "v=DKIM1; k=rsa; p="), "dkim.s2026a", "fail", "empty p= (revoked) but the key is active"),
    ("dkim-not-revoked", _replace(S_REVOKED, f"v=DKIM1; k=rsa; p={_other_key('rsa-2048')}"), "dkim.s2025a", "fail", "still publishes"),
    ("dmarc-missing", _remove(DMARC), "dmarc.record", "fail", "no v=DMARC1 record at _dmarc.example.com"),
    ("dmarc-duplicated", _dup(DMARC), "dmarc.record", "fail", "2 DMARC records"),
    ("dmarc-malformed", _replace(DMARC, "v=DMARC1; p"), "dmarc.record", "fail", "does not parse"),
    ("dmarc-wrong-stage", _replace(DMARC, REORDERED_DMARC), "dmarc.policy", "fail", "live stage p=none differs"),
    ("dmarc-without-t", _replace(DMARC, f"v=DMARC1; p=quarantine; pct=25; {RUA}"), "dmarc.policy", "fail", "t=- (stack: y)"),
    ("report-auth-missing", _remove(AUTH_OURS), "dmarc.report-auth.example.net", "fail", "receivers drop the reports"),
    ("mail-from-mx-missing", _remove(MAIL_FROM, "MX"), "mail-from.mx", "fail", "no MX at bounce.example.com"),
    ("mail-from-mx-duplicated", _dup(MAIL_FROM, "MX"), "mail-from.mx", "fail", "2 MX records"),
    ("mail-from-mx-wrong-region", _replace_mx("feedback-smtp.us-east-1.amazonses.com"), "mail-from.mx", "fail", "not feedback-smtp.eu-west-1"),
    ("mail-from-spf-missing", _remove(MAIL_FROM), "mail-from.spf", "fail", "no v=spf1 records at bounce.example.com"),
    ("mail-from-spf-wrong", _replace(MAIL_FROM, "v=spf1 -all"), "mail-from.spf", "fail", "does not include amazonses.com"),
    ("alignment-strict", _replace(DMARC, f"v=DMARC1; p=quarantine; pct=25; t=y; aspf=s; {RUA}"), "alignment.spf", "warn", "does not align"),
]


@pytest.mark.parametrize(("mutate", "check", "status", "words"), [v[1:] for v in VARIANTS], ids=[v[0] for v in VARIANTS])
def test_broken_variant_fails_its_check(deployed, mutate, check: str, status: str, words: str) -> None:
    server, zone = deployed
    mutate(zone)
    run = serve(server, zone)
    found = checks_of(run)
    assert check in found, sorted(found)
    assert found[check][0] == status, found[check]
    assert words in found[check][1]
    report = next(r for r in run.reports if r.domain == "example.com")
    assert next(c for c in report.checks if c.name == check).hint  # something a person can act on
    assert exit_code(run.reports) == 1
    assert checks_of(run, "example.net")["spf.record"][0] == "pass"  # the other domain is unaffected


def test_external_report_authorization_missing_only_warns(deployed) -> None:
    server, zone = deployed
    zone.extra = []
    run = serve(server, zone)
    status, detail = checks_of(run)["dmarc.report-auth.reports.example.org"]
    assert status == "warn" and "not one of our zones" in next(
        c.hint for r in run.reports for c in r.checks if c.name == "dmarc.report-auth.reports.example.org"
    )
    assert exit_code(run.reports) == 0


def test_unknown_public_keys_warn(deployed) -> None:
    server, zone = deployed
    server.load(zone.text())
    run = verify(server, keys=False)
    assert checks_of(run)["dkim.s2026a"][0] == "warn"
    assert exit_code(run.reports) == 0


def test_servfail_is_an_error_not_a_failure(deployed) -> None:
    server, zone = deployed
    server.load(zone.text())
    server.fail(DMARC, "TXT", "servfail")
    run = verify(server)
    assert checks_of(run)["dmarc.record"][0] == "error"
    assert exit_code(run.reports) == 3


def test_vendor_dns_failure_makes_desired_state_an_error(deployed) -> None:
    server, zone = deployed
    server.load(zone.text())
    server.fail("amazonses.com", "TXT", "servfail")
    run = verify(server)
    assert checks_of(run) == {"desired": ("error", checks_of(run)["desired"][1])}
    assert exit_code(run.reports) == 3


def test_lock_is_the_desired_source(deployed) -> None:
    """With a lock, SPF is wanted as pinned: a vendor that changed since does not break verification."""
    server, zone = deployed
    lock: SpfLock = asyncio.run(refresh_lock(stack(), AsyncResolver([server.nameserver]), "2026-01-01T00:00:00Z"))
    changed = VENDORS.replace("ip4:203.0.113.128/25", "ip4:203.0.113.128/25 ip4:100.64.0.0/24")
    server.load(zone.text().replace(VENDORS, changed))
    with_lock = verify(server, lock=lock)
    assert exit_code(with_lock.reports) == 0
    without = verify(server)  # live vendor: the deployed set misses the new network
    assert checks_of(without)["spf.match"][0] == "fail"


def test_wait_retries_until_records_appear(deployed) -> None:
    server, zone = deployed
    missing = Zone(list(zone.records))
    missing.remove(S_ACTIVE)
    server.load(missing.text())
    resolvers: list[AsyncResolver] = []
    slept: list[float] = []

    def fresh() -> AsyncResolver:
        resolvers.append(AsyncResolver([server.nameserver], timeout=1.0, retries=0))
        return resolvers[-1]

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        server.load(zone.text())  # "propagation" happens while we wait

    run = verify(server, io=VerifyIO(resolver=fresh, sleep=sleep), wait=60, backoff=0.5)
    assert run.attempts == 2 and slept == [0.5]
    assert len({id(r) for r in resolvers}) == 2  # a fresh resolver (and cache) per attempt
    assert exit_code(run.reports) == 0


def test_wait_gives_up_when_time_is_up(deployed) -> None:
    server, zone = deployed
    zone.remove(S_ACTIVE)
    server.load(zone.text())
    clock = iter(range(0, 1000, 4)).__next__

    async def sleep(_seconds: float) -> None:
        return None

    io = VerifyIO(resolver=lambda: AsyncResolver([server.nameserver], timeout=1.0, retries=0), sleep=sleep, clock=lambda: float(clock()))
    run = verify(server, io=io, wait=10, backoff=1)
    assert 1 < run.attempts <= 3
    assert exit_code(run.reports) == 1


def test_many_domains_share_one_resolver_per_attempt(deployed) -> None:
    server, zone = deployed
    server.load(zone.text())
    server.reset_counts()
    run = verify(server)
    assert max(server.queries.values()) == 1  # each (name, type) asked once in the run
    assert run.queries == server.total_queries


def test_private_keys_fixture_is_stable() -> None:
    assert private_keys() is private_keys()
    assert set(dkim_public()) == {("example.com", s) for s in ("s2026a", "s2025b", "s2025a", "ed2026a")}
