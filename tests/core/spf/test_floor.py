"""The safety floor: a flattened set never silently authorizes the Internet, and says which vendor would."""

from __future__ import annotations

import pytest

from sending_domain.core.errors import SpfError
from sending_domain.core.spf.flatten import FlattenOptions, flatten_snapshot
from tests.core.spf.test_flatten import snap

D = "example.com"
ROOT = "v=spf1 include:_spf.good.example include:open.example.net -all"
GOOD = {"_spf.good.example TXT": "v=spf1 ip4:192.0.2.0/24 ~all"}


@pytest.mark.parametrize(("vendor", "named"), [
    ("v=spf1 +all", "0.0.0.0/0 (every IPv4 address) through include:open.example.net (+all in open.example.net); "
                    "::/0 (every IPv6 address) through include:open.example.net (+all in open.example.net)"),
    ("v=spf1 ip4:0.0.0.0/1 ip4:128.0.0.0/1 -all",
     "0.0.0.0/0 (every IPv4 address) through include:open.example.net (ip4:0.0.0.0/1 in open.example.net, "
     "ip4:128.0.0.0/1 in open.example.net)"),
    ("v=spf1 ip4:10.0.0.0/8 ip4:11.0.0.0/8 -all",  # each at the floor, merged below it: both are named
     "10.0.0.0/7 (a large part of the Internet) through include:open.example.net (ip4:10.0.0.0/8 in "
     "open.example.net, ip4:11.0.0.0/8 in open.example.net)"),
    ("v=spf1 include:deep.example.net -all", "through include:open.example.net (ip6:2000::/3 in deep.example.net)"),
])
def test_a_wide_vendor_is_refused_naming_the_vendor_and_the_term(vendor: str, named: str) -> None:
    answers = snap(**GOOD, **{"open.example.net TXT": vendor, "deep.example.net TXT": "v=spf1 ip6:2000::/3 -all"})
    with pytest.raises(SpfError) as err:
        flatten_snapshot(D, answers, ROOT)
    message = str(err.value)
    assert message.startswith("the flattened SPF set of example.com would authorize ")
    assert named in message
    assert "_spf.good.example" not in message.split("Refused")[0]  # a vendor within the floor is not blamed
    assert message.endswith("list it in spf.allowWide (include:open.example.net)")


def test_a_vendor_the_stack_allows_explicitly_may_be_wide() -> None:
    answers = snap(**GOOD, **{"open.example.net TXT": "v=spf1 ip4:0.0.0.0/1 ip4:128.0.0.0/1 -all"})
    result = flatten_snapshot(D, answers, ROOT, FlattenOptions(allow_wide=("include:open.example.net",)))
    assert result.records[0].value == "v=spf1 ip4:0.0.0.0/0 -all"
    with pytest.raises(SpfError):  # allowing another vendor does not allow this one
        flatten_snapshot(D, answers, ROOT, FlattenOptions(allow_wide=("include:_spf.good.example",)))


def test_without_refusal_the_floor_is_a_warning() -> None:
    result = flatten_snapshot(D, {}, "v=spf1 +all", FlattenOptions(refuse_wide=False))
    assert result.records[0].value == "v=spf1 all"
    assert result.warnings == (
        "the flattened SPF set of example.com would authorize 0.0.0.0/0 (every IPv4 address) through +all (+all in "
        "example.com); ::/0 (every IPv6 address) through +all (+all in example.com): wider than the /8 (IPv4) and "
        "/16 (IPv6) floor the stack applies to its own senders",
    )


def test_networks_at_the_floor_pass() -> None:
    answers = snap(**GOOD, **{"open.example.net TXT": "v=spf1 ip4:10.0.0.0/8 ip6:2001::/16 -all"})
    assert flatten_snapshot(D, answers, ROOT).records[0].value == "v=spf1 ip4:10.0.0.0/8 ip4:192.0.2.0/24 ip6:2001::/16 -all"


def test_a_pass_decided_away_by_an_earlier_fail_is_not_wide() -> None:
    answers = snap(**{"open.example.net TXT": "v=spf1 -ip4:0.0.0.0/1 -ip4:128.0.0.0/1 ip4:0.0.0.0/0 ip6:2001:db8::/32 -all"})
    value = flatten_snapshot(D, answers, "v=spf1 include:open.example.net -all").records[0].value
    assert value == "v=spf1 ip6:2001:db8::/32 -all"
