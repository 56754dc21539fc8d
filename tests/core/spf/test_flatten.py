"""Semantics of evaluation and flattening over in-memory snapshots: exact outputs and exact refusals."""

from __future__ import annotations

import random

import pytest

from sending_domain.core.dnsdata import Answer
from sending_domain.core.errors import SpfError
from sending_domain.core.spf.flatten import FlattenOptions, flatten_snapshot
from sending_domain.core.spf.tree import evaluate

D = "example.com"


def snap(**records: object) -> dict:
    """``snap(**{"name TYPE": value | [values] | "nxdomain" | "nodata"})``."""
    out = {}
    for key, value in records.items():
        name, rdtype = key.rsplit(" ", 1)
        if value in ("nxdomain", "nodata"):
            out[(name, rdtype)] = Answer(value)  # type: ignore[arg-type]
        else:
            values = (value,) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]
            out[(name, rdtype)] = Answer("ok", values)
    return out


def texts(record: str, answers: dict, **kw: object) -> list[str]:
    return [r.value for r in flatten_snapshot(D, answers, record, FlattenOptions(**kw)).records]


def test_include_contributes_only_what_the_child_passes() -> None:
    answers = snap(**{"v.example.net TXT": "v=spf1 -ip4:192.0.2.1 ip4:192.0.2.0/30 ~ip4:198.51.100.0/24 ?all"})
    # 192.0.2.1 is failed by the child before its /30 passes it; the child's ~ and ?all never leak.
    assert texts("v=spf1 include:v.example.net -all", answers) == ["v=spf1 ip4:192.0.2.0 ip4:192.0.2.2/31 -all"]


def test_later_negative_in_child_does_not_remove_an_earlier_pass() -> None:
    answers = snap(**{"v.example.net TXT": "v=spf1 ip4:192.0.2.0/24 -ip4:192.0.2.1 -all"})
    assert texts("v=spf1 include:v.example.net ~all", answers) == ["v=spf1 ip4:192.0.2.0/24 ~all"]


def test_include_qualifier_applies_to_the_child_pass_set() -> None:
    answers = snap(**{"bad.example.net TXT": "v=spf1 ip4:203.0.113.0/24 -all"})
    assert texts("v=spf1 -include:bad.example.net ip4:203.0.0.0/16 ~all", answers) == [
        "v=spf1 ip4:203.0.0.0/18 ip4:203.0.64.0/19 ip4:203.0.96.0/20 ip4:203.0.112.0/24 ip4:203.0.114.0/23 "
        "ip4:203.0.116.0/22 ip4:203.0.120.0/21 ip4:203.0.128.0/17 -ip4:203.0.113.0/24 ~all"
    ]


def test_child_plus_all_passes_everything_not_decided_before() -> None:
    answers = snap(**{"open.example.net TXT": "v=spf1 -ip4:0.0.0.0/1 -ip6:::/1 +all"})
    assert texts("v=spf1 include:open.example.net -all", answers, refuse_wide=False) == ["v=spf1 ip4:128.0.0.0/1 ip6:8000::/1 -all"]


def test_redirect_used_only_without_all() -> None:
    answers = snap(**{"r.example.net TXT": "v=spf1 ip4:192.0.2.0/24 ~all"})
    assert texts("v=spf1 ip4:198.51.100.1 redirect=r.example.net", answers) == ["v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.1 ~all"]
    # With an all, redirect is ignored and its target is never asked for.
    ev = evaluate(D, {}, "v=spf1 ip4:198.51.100.1 -all redirect=r.example.net")
    assert ev.missing == set() and ev.program is not None and ev.program.default == "-"
    assert texts("v=spf1 ip4:198.51.100.1 -all redirect=r.example.net", {}) == ["v=spf1 ip4:198.51.100.1 -all"]


def test_redirect_target_without_all_gives_neutral_default() -> None:
    answers = snap(**{"r.example.net TXT": "v=spf1 ip4:192.0.2.0/24"})
    assert texts("v=spf1 redirect=r.example.net", answers) == ["v=spf1 ip4:192.0.2.0/24"]


