"""Every report row named: a sender of the stack (aligned or not, and why), forwarded, or unknown."""

from __future__ import annotations

from pathlib import Path

import pytest

from sending_domain.core.dmarc_evidence import Classified, Facts, build_inventory, classify, sender_networks
from sending_domain.core.spf.lock import SpfLock
from sending_domain.desired import read_lock
from sending_domain.stack import load_stack

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = load_stack(config_file=ROOT / "stacks" / "Pulumi.example.yaml").settings.domain("example.com")
LOCK = read_lock(ROOT / "stacks" / "spf.lock.json")
assert LOCK is not None
INVENTORY = build_inventory(SETTINGS, LOCK, {"include:_spf.partner.example.net": ["partner1"]})
D = "example.com"


def group(ip: str, dkim_ok: bool = True, spf_ok: bool = True, envelope: str = "bounce.example.com",
          dkim: tuple = ((D, "s2026a", "pass"),), reasons: tuple = (), spf: tuple | None = None) -> tuple[str, Facts]:
    spf = spf if spf is not None else ((envelope, "mfrom", "pass" if spf_ok else "fail"),)
    return ip, Facts(dkim_ok, spf_ok, D, envelope, dkim, spf, reasons)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        # SES (amazonses.com's pinned networks include 54.240.0.0/17)
        (group("54.240.0.10"), Classified("aligned", "amazonses", "")),
        # the office relay, listed as a raw term, aligned by SPF only
        (group("192.0.2.77", dkim_ok=False, envelope=D, dkim=()), Classified("aligned", "ip4:192.0.2.0/24", "")),
        (group("2001:db8::5"), Classified("aligned", "ip6:2001:db8::/32", "")),
        # Google's networks (209.85.128.0/17), but the mail is not aligned: the three reasons
        (group("209.85.128.9", False, False, envelope="crm.example.net", dkim=()),
         Classified("unaligned", "google-workspace", "no DKIM signature; envelope domain crm.example.net not aligned")),
        (group("209.85.128.9", False, False, envelope="crm.example.net", dkim=(("crm.example.net", "k1", "pass"),)),
         Classified("unaligned", "google-workspace",
                    "DKIM d=crm.example.net (another domain); envelope domain crm.example.net not aligned")),
        (group("209.85.128.9", False, False, envelope=D, dkim=((D, "google", "fail"),)),
         Classified("unaligned", "google-workspace", "DKIM d=example.com s=google fail; SPF fail for example.com")),
        # a sibling subdomain's signature is aligned under relaxed alignment: its reason is the failure, not the domain
        (group("209.85.128.9", False, False, envelope="bounce.example.com", dkim=(("mail.example.com", "k", "fail"),)),
         Classified("unaligned", "google-workspace", "DKIM d=mail.example.com s=k fail; SPF fail for bounce.example.com")),
        # a sender's network, not aligned, but a mailing list said so: forwarded, counted apart
        (group("209.85.128.9", False, False, reasons=(("mailing_list", ""),)),
         Classified("forwarded", "google-workspace", "mailing_list override")),
        # outside every network: DKIM aligned with our key, SPF not — forwarded, attributed to SES by the selector
        (group("203.0.113.5", True, False, envelope=D),
         Classified("forwarded", "amazonses", "DKIM aligned, SPF not, from outside the senders' networks")),
        # the partner's own selector names it
        (group("203.0.113.5", True, False, envelope=D, dkim=((D, "partner1", "pass"),)),
         Classified("forwarded", "include:_spf.partner.example.net", "DKIM aligned, SPF not, from outside the senders' networks")),
        (group("203.0.113.5", False, False, reasons=(("trusted_forwarder", "arc"),), dkim=()),
         Classified("forwarded", "", "trusted_forwarder override")),
        # a spoofer
        (group("233.252.0.9", False, False, envelope=D, dkim=()),
         Classified("unknown", "", "not from a sender of the stack and not aligned")),
        # SPF passes for an address the stack does not know: live SPF is not the stack's
        (group("233.252.0.9", False, True, envelope=D, dkim=()),
         Classified("unknown", "", "SPF passes for an address no sender of the stack owns: is live SPF the stack's?")),
        # SES mail from an address the lock no longer lists, but through our MAIL FROM: still SES
        (group("233.252.0.9", False, True, envelope="bounce.example.com", dkim=()), Classified("aligned", "amazonses", "")),
        (group("not an address", False, False, dkim=()), Classified("unknown", "", "not from a sender of the stack and not aligned")),
    ],
)
def test_classify(row: tuple[str, Facts], expected: Classified) -> None:
    assert classify(INVENTORY, *row) == expected


def test_networks_come_from_the_lock_first_match_wins() -> None:
    assert INVENTORY.sender_of("54.240.0.1") == "amazonses"
    assert INVENTORY.sender_of("64.233.160.1") == "google-workspace"
    assert INVENTORY.sender_of("198.51.100.10") == "include:_spf.partner.example.net"
    assert INVENTORY.sender_of("198.51.100.130") is None  # the partner's /25 ends at .127
    assert INVENTORY.sender_of("192.0.3.1") is None and INVENTORY.sender_of("2001:db9::1") is None
    assert INVENTORY.our_selectors == {"s2026a", "s2026b", "ed2026a"} and INVENTORY.mail_from == "bounce.example.com"


def test_a_sender_the_lock_does_not_pin_is_warned_and_owns_nothing() -> None:
    empty = SpfLock({})
    networks, problem = sender_networks(D, "include:amazonses.com", empty)
    assert not networks and "not pinned in the SPF lock" in problem
    inventory = build_inventory(SETTINGS, empty)
    assert inventory.warnings[0].startswith("amazonses: not pinned in the SPF lock")
    assert classify(inventory, *group("54.240.0.10", True, False, envelope=D)).category == "forwarded"


def test_ses_without_an_amazonses_sender_is_counted_under_its_own_name() -> None:
    from dataclasses import replace

    settings = replace(SETTINGS, senders=("google-workspace",))
    inventory = build_inventory(settings, LOCK)
    assert [s.name for s in inventory.senders] == ["google-workspace", "amazonses (ses)"]
    assert classify(inventory, *group("54.240.0.10")) == Classified("aligned", "amazonses (ses)", "")
