"""Limits lifted consistently (void lookups warn, like lookups over 10), bounded cost, and caps on the whole tree."""

from __future__ import annotations

import pytest

from sending_domain.core.dnsdata import Answer, Question
from sending_domain.core.errors import SpfError, SpfVoidLimitError
from sending_domain.core.spf.flatten import FlattenOptions, flatten_snapshot
from sending_domain.core.spf.tree import MAX_DEPTH, MAX_TERMS, WalkMemo, evaluate, missing_answers
from tests.core.spf.test_flatten import snap

D = "example.com"


def test_void_lookups_over_two_are_flattened_with_one_warning_naming_each_term_once() -> None:
    answers = snap(**{
        "v.example.net TXT": "v=spf1 a:h0.example.net a:h0.example.net ip4:192.0.2.0/24 -all",
        "w.example.net TXT": "v=spf1 include:v.example.net mx:m.example.net -all",
        "h0.example.net A": "nodata", "h0.example.net AAAA": "nodata", "m.example.net MX": "nxdomain",
    })
    result = flatten_snapshot(D, answers, "v=spf1 include:v.example.net include:w.example.net ~all")
    assert [r.value for r in result.records] == ["v=spf1 ip4:192.0.2.0/24 ~all"]
    (warning,) = [w for w in result.warnings if "void" in w]
    assert warning == (
        "the SPF tree of example.com makes more void lookups than receivers allow (5 for IPv4 clients and 5 for "
        "IPv6 clients; at most 2, RFC 7208 §4.6.4): receivers that enforce the limit return permerror for the "
        "original record today; the flattened set does not repeat them (terms kept as written still do). Terms that "
        "point at names without addresses: "
        "a:h0.example.net in v.example.net ×4, mx:m.example.net in w.example.net ×1"
    )


def test_a_only_hosts_are_void_for_ipv6_clients_only() -> None:
    hosts = {f"h{i}.example.net A": f"192.0.2.{i + 1}" for i in range(3)} | {f"h{i}.example.net AAAA": "nodata" for i in range(3)}
    result = flatten_snapshot(D, snap(**hosts), "v=spf1 a:h0.example.net a:h1.example.net a:h2.example.net -all")
    assert result.records[0].value == "v=spf1 ip4:192.0.2.1 ip4:192.0.2.2/31 -all"
    (warning,) = result.warnings
    assert "(3 for IPv6 clients; at most 2" in warning and "IPv4 clients" not in warning.split(";")[0]
    assert warning.endswith(": a:h0.example.net in example.com ×1 (IPv6 clients only), a:h1.example.net in example.com ×1 "
                            "(IPv6 clients only), a:h2.example.net in example.com ×1 (IPv6 clients only)")
    assert evaluate(D, snap(**hosts), "v=spf1 a:h0.example.net a:h1.example.net a:h2.example.net -all").voids == {4: 0, 6: 3}


def test_two_void_lookups_are_within_the_limit_and_not_warned() -> None:
    answers = snap(**{"h.example.net A": "nodata", "h.example.net AAAA": "nodata"})
    result = flatten_snapshot(D, answers | snap(**{"g.example.net A": "192.0.2.1", "g.example.net AAAA": "nodata"}),
                              "v=spf1 a:h.example.net a:g.example.net -all")
    assert not [w for w in result.warnings if "void" in w]


def test_void_lookups_inside_a_kept_include_are_refused_when_over_two() -> None:
    answers = snap(**{
        "k.example.net TXT": "v=spf1 exists:%{i}.k.example.net a:h0.example.net a:h1.example.net a:h2.example.net -all",
        **{f"h{i}.example.net {t}": "nodata" for i in range(3) for t in ("A", "AAAA")},
    })
    with pytest.raises(SpfVoidLimitError) as err:  # the verifier reports it as spf.voids
        flatten_snapshot(D, answers, "v=spf1 include:k.example.net -all")
    assert str(err.value).startswith(
        "the flattened SPF set of example.com would still make 3 void lookups for IPv4 clients through terms kept as "
        "written, more than 2: receivers return permerror (RFC 7208 §4.6.4): include:k.example.net makes 3.")


def test_a_sender_with_no_addresses_is_warned_by_its_stack_key() -> None:
    answers = snap(**{"relay.typo.example A": "nxdomain", "relay.typo.example AAAA": "nxdomain",
                      "ok.example.net A": "192.0.2.1", "ok.example.net AAAA": "nodata",
                      "quiet.example.net TXT": "v=spf1 -all"})
    record = "v=spf1 a:ok.example.net a:relay.typo.example include:quiet.example.net ~all"
    keys = ("domains[1].senders[0]", "domains[1].senders[1]", "domains[1].senders[2]")
    result = flatten_snapshot(D, answers, record, FlattenOptions(sender_keys=keys))
    assert result.warnings == (
        "domains[1].senders[1] (a:relay.typo.example) authorizes no address (its name has no A or AAAA record), "
        "so it adds nothing to the record; check the name",
        "domains[1].senders[2] (include:quiet.example.net) authorizes no address (the included record passes no "
        "address), so it adds nothing to the record; check the name",
    )
    plain = flatten_snapshot(D, answers, record)
    assert plain.warnings[0].startswith("a:relay.typo.example in example.com authorizes no address")


