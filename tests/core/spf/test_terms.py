"""Parser tests: exact canonical forms for good records, exact reasons for bad ones."""

import pytest

from sending_domain.core.errors import SpfSyntaxError
from sending_domain.core.spf.terms import Mechanism, Modifier, is_spf_record, parse_record

GOOD = [
    ("v=spf1 -all", "v=spf1 -all"),
    ("V=SPF1 IP4:192.0.2.1 ~ALL", "v=spf1 ip4:192.0.2.1 ~all"),
    ("v=spf1   ip4:192.0.2.1/24   ", "v=spf1 ip4:192.0.2.0/24"),
    ("v=spf1 ip6:2001:DB8::/32 ip6:2001:db8::1/128", "v=spf1 ip6:2001:db8::/32 ip6:2001:db8::1"),
    ("v=spf1 +a -mx ?ptr ~exists:%{i}.x.example.com", "v=spf1 a -mx ?ptr ~exists:%{i}.x.example.com"),
    ("v=spf1 a/24 mx//64 a:Mail.Example.COM/24//48", "v=spf1 a/24 mx//64 a:mail.example.com/24//48"),
    ("v=spf1 include:_spf.google.com. ~all", "v=spf1 include:_spf.google.com ~all"),
    ("v=spf1 redirect=_spf.example.com", "v=spf1 redirect=_spf.example.com"),
    ("v=spf1 exp=explain.%{d} -all", "v=spf1 exp=explain.%{d} -all"),
    ("v=spf1 foo=bar%{d} -all", "v=spf1 foo=bar%{d} -all"),
    ("v=spf1 include:%{d2r}.example.com", "v=spf1 include:%{d2r}.example.com"),
    ("v=spf1", "v=spf1"),
]


@pytest.mark.parametrize(("text", "canonical"), GOOD)
def test_good_records_parse_to_canonical_text(text: str, canonical: str) -> None:
    assert str(parse_record(text, "example.com")) == canonical


BAD = [
    ("spf1 -all", "the record of example.com is not an SPF record: an SPF record starts with 'v=spf1' (RFC 7208 §4.5)"),
    ("v=spf10 -all", "the record of example.com is not an SPF record: an SPF record starts with 'v=spf1' (RFC 7208 §4.5)"),
    ("v=spf1 foo", "term 'foo' in the SPF record of example.com: unknown mechanism"),
    ("v=spf1 all:x.example.com", "term 'all:x.example.com' in the SPF record of example.com: 'all' takes no argument"),
    ("v=spf1 ip4:192.0.2", "term 'ip4:192.0.2' in the SPF record of example.com: '192.0.2' is not an IPv4 address"),
    ("v=spf1 ip4:2001:db8::1", "term 'ip4:2001:db8::1' in the SPF record of example.com: '2001:db8::1' is not an IPv4 address"),
    ("v=spf1 ip4:192.0.2.1/33", "term 'ip4:192.0.2.1/33' in the SPF record of example.com: prefix length must be 0..32"),
    ("v=spf1 ip4:192.0.2.1/024", "term 'ip4:192.0.2.1/024' in the SPF record of example.com: prefix length must be 0..32"),
    ("v=spf1 ip6:2001:db8::/129", "term 'ip6:2001:db8::/129' in the SPF record of example.com: prefix length must be 0..128"),
    ("v=spf1 ip4", "term 'ip4' in the SPF record of example.com: 'ip4' needs ':' and an address"),
    ("v=spf1 include", "term 'include' in the SPF record of example.com: 'include' needs ':' and a domain"),
    ("v=spf1 include:", "term 'include:' in the SPF record of example.com: empty domain"),
    ("v=spf1 include:192.0.2.1", "term 'include:192.0.2.1' in the SPF record of example.com: '192.0.2.1' is not a fully qualified domain name"),
    ("v=spf1 include:localhost", "term 'include:localhost' in the SPF record of example.com: 'localhost' is not a fully qualified domain name"),
    ("v=spf1 exists:%{c}.example.com", "term 'exists:%{c}.example.com' in the SPF record of example.com: macro letters c, r and t are allowed only in exp text"),
    ("v=spf1 exists:%{x}.example.com", "term 'exists:%{x}.example.com' in the SPF record of example.com: '%{x}.example.com' is not a valid domain-spec (bad character or macro)"),
    ("v=spf1 a/33", "term 'a/33' in the SPF record of example.com: IPv4 prefix length must be 0..32"),
    ("v=spf1 mx//129", "term 'mx//129' in the SPF record of example.com: IPv6 prefix length must be 0..128"),
    ("v=spf1 a:example.com/", "term 'a:example.com/' in the SPF record of example.com: 'example.com/' is not a fully qualified domain name"),
    ("v=spf1 redirect=a.example redirect=b.example", "modifier 'redirect' appears more than once in the SPF record of example.com (RFC 7208 §6)"),
    ("v=spf1 redirect=", "term 'redirect=' in the SPF record of example.com: empty domain"),
    ("v=spf1 -", "term '-' in the SPF record of example.com: unknown mechanism"),
]


@pytest.mark.parametrize(("text", "reason"), BAD)
def test_bad_records_name_the_term_and_domain(text: str, reason: str) -> None:
    with pytest.raises(SpfSyntaxError) as err:
        parse_record(text, "example.com")
    assert str(err.value) == reason


def test_terms_are_values() -> None:
    rec = parse_record("v=spf1 -include:_spf.example.net mx:mx.example.net/24 redirect=x.example.org", "example.com")
    assert rec.terms == (
        Mechanism("-", "include", "_spf.example.net"),
        Mechanism("+", "mx", "mx.example.net", 24, None),
        Modifier("redirect", "x.example.org"),
    )
    assert rec.redirect == "x.example.org"
    assert not rec.has_all


@pytest.mark.parametrize(("text", "expected"), [("v=spf1", True), ("v=spf1 -all", True), ("V=Spf1 a", True), ("v=spf10", False), ("v=spf2.0/pra", False), ("", False)])
def test_is_spf_record(text: str, expected: bool) -> None:
    assert is_spf_record(text) is expected
