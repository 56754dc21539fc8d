"""sending_domain.core.dmarc: stages, transitions, rendering, parsing, report authorization.

checkdmarc's parser is the independent oracle: every policy we render must parse there, with the same tags.
It looks up the report addresses' MX and authorization records, so it is pointed at a loopback DNS server.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from typing import get_args

import dns.resolver
import pytest
from checkdmarc.dmarc import parse_dmarc_record
from hypothesis import given, settings
from hypothesis import strategies as st

from sending_domain.core import dmarc
from sending_domain.core.dmarc import (
    ALIGNMENTS,
    DEFAULT_LADDER,
    POLICIES,
    POLICY_FIELDS,
    Alignment,
    DmarcPolicy,
    Policy,
    Stage,
    check_transition,
    dmarc_record,
    next_stage,
    parse_dmarc_policy,
    parse_stage,
    parse_dmarc_value,
    policy_from_mapping,
    policy_from_tags,
    render_dmarc_value,
    report_authorization_records,
    validate_policy_fields,
)
from sending_domain.core.records import Record
from tests.dnsserver import DnsTestServer

none, q10, q25, q30, q50, q100 = Stage("none"), *(Stage("quarantine", n) for n in (10, 25, 30, 50, 100))
r10, r25, r50, r100 = (Stage("reject", n) for n in (10, 25, 50, 100))
FORCE = "set dmarc.force: true with a dmarc.reason"
EVIDENCE = "run `sending-domain dmarc status --write` and commit its PASS in the evidence file"


# --- stages and the ladder --------------------------------------------------------------------------


def test_strength_order() -> None:
    ordered = [none, q10, q25, q30, q50, q100, r10, r25, r50, r100]
    assert sorted(reversed(ordered)) == ordered
    assert all(a < b for a, b in zip(ordered, ordered[1:]))


def test_the_literal_types_hold_the_allowed_values() -> None:
    """A Literal cannot be built from a tuple; this keeps the type hints and the checked values together."""
    assert get_args(Policy) == POLICIES
    assert get_args(Alignment) == ALIGNMENTS


def test_default_ladder_starts_at_none_and_rises() -> None:
    assert DEFAULT_LADDER == (none, q10, q25, q50, q100, r25, r50, r100)
    assert list(DEFAULT_LADDER) == sorted(set(DEFAULT_LADDER))


@pytest.mark.parametrize(
    "stage,text", [(none, "p=none"), (q25, "p=quarantine pct=25"), (q100, "p=quarantine"), (r100, "p=reject")]
)
def test_stage_text(stage: Stage, text: str) -> None:
    assert str(stage) == text


@pytest.mark.parametrize(
    "p,pct,reason",
    [
        ("block", 100, "p: must be one of none, quarantine, reject, not 'block'"),
        ("reject", 0, "pct: must be a whole number 1..100, not 0"),
        ("reject", 101, "pct: must be a whole number 1..100, not 101"),
        ("reject", True, "pct: must be a whole number 1..100, not True"),
        ("none", 50, "pct: applies only to p=quarantine or p=reject; remove it (or set 100) with p=none"),
    ],
)
def test_stage_refuses(p: str, pct: int, reason: str) -> None:
    with pytest.raises(ValueError) as e:
        Stage(p, pct)
    assert str(e.value) == reason


@pytest.mark.parametrize("old,nxt", [(none, q10), (q10, q25), (q30, q50), (q100, r25), (r10, r25), (r100, None)])
def test_next_stage(old: Stage, nxt: Stage | None) -> None:
    assert next_stage(old) == nxt


@pytest.mark.parametrize(
    "old,new,force,reason",
    [
        # one rung up, or onto a stage between two rungs
        (none, q10, False, None),
        (q10, q25, False, None),
        (q50, q100, False, None),
        (q100, r25, False, None),
        (q25, q30, False, None),  # off the ladder, below the next rung (q50)
        (q30, q50, False, None),
        (q100, r10, False, None),
        (r50, r100, False, None),
        # staying and moving back are always allowed
        (r100, r100, False, None),
        (r100, none, False, None),
        (q50, q10, False, None),
        # more than one step
        (none, r100, False, "DMARC for example.com would move from p=none to p=reject, 7 steps towards enforcement "
                            f"at once; move one step (next: p=quarantine pct=10) or {FORCE}"),
        (none, q25, False, "DMARC for example.com would move from p=none to p=quarantine pct=25, 2 steps towards "
                           f"enforcement at once; move one step (next: p=quarantine pct=10) or {FORCE}"),
        (q10, q30, False, "DMARC for example.com would move from p=quarantine pct=10 to p=quarantine pct=30, 2 steps "
                          f"towards enforcement at once; move one step (next: p=quarantine pct=25) or {FORCE}"),
        (q100, r50, False, "DMARC for example.com would move from p=quarantine to p=reject pct=50, 2 steps towards "
                           f"enforcement at once; move one step (next: p=reject pct=25) or {FORCE}"),
        # force lifts the limit
        (none, r100, True, None),
        # first deployment: p=none, or anything when forced
        (None, none, False, None),
        (None, q10, False, "DMARC for example.com would start at p=quarantine pct=10; a first deployment starts at "
                           "p=none so reports can be read before enforcing — start at p=none or "
                           f"{FORCE} (e.g. to adopt a domain that already enforces)"),
        (None, r100, True, None),
    ],
)
def test_check_transition(old: Stage | None, new: Stage, force: bool, reason: str | None) -> None:
    """The ladder, with evidence for exactly the step asked (evidence never lets a move skip a rung)."""
    passed = (old, new) if old is not None else None
    assert check_transition(old, new, force=force, passed=passed, domain="example.com") == reason


NO_EVIDENCE = "DMARC for example.com would move from {} to {} without evidence that every sender is aligned: "


@pytest.mark.parametrize(
    "old,new,passed,reason",
    [
        (none, q10, None, NO_EVIDENCE.format("p=none", "p=quarantine pct=10")
         + f"the evidence file has no PASS for it; {EVIDENCE}, or {FORCE}"),
        (q10, q25, (none, q10), NO_EVIDENCE.format("p=quarantine pct=10", "p=quarantine pct=25")
         + f"the evidence file's PASS was judged at p=none, not at p=quarantine pct=10; {EVIDENCE}, or {FORCE}"),
        (q25, q50, (q25, q30), NO_EVIDENCE.format("p=quarantine pct=25", "p=quarantine pct=50")
         + f"the evidence file's PASS goes to p=quarantine pct=30, not to p=quarantine pct=50; {EVIDENCE}, or {FORCE}"),
        (q25, q30, (q25, q50), None),  # a PASS up to quarantine 50 admits a smaller step
        (q25, q50, (q25, q50), None),
        (q50, q10, None, None),  # moving back needs no evidence
        (r100, r100, None, None),
        (None, none, None, None),
    ],
)
def test_a_step_towards_enforcement_needs_a_pass(
    old: Stage | None, new: Stage, passed: tuple[Stage, Stage] | None, reason: str | None
) -> None:
    assert check_transition(old, new, force=False, passed=passed, domain="example.com") == reason
    assert check_transition(old, new, force=True, passed=passed, domain="example.com") is None


@pytest.mark.parametrize("text,stage", [("p=none", none), ("p=quarantine pct=25", q25), ("p=reject", r100)])
def test_parse_stage_reads_what_str_writes(text: str, stage: Stage) -> None:
    assert parse_stage(text) == stage and str(parse_stage(text)) == text


@pytest.mark.parametrize("text", ["p=block", "p=none pct=", "p=quarantine pct=0", "p=quarantine  pct=25", "P=none", ""])
def test_parse_stage_refuses_other_text(text: str) -> None:
    with pytest.raises(ValueError):
        parse_stage(text)


def test_check_transition_with_a_custom_ladder() -> None:
    ladder = (none, q50, r100)
    assert check_transition(none, q50, force=False, passed=(none, q50), ladder=ladder) is None
    assert check_transition(q50, r100, force=False, passed=(q50, r100), ladder=ladder) is None
    assert check_transition(none, r100, force=False, ladder=ladder) == (
        f"DMARC would move from p=none to p=reject, 2 steps towards enforcement at once; "
        f"move one step (next: p=quarantine pct=50) or {FORCE}"
    )


# --- rendering --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "policy,text",
    [
        (DmarcPolicy("none"), "v=DMARC1; p=none"),
        (DmarcPolicy("reject", pct=100, adkim="r", aspf="r", fo="0"), "v=DMARC1; p=reject"),
        (DmarcPolicy("quarantine", pct=25), "v=DMARC1; p=quarantine; pct=25; t=y"),
        (
            DmarcPolicy("reject", sp="quarantine", np="reject", adkim="s", aspf="s"),
            "v=DMARC1; p=reject; sp=quarantine; np=reject; adkim=s; aspf=s",
        ),
        (
            DmarcPolicy("none", rua=("mailto:dmarc@example.com", "MAILTO:Agg@Reports.Example.NET!10M"),
                        ruf=("mailto:forensic@example.com",), fo="d:s"),
            "v=DMARC1; p=none; fo=d:s; rua=mailto:dmarc@example.com,mailto:Agg@reports.example.net!10m; "
            "ruf=mailto:forensic@example.com",
        ),
        (
            DmarcPolicy("reject", pct=50, sp="none", aspf="s", fo="1", rua=("mailto:a@example.com",)),
            "v=DMARC1; p=reject; sp=none; pct=50; t=y; aspf=s; fo=1; rua=mailto:a@example.com",
        ),
    ],
)
def test_render_dmarc_value(policy: DmarcPolicy, text: str) -> None:
    assert render_dmarc_value(policy) == text


def test_dmarc_record() -> None:
    record = dmarc_record("Example.com", DmarcPolicy("quarantine", pct=10), ttl=3600)
    assert record == Record.txt("_dmarc.example.com", "v=DMARC1; p=quarantine; pct=10; t=y", 3600)
    assert record.content == '"v=DMARC1; p=quarantine; pct=10; t=y"'


def test_fo_none_means_the_default() -> None:
    assert DmarcPolicy("none", fo=None) == DmarcPolicy("none", fo="0")


# --- validation -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw,problems",
    [
        ({"p": "none"}, []),
        ({"p": "reject", "pct": 25, "sp": "none", "np": "reject", "adkim": "s", "aspf": "r", "fo": "1:d:s",
          "rua": ["mailto:a@example.com!10m"], "ruf": "mailto:b@example.com"}, []),
        ({}, [("p", "required: none, quarantine or reject")]),
        ({"p": None}, [("p", "required: none, quarantine or reject")]),
        ({"p": "block"}, [("p", "must be one of none, quarantine, reject, not 'block'")]),
        ({"p": "reject", "sp": "drop", "np": 1},
         [("sp", "must be one of none, quarantine, reject, not 'drop'"),
          ("np", "must be one of none, quarantine, reject, not 1")]),
        ({"p": "reject", "pct": 0}, [("pct", "must be a whole number 1..100, not 0")]),
        ({"p": "reject", "pct": "50"}, [("pct", "must be a whole number 1..100, not '50'")]),
        ({"p": "none", "pct": 50},
         [("pct", "applies only to p=quarantine or p=reject; remove it (or set 100) with p=none")]),
        ({"p": "none", "adkim": "strict"}, [("adkim", "must be r (relaxed) or s (strict), not 'strict'")]),
        ({"p": "none", "fo": "2"}, [("fo", "option '2' is not one of 0, 1, d, s")]),
        ({"p": "none", "fo": "d:d"}, [("fo", "must not repeat an option")]),
        ({"p": "none", "fo": "0:1"}, [("fo", "options 0 and 1 are mutually exclusive")]),
        ({"p": "none", "fo": 1}, [("fo", 'must be a string such as "0", "1" or "d:s"')]),
        ({"p": "none", "rua": 5}, [("rua", "must be a list of mailto: URIs")]),
        ({"p": "none", "rua": ["dmarc@example.com"]},
         [("rua[0]", "report address 'dmarc@example.com' must be a mailto: URI, e.g. "
                     "mailto:dmarc-reports@example.com")]),
        ({"p": "none", "rua": ["mailto:a@example.com", "mailto:a,b@example.com"]},
         [("rua[1]", "report address 'mailto:a,b@example.com' is not mailto:local@domain[!size] (RFC 7489 §6.2)")]),
        ({"p": "none", "ruf": ["mailto:a@example.com!10x"]},
         [("ruf[0]", "report address 'mailto:a@example.com!10x' is not mailto:local@domain[!size] (RFC 7489 §6.2)")]),
        ({"p": "none", "ruf": ["mailto:a@localhost"]},
         [("ruf[0]", "report address 'mailto:a@localhost' has an invalid domain 'localhost'")]),
        ({"p": "none", "ruf": ["mailto:a@-bad-.com"]},
         [("ruf[0]", "report address 'mailto:a@-bad-.com' has an invalid domain '-bad-.com'")]),
        ({"p": "none", "ruaa": []}, [("ruaa", "unknown DMARC setting; use p, pct, sp, np, adkim, aspf, rua, ruf, fo")]),
    ],
)
def test_validate_policy_fields(raw: dict, problems: list[tuple[str, str]]) -> None:
    assert validate_policy_fields(raw) == problems


def test_extra_keys_are_left_to_the_caller() -> None:
    assert validate_policy_fields({"p": "none", "force": True}, extra_keys=("force",)) == []


def test_policy_from_mapping_raises_every_problem_once() -> None:
    with pytest.raises(ValueError) as e:
        policy_from_mapping({"p": "block", "pct": 0, "rua": ["x"]})
    assert str(e.value) == (
        "p: must be one of none, quarantine, reject, not 'block'; pct: must be a whole number 1..100, not 0; "
        "rua[0]: report address 'x' must be a mailto: URI, e.g. mailto:dmarc-reports@example.com"
    )


def test_policy_fields_are_the_policy_model() -> None:
    # DmarcPolicy validates itself by these names: a field missing here would go unchecked
    assert POLICY_FIELDS == tuple(f.name for f in fields(DmarcPolicy))
    with pytest.raises(ValueError, match="pct: must be a whole number 1..100, not 0"):
        DmarcPolicy("reject", pct=0)
    with pytest.raises(ValueError, match="^pct: applies only to p=quarantine"):
        DmarcPolicy("none", pct=50)


def test_policy_from_mapping() -> None:
    policy = policy_from_mapping({"p": "quarantine", "pct": 10, "rua": ["mailto:A@Example.COM"], "force": True},
                                 extra_keys=("force",))
    assert policy == DmarcPolicy("quarantine", pct=10, rua=("mailto:A@example.com",))
    assert policy.stage == q10


# --- parsing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,tags",
    [
        ("v=DMARC1; p=none", {"v": "DMARC1", "p": "none"}),
        ("v=DMARC1;p=reject;", {"v": "DMARC1", "p": "reject"}),
        ("v=DMARC1 ;\tP = Quarantine ; pct=20 ; RUA=mailto:a@example.com, mailto:b@example.com ",
         {"v": "DMARC1", "p": "Quarantine", "pct": "20", "rua": "mailto:a@example.com, mailto:b@example.com"}),
        ("v=DMARC1; p=none; psd=n; future=1", {"v": "DMARC1", "p": "none", "psd": "n", "future": "1"}),
    ],
)
def test_parse_dmarc_value(text: str, tags: dict[str, str]) -> None:
    assert parse_dmarc_value(text) == tags


@pytest.mark.parametrize(
    "text,reason",
    [
        ("", "a DMARC record must start with v=DMARC1 (RFC 7489 §6.4)"),
        ("v=DMARC1; p=none; x-y=1", "tag 3 has an invalid name 'x-y' (RFC 7489 §6.4)"),
        ("p=none; v=DMARC1", "a DMARC record must start with v=DMARC1 (RFC 7489 §6.4)"),
        ("v=DMARC2; p=none", "a DMARC record must start with v=DMARC1 (RFC 7489 §6.4)"),
        ("v=dmarc1; p=none", "a DMARC record must start with v=DMARC1 (RFC 7489 §6.4)"),
        ("v=spf1 -all", "a DMARC record must start with v=DMARC1 (RFC 7489 §6.4)"),
        ("v=DMARC1; p=none; p=reject", "duplicate tag 'p' (RFC 7489 §6.4)"),
        ("v=DMARC1; p=none;; rua=mailto:a@b.c", "tag 3 '(empty)' has no '=' (RFC 7489 §6.4 tag=value)"),
        ("v=DMARC1; p=none; bad tag=1", "tag 3 has an invalid name 'bad tag' (RFC 7489 §6.4)"),
        ("v=DMARC1; p=", "tag 'p' has an empty value"),
        ("v=DMARC1; P=none; p=reject", "duplicate tag 'p' (RFC 7489 §6.4)"),  # names fold to lower case
        ("v=DMARC1;\r\np=none", "tag 2 has an invalid name '\\r\\np' (RFC 7489 §6.4)"),  # only SP/HTAB around tags
    ],
)
def test_parse_dmarc_value_reasons(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as e:
        parse_dmarc_value(text)
    assert str(e.value) == reason


def test_policy_from_tags_folds_case_and_ignores_what_the_model_does_not_hold() -> None:
    tags = parse_dmarc_value("v=DMARC1; p=Reject; SP=none; pct=50; t=y; rf=afrf; ri=86400; fo=D:S; "
                             "rua=mailto:a@example.com , mailto:b@Example.net!5m")
    assert policy_from_tags(tags) == DmarcPolicy(
        "reject", pct=50, sp="none", fo="d:s", rua=("mailto:a@example.com", "mailto:b@example.net!5m")
    )


@pytest.mark.parametrize(
    "text,reason",
    [
        ("v=DMARC1; rua=mailto:a@example.com", "missing p= tag (required by RFC 7489 §6.3)"),
        ("v=DMARC1; p=none; pct=abc", "pct: must be a whole number 1..100, not 'abc'"),
        ("v=DMARC1; p=drop", "p: must be one of none, quarantine, reject, not 'drop'"),
        ("v=DMARC1; p=none; rua=dmarc@example.com",
         "rua[0]: report address 'dmarc@example.com' must be a mailto: URI, e.g. mailto:dmarc-reports@example.com"),
    ],
)
def test_parse_dmarc_policy_reasons(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as e:
        parse_dmarc_policy(text)
    assert str(e.value) == reason


# --- report authorization ---------------------------------------------------------------------------


def test_report_authorization_records() -> None:
    policy = DmarcPolicy(
        "none",
        rua=("mailto:dmarc@example.com", "mailto:agg@reports.example.net", "mailto:x@vendor.example.org"),
        ruf=("mailto:f@Reports.Example.NET",),
    )
    records, warnings = report_authorization_records("Example.com", policy, {"example.net", "other.test"})
    assert records == [Record.txt("example.com._report._dmarc.reports.example.net", "v=DMARC1")]
    assert warnings == [
        "DMARC reports for example.com go to vendor.example.org, which is not one of our zones: ask its owner to "
        'publish example.com._report._dmarc.vendor.example.org TXT "v=DMARC1" (RFC 7489 §7.1), or receivers will '
        "not send the reports"
    ]


def test_no_authorization_needed_for_the_domain_itself() -> None:
    policy = DmarcPolicy("none", rua=("mailto:dmarc@example.com",))
    assert report_authorization_records("example.com", policy, {"example.com"}) == ([], [])


def test_authorization_in_a_zone_equal_to_the_destination() -> None:
    policy = DmarcPolicy("none", rua=("mailto:dmarc@example.org",))
    records, warnings = report_authorization_records("example.com", policy, ["example.org"], ttl=60)
    assert records == [Record.txt("example.com._report._dmarc.example.org", "v=DMARC1", 60)] and warnings == []


# --- laws and the oracle ----------------------------------------------------------------------------

REPORT_DOMAINS = ("example.com", "reports.example.net")
ORACLE_ZONE = """
$ORIGIN example.com.
@ 300 IN MX 10 mx.example.com.
mx 300 IN A 192.0.2.1
$ORIGIN reports.example.net.
@ 300 IN MX 10 mx.reports.example.net.
mx 300 IN A 192.0.2.2
example.com._report._dmarc 300 IN TXT "v=DMARC1"
"""

_policies = st.sampled_from(("none", "quarantine", "reject"))
_uri = st.builds(
    lambda local, domain, size: f"mailto:{local}@{domain}{size}",
    st.from_regex(r"[a-z0-9+_-]{1,8}(\.[a-z0-9+_-]{1,8})?", fullmatch=True),
    st.sampled_from(REPORT_DOMAINS),
    st.sampled_from(("", "!10m", "!500k", "!1g")),
)
_fo = st.builds(
    lambda head, tail: ":".join([*head, *tail]) or "0",
    st.sampled_from(((), ("0",), ("1",))),
    st.permutations(["d", "s"]).flatmap(lambda order: st.integers(0, 2).map(lambda n: order[:n])),
)


@st.composite
def dmarc_policies(draw: st.DrawFn) -> DmarcPolicy:
    p = draw(_policies)
    pct = 100 if p == "none" else draw(st.one_of(st.just(100), st.integers(1, 100)))
    return DmarcPolicy(
        p,
        pct=pct,
        sp=draw(st.none() | _policies),
        np=draw(st.none() | _policies),
        adkim=draw(st.sampled_from("rs")),
        aspf=draw(st.sampled_from("rs")),
        rua=tuple(draw(st.lists(_uri, max_size=2, unique=True))),
        ruf=tuple(draw(st.lists(_uri, max_size=2, unique=True))),
        fo=draw(_fo),
    )


@settings(max_examples=300, deadline=None)
@given(dmarc_policies())
def test_render_then_parse_round_trips(policy: DmarcPolicy) -> None:
    text = render_dmarc_value(policy)
    assert render_dmarc_value(policy) == text
    assert parse_dmarc_policy(text) == policy
    assert ("t=y" in text) == (policy.pct < 100)


@pytest.fixture(scope="module")
def oracle_resolver() -> Iterator[dns.resolver.Resolver]:
    with DnsTestServer(ORACLE_ZONE) as server:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [server.host]
        resolver.port = server.port
        resolver.lifetime = 2.0
        yield resolver


@settings(max_examples=150, deadline=None)
@given(policy=dmarc_policies())
def test_checkdmarc_accepts_every_rendered_policy(oracle_resolver: dns.resolver.Resolver, policy: DmarcPolicy) -> None:
    parsed = parse_dmarc_record(render_dmarc_value(policy), "example.com", resolver=oracle_resolver, retries=0)
    tags = parsed["tags"]
    assert tags["p"]["value"] == policy.p
    assert tags["sp"]["value"] == (policy.sp or policy.p)
    assert tags["np"]["value"] == (policy.np or policy.sp or policy.p)
    assert (tags["adkim"]["value"], tags["aspf"]["value"]) == (policy.adkim, policy.aspf)
    assert tags["fo"]["value"] == policy.fo
    assert tags["t"]["value"] == ("y" if policy.pct < 100 else "n")
    for tag in ("rua", "ruf"):
        uris = tags.get(tag, {}).get("value", [])
        seen = [f"mailto:{u['address']}" + (f"!{u['size_limit']}" if u["size_limit"] else "") for u in uris]
        assert seen == list(getattr(policy, tag))
    trouble = [w for w in parsed["warnings"] if "MX" in w or "accepts DMARC reports" in w or "Unknown" in w]
    assert trouble == []


def test_checkdmarc_flags_a_missing_authorization(oracle_resolver: dns.resolver.Resolver) -> None:
    """The oracle really checks authorization: a destination without the record is reported."""
    policy = DmarcPolicy("none", rua=("mailto:a@example.com",))
    parsed = parse_dmarc_record(render_dmarc_value(policy), "example.org", resolver=oracle_resolver, retries=0)
    assert any("does not indicate that it accepts DMARC reports about example.org" in w for w in parsed["warnings"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [("v=DMARC1; p=none", True), ("v = dmarc1", True), ("V=DMARC1;p=reject", True),
     ("v=DMARC1x; p=reject", False), ("p=none; v=DMARC1", False), ("v=spf1 -all", False)],
)
def test_is_dmarc_record(text: str, expected: bool) -> None:
    assert dmarc.is_dmarc_record(text) is expected


def test_init_reads_only_real_dmarc_records() -> None:
    from sending_domain.core.starter import dmarc_from_live

    assert dmarc_from_live(["v=DMARC1x; p=reject"])[0] is None
    assert dmarc_from_live(["v=DMARC1; p=reject"])[0] == {"p": "reject"}