def diamond(depth: int) -> dict[Question, Answer]:
    """Each level has two records that both include both records of the next level: 2**depth paths."""
    records = {}
    for level in range(depth):
        for side in "ab":
            name = f"{side}{level}.example.net"
            if level == depth - 1:
                records[f"{name} TXT"] = f"v=spf1 ip4:192.0.2.{1 + (side == 'b')} a:void.example.net -all"
            else:
                records[f"{name} TXT"] = f"v=spf1 include:a{level + 1}.example.net include:b{level + 1}.example.net -all"
    records["void.example.net A"] = "nodata"
    records["void.example.net AAAA"] = "nodata"
    return snap(**records)


class Counting(dict):
    """A snapshot that counts how often the walk reads it."""

    reads = 0

    def get(self, key, default=None):  # type: ignore[override]
        type(self).reads += 1
        return super().get(key, default)


def test_a_shared_subtree_is_walked_once_per_walk() -> None:
    answers = Counting(diamond(20))
    Counting.reads = 0
    result = flatten_snapshot(D, answers, "v=spf1 include:a0.example.net include:b0.example.net -all")
    assert result.records[0].value == "v=spf1 ip4:192.0.2.1 ip4:192.0.2.2 -all"
    assert Counting.reads <= 2 * len(answers)  # each question read about once, not once per path (2**20)
    # every path counted, as a receiver counts it: 2**21 - 2 includes and 2**20 a: terms
    assert result.original_lookups == 2**21 - 2 + 2**20
    # each leaf is reached along 2**19 paths; its a: term is named once, with that count
    assert result.warnings[0].endswith(
        "a:void.example.net in a19.example.net ×524288, a:void.example.net in b19.example.net ×524288")


def test_the_fetch_loop_walk_grows_with_the_tree_not_its_square() -> None:
    """The walks after each answer, with one memo, re-read only the path to what is still missing: at most
    about (tree size) x (depth) reads in all, where walking every path would take 2**20 per walk."""
    full = diamond(20)
    known: Counting = Counting()
    memo = WalkMemo()
    Counting.reads = 0
    walks = 0
    while missing := missing_answers(D, known, "v=spf1 include:a0.example.net include:b0.example.net -all", memo=memo):
        walks += 1
        for question in sorted(missing)[:1]:  # one answer at a time: the worst case for re-walking
            known[question] = full[question]
    assert walks == len(full)
    depth = 20
    assert Counting.reads <= len(full) * 2 * (depth + 2)


def test_a_deep_chain_is_refused_with_a_message_not_a_recursion_error() -> None:
    answers = snap(**{f"c{i}.example.net TXT": f"v=spf1 include:c{i + 1}.example.net -all" for i in range(245)})
    answers |= snap(**{"c245.example.net TXT": "v=spf1 ip4:192.0.2.1 -all"})
    with pytest.raises(SpfError) as err:
        flatten_snapshot(D, answers, "v=spf1 include:c0.example.net -all")
    assert f"more than {MAX_DEPTH} includes or redirects deep" in str(err.value)
    assert "example.com -> c0.example.net -> c1.example.net -> ... -> c32.example.net" in str(err.value)


def test_a_tree_with_too_many_lookup_terms_is_refused() -> None:
    per = 50
    records = {f"v{i}.example.net TXT": "v=spf1 " + " ".join(f"a:h{i}-{j}.example.net" for j in range(per)) + " -all"
               for i in range(MAX_TERMS // per + 1)}
    root = "v=spf1 " + " ".join(f"include:v{i}.example.net" for i in range(MAX_TERMS // per + 1)) + " -all"
    with pytest.raises(SpfError) as err:
        missing_answers(D, snap(**records), root)
    assert f"more than {MAX_TERMS} DNS-querying terms" in str(err.value)


def test_the_caps_leave_real_trees_alone() -> None:
    chain = snap(**{f"c{i}.example.net TXT": f"v=spf1 include:c{i + 1}.example.net -all" for i in range(MAX_DEPTH - 1)})
    chain |= snap(**{f"c{MAX_DEPTH - 1}.example.net TXT": "v=spf1 ip4:192.0.2.1 -all"})
    assert flatten_snapshot(D, chain, "v=spf1 include:c0.example.net -all").records[0].value == "v=spf1 ip4:192.0.2.1 -all"



def test_a_lock_entry_names_its_term_and_never_its_placeholder_domain() -> None:
    from sending_domain.core.spf.lock import EVAL_DOMAIN

    answers = snap(**{f"c{i}.example.net TXT": f"v=spf1 include:c{i + 1}.example.net -all" for i in range(40)})
    answers |= snap(**{"gone.example.net TXT": "nxdomain"})
    for record in ("v=spf1 include:c0.example.net", "v=spf1 include:gone.example.net", "v=spf1 mx:m.example.net"):
        snapshot = answers | snap(**{"m.example.net MX": [f"{i} mx{i}.example.net" for i in range(11)]})
        with pytest.raises(SpfError) as err:
            evaluate(EVAL_DOMAIN, snapshot, record, anonymous=True)
        assert EVAL_DOMAIN not in str(err.value) and "example.net" in str(err.value)