def test_bare_a_and_mx_in_an_include_mean_the_included_domain() -> None:
    answers = snap(**{
        "v.example.net TXT": "v=spf1 a mx/28 -all",
        "v.example.net A": "192.0.2.10", "v.example.net AAAA": "2001:db8::10",
        "v.example.net MX": ["10 mx.v.example.net"],
        "mx.v.example.net A": "198.51.100.7", "mx.v.example.net AAAA": "nodata",
        # the root's own names must not be used for the child's bare terms
        "example.com A": "203.0.113.99",
    })
    assert texts("v=spf1 include:v.example.net -all", answers) == [
        "v=spf1 ip4:192.0.2.10 ip4:198.51.100.0/28 ip6:2001:db8::10 -all"
    ]


def test_a_with_dual_cidr() -> None:
    answers = snap(**{"h.example.net A": ["192.0.2.77", "192.0.2.200"], "h.example.net AAAA": "2001:db8:1:2::5"})
    assert texts("v=spf1 a:h.example.net/25//48 -all", answers) == ["v=spf1 ip4:192.0.2.0/24 ip6:2001:db8:1::/48 -all"]


def test_kept_terms_stay_in_place_and_order_is_exact() -> None:
    answers = snap(**{"v.example.net TXT": "v=spf1 ip4:192.0.2.0/24 -all"})
    record = "v=spf1 -ip4:192.0.2.5 exists:%{i}.allow.example.com include:v.example.net ptr:example.com ~all"
    assert texts(record, answers) == [
        "v=spf1 -ip4:192.0.2.5 exists:%{i}.allow.example.com ip4:192.0.2.0/30 ip4:192.0.2.4 ip4:192.0.2.6/31 "
        "ip4:192.0.2.8/29 ip4:192.0.2.16/28 ip4:192.0.2.32/27 ip4:192.0.2.64/26 ip4:192.0.2.128/25 ptr:example.com ~all"
    ]


def test_child_with_macro_is_kept_as_include_and_its_lookups_counted() -> None:
    answers = snap(**{"sp.example.net TXT": "v=spf1 exists:%{i}._spf.sp.example.net include:x.example.net ~all",
                      "x.example.net TXT": "v=spf1 ip4:192.0.2.1 -all"})
    result = flatten_snapshot(D, answers, "v=spf1 include:sp.example.net ip4:198.51.100.0/24 -all")
    assert [r.value for r in result.records] == ["v=spf1 include:sp.example.net ip4:198.51.100.0/24 -all"]
    assert result.lookups == 3 and result.original_lookups == 3
    assert result.warnings == ("include:sp.example.net is kept as written (sp.example.net holds terms that must stay as written); it costs 3 lookup(s)",)


@pytest.mark.parametrize(("answers", "record", "reason"), [
    (snap(**{"a.example.net TXT": "v=spf1 include:b.example.net", "b.example.net TXT": "v=spf1 include:a.example.net"}),
     "v=spf1 include:a.example.net -all",
     "SPF loop: a.example.net -> b.example.net -> a.example.net; receivers return permerror (RFC 7208 §4.6.4)"),
    (snap(**{"a.example.net TXT": "v=spf1 redirect=example.com"}), "v=spf1 redirect=a.example.net",
     "SPF loop: example.com -> a.example.net -> example.com; receivers return permerror (RFC 7208 §4.6.4)"),
    (snap(**{"a.example.net TXT": "google-site-verification=x"}), "v=spf1 include:a.example.net -all",
     "include:a.example.net in example.com: a.example.net has no SPF record, which makes the evaluation permerror (RFC 7208 §5.2)"),
    (snap(**{"a.example.net TXT": "nxdomain"}), "v=spf1 include:a.example.net -all",
     "include:a.example.net in example.com: a.example.net does not exist (NXDOMAIN), which makes the evaluation permerror (RFC 7208 §5.2)"),
    (snap(**{"a.example.net TXT": ["v=spf1 -all", "v=spf1 +all"]}), "v=spf1 include:a.example.net -all",
     "a.example.net publishes 2 SPF records; receivers return permerror (RFC 7208 §4.5)"),
    (snap(**{"m.example.net MX": [f"{i} mx{i}.example.net" for i in range(11)]}), "v=spf1 mx:m.example.net -all",
     "mx:m.example.net in example.com: m.example.net has 11 MX records, more than 10: permerror (RFC 7208 §4.6.4)"),
    (snap(**{"a.example.net TXT": "v=spf1 ip4:192.0.2.1 foo:bar"}), "v=spf1 include:a.example.net -all",
     "term 'foo:bar' in the SPF record of a.example.net: unknown mechanism"),
])
def test_refuses_what_receivers_would_fail_on(answers: dict, record: str, reason: str) -> None:
    with pytest.raises(SpfError) as err:
        flatten_snapshot(D, answers, record)
    assert str(err.value) == reason


def test_missing_answers_are_all_reported_in_one_pass() -> None:
    ev = evaluate(D, snap(**{"v.example.net TXT": "v=spf1 include:w.example.net a:h.example.net -all"}),
                  "v=spf1 include:v.example.net mx include:u.example.net -all")
    assert ev.program is None
    assert ev.missing == {("w.example.net", "TXT"), ("h.example.net", "A"), ("h.example.net", "AAAA"),
                          ("example.com", "MX"), ("u.example.net", "TXT")}


def test_output_is_identical_for_answers_in_any_order() -> None:
    nets = [f"ip4:10.{i}.{j}.0/24" for i in range(4) for j in range(0, 40, 3)]
    outputs = set()
    rng = random.Random(7)
    for _ in range(5):
        shuffled = nets[:]
        rng.shuffle(shuffled)
        answers = snap(**{"v.example.net TXT": ["v=spf1 " + " ".join(shuffled) + " -all", "unrelated=1"],
                          "h.example.net A": rng.sample(["192.0.2.1", "192.0.2.3", "192.0.2.2"], 3),
                          "h.example.net AAAA": "nodata"})
        items = list(answers.items())
        rng.shuffle(items)
        result = flatten_snapshot(D, dict(items), "v=spf1 a:h.example.net include:v.example.net ~all")
        outputs.add(tuple((r.name, r.data) for r in result.records))
    assert len(outputs) == 1


def test_split_into_chains_within_limits_and_root_keeps_all() -> None:
    nets = " ".join(f"ip4:10.{i}.{j}.0/24" for i in range(8) for j in range(0, 100, 4))
    answers = snap(**{"big.example.net TXT": f"v=spf1 {nets} ~all"})
    result = flatten_snapshot(D, answers, "v=spf1 include:big.example.net -all")
    root, *chains = result.records
    assert root.name == D and root.value.endswith(" -all")
    assert [c.name for c in chains] == [f"_spf{i}.example.com" for i in range(1, len(chains) + 1)]
    for record in result.records:
        assert all(len(s.encode()) <= 255 for s in record.data)
        assert len(record.value.encode()) <= 450
    assert all(" all" not in c.value and "~all" not in c.value for c in chains)
    assert result.lookups == len(chains) == root.value.count("include:_spf")
    listed = {t for c in chains for t in c.value.split()[1:]} | {t for t in root.value.split()[1:] if t.startswith("ip4:")}
    assert len(listed) == 200


def test_over_the_limit_fails_and_says_what_costs_what() -> None:
    answers = snap(**{"k.example.net TXT": "v=spf1 exists:%{i}.k.example.net a:h.example.net a:h2.example.net -all",
                      "h.example.net A": "192.0.2.1", "h.example.net AAAA": "2001:db8::1",
                      "h2.example.net A": "192.0.2.2", "h2.example.net AAAA": "2001:db8::2"})
    with pytest.raises(SpfError) as err:
        flatten_snapshot(D, answers, "v=spf1 include:k.example.net ptr exists:%{l}.x.example.com -all", FlattenOptions(max_lookups=5))
    assert str(err.value) == (
        "the flattened SPF set of example.com would need 6 DNS lookups, more than 5 (RFC 7208 §4.6.4): "
        "include:k.example.net costs 4; ptr costs 1; exists:%{l}.x.example.com costs 1. "
        "Remove senders, replace kept terms with ip4/ip6, or allow more bytes per record"
    )
