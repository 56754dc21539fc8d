"""parse_settings: the example stack parses into exact settings; every bad stack reports exact problems."""

from __future__ import annotations

import json
from pathlib import Path
from typing import get_args

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sending_domain.core import dkim, dmarc, settings as typed
from sending_domain.core.config import parse_settings
from sending_domain.core.errors import ConfigError
from sending_domain.core.render import dmarc_policy
from sending_domain.core.senders import WELL_KNOWN_SENDERS, spf_term
from sending_domain.core.settings import (
    DkimKeySettings,
    DmarcSettings,
    DomainSettings,
    SesSettings,
    SpfSettings,
    StackSettings,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "stacks" / "Pulumi.example.yaml"
BAD_STACKS = ROOT / "tests" / "fixtures" / "bad_stacks"


def settings_of(path: Path) -> object:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["config"]["sending-domain:settings"]


def problems_of(raw: object) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        parse_settings(raw, source="test")
    return [(p.path, p.code) for p in info.value.problems]


# --- the example stack -------------------------------------------------------------------------

EXPECTED_EXAMPLE = StackSettings(
    ttl=300,
    domains=(
        DomainSettings(
            domain="example.com",
            zone_name="example.com",
            zone_id=None,
            ttl=3600,
            senders=(
                "amazonses",
                "google-workspace",
                "ip4:192.0.2.0/24",
                "ip6:2001:db8::/32",
                "include:_spf.partner.example.net",
            ),
            spf=SpfSettings(all="~all", max_lookups=10, max_bytes=450),
            dkim=(
                DkimKeySettings("s2026a", "rsa-2048", "active"),
                DkimKeySettings("s2026b", "rsa-2048", "pending"),
                DkimKeySettings("ed2026a", "ed25519", "pending"),
            ),
            dmarc=DmarcSettings(
                p="none",
                pct=100,
                sp="quarantine",
                np="reject",
                adkim="r",
                aspf="r",
                rua=("mailto:dmarc@example.com", "mailto:example-com@reports.example.net"),
                ruf=(),
                fo="1",
                force=False,
            ),
            ses=SesSettings(
                region="eu-west-1", mail_from="bounce.example.com", behavior_on_mx_failure="USE_DEFAULT_VALUE"
            ),
        ),
        DomainSettings(
            domain="news.example.org",
            zone_name="example.org",
            zone_id=None,
            ttl=300,
            senders=("mailchimp", "sendgrid"),
            spf=SpfSettings(all="-all", max_lookups=10, max_bytes=450),
            dkim=(),
            dmarc=DmarcSettings(p="none", rua=("mailto:dmarc@example.org",)),
            ses=None,
        ),
    ),
)


def test_example_stack_parses_into_exact_settings() -> None:
    assert parse_settings(settings_of(EXAMPLE)) == EXPECTED_EXAMPLE


def test_example_convenience_properties() -> None:
    first, second = parse_settings(settings_of(EXAMPLE)).domains
    assert first.spf_terms == (
        "include:amazonses.com",
        "include:_spf.google.com",
        "ip4:192.0.2.0/24",
        "ip6:2001:db8::/32",
        "include:_spf.partner.example.net",
    )
    assert first.active_dkim_key == DkimKeySettings("s2026a", "rsa-2048", "active")
    assert first.extra_dkim_keys == ()
    assert first.dmarc_name == "_dmarc.example.com"
    assert first.dkim_name(first.dkim[0]) == "s2026a._domainkey.example.com"
    assert second.spf_terms == ("include:servers.mcsv.net", "include:sendgrid.net")
    assert second.active_dkim_key is None


def test_settings_are_hashable_and_lookup_by_name() -> None:
    parsed = parse_settings(settings_of(EXAMPLE))
    assert hash(parsed) == hash(EXPECTED_EXAMPLE)
    assert parsed.domain("News.Example.ORG.") is parsed.domains[1]
    with pytest.raises(KeyError):
        parsed.domain("example.net")


def test_pulumi_require_object_shape_parses_the_same() -> None:
    """Pulumi hands the program JSON-decoded data; it must give the same settings as the YAML."""
    raw = settings_of(EXAMPLE)
    assert parse_settings(json.loads(json.dumps(raw))) == parse_settings(raw)


def test_minimal_domain_gets_defaults_and_normalized_names() -> None:
    raw = {
        "defaults": {"ttl": 1},
        "domains": [
            {
                "domain": " Mail.Example.COM. ",
                "zoneId": "023E105F4ECEF8AD9CA31A8372D0C353",
                "senders": [" AmazonSES ", "include:Partner.Example.NET."],
                "dkim": {"keys": [{"selector": "S1", "state": "ACTIVE"}]},
                "dmarc": {"p": "Reject", "fo": 1, "rua": ["MAILTO:Dmarc@Example.NET!10M"]},
                "ses": {"region": "us-gov-west-1", "mailFrom": "Bounce.Mail.Example.com."},
            }
        ],
    }
    (domain,) = parse_settings(raw).domains
    assert domain == DomainSettings(
        domain="mail.example.com",
        zone_name=None,
        zone_id="023e105f4ecef8ad9ca31a8372d0c353",
        ttl=1,
        senders=("AmazonSES", "include:Partner.Example.NET."),
        spf=SpfSettings(),
        dkim=(DkimKeySettings("s1", "rsa-2048", "active"),),
        dmarc=DmarcSettings(p="reject", fo="1", rua=("mailto:Dmarc@example.net!10m",)),
        ses=SesSettings("us-gov-west-1", "bounce.mail.example.com", "USE_DEFAULT_VALUE"),
    )
    assert domain.spf_terms == ("include:amazonses.com", "include:partner.example.net")


def test_well_known_senders_map_to_their_includes() -> None:
    assert spf_term("google-workspace") == "include:_spf.google.com"
    assert {name: spf_term(name) for name in WELL_KNOWN_SENDERS} == {
        "amazonses": "include:amazonses.com",
        "google-workspace": "include:_spf.google.com",
        "microsoft365": "include:spf.protection.outlook.com",
        "sendgrid": "include:sendgrid.net",
        "mailgun": "include:mailgun.org",
        "postmark": "include:spf.mtasv.net",
        "mailchimp": "include:servers.mcsv.net",
        "mandrill": "include:spf.mandrillapp.com",
        "zendesk": "include:mail.zendesk.com",
        "salesforce": "include:_spf.salesforce.com",
        "sparkpost": "include:sparkpostmail.com",
    }


# --- the table of bad stacks -------------------------------------------------------------------

BAD = {
    "01_unknown_keys.yaml": [
        ("domains[0].sendrs", "unknown-key"),
        ("domains[0].spf.max_lookups", "unknown-key"),
        ("domains[0].dmarc.rua_", "unknown-key"),
    ],
    "02_missing_required.yaml": [
        ("domains[0].domain", "required"),
        ("domains[0].senders", "required"),
        ("domains[0].dmarc.p", "required"),
        ("domains[1].dkim.keys[0].selector", "required"),
        ("domains[1].dkim.keys[0].state", "required"),
        ("domains[1].ses.region", "required"),
        ("domains[1].ses.mailFrom", "required"),
        ("domains[2].dmarc", "required"),
        ("domains[3].domain", "required"),
    ],
    "03_wrong_types.yaml": [
        ("defaults.ttl", "type"),
        ("domains[0].domain", "type"),
        ("domains[0].ttl", "type"),
        ("domains[0].senders", "type"),
        ("domains[0].spf", "type"),
        ("domains[0].dkim.keys", "type"),
        ("domains[0].dmarc.pct", "type"),
        ("domains[0].dmarc.rua", "type"),
        ("domains[0].dmarc.force", "type"),
    ],
    "04_duplicates.yaml": [
        ("domains[0].senders[1]", "duplicate"),
        ("domains[0].senders[3]", "duplicate"),
        ("domains[0].dkim.keys[1].selector", "duplicate"),
        ("domains[0].dmarc.rua[1]", "duplicate"),
        ("domains[1].domain", "duplicate"),
    ],
    "05_dkim_active_count.yaml": [
        ("domains[0].dkim.keys", "dkim-active-count"),
        ("domains[1].dkim.keys", "dkim-active-count"),
        ("domains[2].dkim", "dkim-active-count"),
    ],
    "06_ed25519.yaml": [
        ("domains[0].dkim.keys[1].state", "dkim-ed25519-ses"),
        ("domains[1].dkim.keys[0].state", "dkim-ed25519-alone"),
    ],
    "07_selectors.yaml": [
        ("domains[0].dkim.keys[0].selector", "selector"),
        ("domains[0].dkim.keys[1].selector", "selector"),
        ("domains[0].dkim.keys[2].selector", "selector"),
        ("domains[0].dkim.keys[3].selector", "selector"),
        ("domains[0].dkim.keys[4].selector", "type"),
        ("domains[0].dkim.keys[6].selector", "selector"),
    ],
    "08_dmarc_tags.yaml": [
        ("domains[0].dmarc.p", "enum"),
        ("domains[0].dmarc.pct", "range"),
        ("domains[0].dmarc.sp", "enum"),
        ("domains[0].dmarc.adkim", "enum"),
        ("domains[0].dmarc.rua[0]", "dmarc-uri"),
        ("domains[0].dmarc.rua[1]", "dmarc-uri"),
        ("domains[0].dmarc.rua[2]", "dmarc-uri"),
        ("domains[0].dmarc.ruf[1]", "type"),
        ("domains[0].dmarc.fo", "dmarc-fo"),
    ],
    "09_spf.yaml": [
        ("domains[0].spf.all", "spf-pass-all"),
        ("domains[0].spf.maxLookups", "range"),
        ("domains[0].spf.maxBytes", "range"),
        ("domains[1].spf.all", "spf-pass-all"),
        ("domains[1].spf.maxLookups", "range"),
        ("domains[1].spf.maxBytes", "range"),
        ("domains[2].spf.all", "enum"),
    ],
    "10_senders.yaml": [
        ("domains[0].senders[0]", "spf-term"),
        ("domains[0].senders[1]", "spf-term"),
        ("domains[0].senders[2]", "spf-term"),
        ("domains[0].senders[3]", "spf-term"),
        ("domains[0].senders[4]", "spf-term"),
        ("domains[0].senders[5]", "spf-term"),
        ("domains[0].senders[6]", "type"),
        ("domains[0].senders[10]", "spf-term"),
    ],
    "11_zones.yaml": [
        ("domains[0].zoneId", "zone-conflict"),
        ("domains[1].zone", "required"),
        ("domains[2].zoneId", "zone-id"),
        ("domains[3].zone", "domain-outside-zone"),
        ("domains[4].zone", "domain-outside-zone"),
        ("domains[5].zone", "hostname"),
        ("domains[6].domain", "hostname"),
    ],
    "12_ttl.yaml": [
        ("defaults.ttl", "range"),
        ("domains[0].ttl", "range"),
        ("domains[2].ttl", "range"),
    ],
    "13_ses.yaml": [
        ("domains[0].ses.region", "ses-region"),
        ("domains[0].ses.mailFrom", "mailfrom-not-subdomain"),
        ("domains[0].ses.behaviorOnMxFailure", "enum"),
        ("domains[1].ses.region", "ses-region"),
        ("domains[1].ses.mailFrom", "mailfrom-not-subdomain"),
        ("domains[2].ses.mailFrom", "mailfrom-collision"),
        ("domains[3].ses.mailFrom", "mailfrom-collision"),
        ("domains[4].ses.mailFrom", "hostname"),
    ],
    "14_mailfrom_collision.yaml": [
        ("domains[0].ses.mailFrom", "mailfrom-collision"),
    ],
    "15_settings_not_mapping.yaml": [
        ("", "type"),
    ],
    "16_empty_domains.yaml": [
        ("default", "unknown-key"),
        ("domains", "empty"),
    ],
    "17_no_domains.yaml": [
        ("domains", "required"),
    ],
    "18_domain_not_mapping.yaml": [
        ("domains[0]", "type"),
        ("domains[1].spf.maxLookups", "type"),
        ("domains[1].dkim", "type"),
    ],
    "19_dkim_enums.yaml": [
        ("domains[0].dkim.keys[0].algorithm", "enum"),
        ("domains[0].dkim.keys[1].state", "enum"),
    ],
    "21_dmarc_rules.yaml": [
        ("domains[0].dmarc.pct", "dmarc-pct-none"),
        ("domains[0].dmarc.rua[1]", "duplicate"),
        ("domains[0].dmarc.ruf[0]", "dmarc-uri"),
        ("domains[0].dmarc.fo", "dmarc-fo"),
        ("domains[1].dmarc.fo", "dmarc-fo"),
    ],
    "22_dmarc_force_reason.yaml": [
        ("domains[0].dmarc.reason", "dmarc-force-reason"),
        ("domains[1].dmarc.reason", "dmarc-force-reason"),
        ("domains[2].dmarc.reason", "dmarc-force-reason"),
        ("domains[3].dmarc.reason", "type"),
    ],
    "20_many_problems.yaml": [
        ("defaults.colour", "unknown-key"),
        ("defaults.ttl", "range"),
        ("domains[0].zone", "domain-outside-zone"),
        ("domains[0].senders[1]", "spf-term"),
        ("domains[0].senders[2]", "spf-term"),
        ("domains[0].spf.all", "spf-pass-all"),
        ("domains[0].spf.maxLookups", "range"),
        ("domains[0].dkim.keys[2].selector", "selector"),
        ("domains[0].dmarc.p", "enum"),
        ("domains[0].dmarc.pct", "range"),
        ("domains[0].dmarc.adkim", "enum"),
        ("domains[0].dmarc.rua[0]", "dmarc-uri"),
        ("domains[0].dmarc.fo", "dmarc-fo"),
        ("domains[0].ses.behaviourOnMxFailure", "unknown-key"),
        ("domains[0].ses.region", "ses-region"),
        ("domains[0].ses.mailFrom", "mailfrom-collision"),
        ("domains[0].dkim.keys", "dkim-active-count"),
        ("domains[1].zoneId", "zone-conflict"),
        ("domains[1].domain", "duplicate"),
    ],
}


def test_every_bad_stack_file_is_in_the_table() -> None:
    assert sorted(p.name for p in BAD_STACKS.glob("*.yaml")) == sorted(BAD)


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_stack_reports_exact_problems(name: str) -> None:
    assert problems_of(settings_of(BAD_STACKS / name)) == BAD[name]


def test_many_problems_are_reported_at_once_in_one_error() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(settings_of(BAD_STACKS / "20_many_problems.yaml"), source="stacks/Pulumi.bad.yaml")
    error = info.value
    assert len(error.problems) == 19
    assert error.source == "stacks/Pulumi.bad.yaml"
    assert error.exit_code == 2
    text = str(error)
    assert text.startswith("stacks/Pulumi.bad.yaml: 19 problems:\n")
    assert "  - domains[0].dmarc.pct: must be 1..100 (percent) [range]" in text


# --- messages say what to do -------------------------------------------------------------------


def messages(name: str) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        parse_settings(settings_of(BAD_STACKS / name))
    return {p.path: p.message for p in info.value.problems}


def test_unknown_keys_suggest_the_intended_key() -> None:
    found = messages("01_unknown_keys.yaml")
    assert found["domains[0].sendrs"] == "unknown key 'sendrs'; did you mean 'senders'?"
    assert found["domains[0].spf.max_lookups"] == "unknown key 'max_lookups'; did you mean 'maxLookups'?"
    assert found["domains[0].dmarc.rua_"] == "unknown key 'rua_'; did you mean 'rua'?"
    assert messages("16_empty_domains.yaml")["default"] == "unknown key 'default'; did you mean 'defaults'?"


def test_enum_messages_list_the_choices_and_suggest() -> None:
    found = messages("08_dmarc_tags.yaml")
    assert found["domains[0].dmarc.p"] == "must be one of none, quarantine, reject; did you mean 'quarantine'?"
    assert found["domains[0].dmarc.adkim"] == "must be one of r, s"
    assert messages("19_dkim_enums.yaml")["domains[0].dkim.keys[1].state"] == (
        "must be one of pending, active, retiring, revoked; did you mean 'active'?"
    )


def test_sender_messages_name_the_fix() -> None:
    found = messages("10_senders.yaml")
    assert "did you mean 'google-workspace'?" in found["domains[0].senders[0]"]
    assert found["domains[0].senders[1]"] == "ip4:192.0.2.1/24 has host bits set; did you mean ip4:192.0.2.0/24?"
    assert found["domains[0].senders[3]"] == "localhost is not a valid domain name"
    assert found["domains[0].senders[6]"] == "must be a sender name or an SPF term (text)"


def test_required_and_type_messages() -> None:
    found = messages("02_missing_required.yaml")
    assert found["domains[0].domain"] == "missing: add domain (the sending domain, such as example.com)"
    assert found["domains[1].ses.region"] == "missing: add region (an AWS region such as eu-west-1)"
    assert found["domains[0].senders"] == (
        "missing: add senders (a list such as [amazonses, ip4:192.0.2.0/24], or [] for none)"
    )
    typed = messages("03_wrong_types.yaml")
    assert typed["defaults.ttl"] == "must be a whole number, not text"
    assert typed["domains[0].domain"] == 'must be text, not a number (quote it: "42")'
    assert typed["domains[0].senders"] == "must be a list, not text"
    assert typed["domains[0].spf"] == "must be a mapping (allowed keys: all, maxLookups, maxBytes, allowWide), not text"
    assert messages("18_domain_not_mapping.yaml")["domains[1].spf.maxLookups"] == (
        "must be a whole number, not a decimal number"
    )


def test_rule_messages() -> None:
    assert messages("09_spf.yaml")["domains[0].spf.all"] == (
        "+all lets anyone send as this domain; use -all, ~all or ?all"
    )
    assert messages("05_dkim_active_count.yaml")["domains[1].dkim.keys"] == (
        "DKIM has 2 active RSA keys (s2026a, s2026b); keep one active, mark the others retiring"
    )
    ses = messages("13_ses.yaml")
    assert ses["domains[1].ses.mailFrom"] == "must be a subdomain of b.example.com, such as bounce.b.example.com"
    assert ses["domains[0].ses.behaviorOnMxFailure"].endswith("did you mean 'REJECT_MESSAGE'?")
    assert messages("14_mailfrom_collision.yaml")["domains[0].ses.mailFrom"] == (
        "news.example.com is also a sending domain (domains[1]); give MAIL FROM a name of its own"
    )


def test_dkim_and_dmarc_rules_speak_for_themselves() -> None:
    """The rules dkim.py and dmarc.py own give the reason; the stack adds the key path and the code."""
    selectors = messages("07_selectors.yaml")
    assert selectors["domains[0].dkim.keys[0].selector"] == dkim.validate_selector("s2026.a")
    assert selectors["domains[0].dkim.keys[6].selector"] == dkim.validate_selector("")
    rules = messages("21_dmarc_rules.yaml")
    assert rules["domains[0].dmarc.pct"] == dmarc.check_none_pct("none", 50)
    assert rules["domains[0].dmarc.ruf[0]"] == dmarc.check_report_uri("mailto:a..b@example.com")
    assert rules["domains[0].dmarc.fo"] == dmarc.check_fo("0:1")
    assert messages("05_dkim_active_count.yaml")["domains[2].dkim"] == dkim.check_active_keys([], require_one=True)


def _dmarc_with(**tags: object) -> dict[str, object]:
    domain = {"domain": "example.com", "zone": "example.com", "senders": [], "dmarc": {"p": "none", **tags}}
    return {"domains": [domain]}


@pytest.mark.parametrize(
    "uri,problems",
    [
        (" MAILTO:Dmarc@Example.COM.!10M ", []),
        ("mailto:a?b@example.com", [("domains[0].dmarc.rua[0]", "dmarc-uri")]),  # RFC 6068 §2: '?' starts hfields
        ("maılto:a@example.com", [("domains[0].dmarc.rua[0]", "dmarc-uri")]),  # a dotless i is not an i
        ("mailto:a@_reports.example.com", [("domains[0].dmarc.rua[0]", "dmarc-uri")]),  # the stack's domain rule
    ],
)
def test_report_uris_are_what_dmarc_can_render(uri: str, problems: list[tuple[str, str]]) -> None:
    raw = _dmarc_with(rua=[uri])
    if problems:
        assert problems_of(raw) == problems
    else:
        (domain,) = parse_settings(raw).domains
        assert domain.dmarc.rua == ("mailto:Dmarc@example.com!10m",)
        assert dmarc_policy(domain).rua == domain.dmarc.rua


def test_settings_literals_hold_the_checked_values() -> None:
    """A Literal cannot be built from a tuple; the type hints and the values the checks use must agree."""
    assert get_args(typed.SpfAll) == typed.SPF_ALL
    assert get_args(typed.MxFailureBehavior) == typed.MX_FAILURE_BEHAVIORS
    assert get_args(typed.DkimAlgorithm) == dkim.ALGORITHMS
    assert get_args(typed.DkimState) == dkim.STATES
    assert get_args(typed.DmarcPolicyName) == dmarc.POLICIES
    assert get_args(typed.Alignment) == dmarc.ALIGNMENTS


# --- laws --------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 100_000) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
known_keys = st.sampled_from(["domain", "zone", "zoneId", "ttl", "senders", "spf", "dkim", "dmarc", "ses", "keys"])
stack_like = st.dictionaries(st.just("domains"), st.lists(st.dictionaries(known_keys, json_values), max_size=3))


@settings(max_examples=300, deadline=None)
@given(stack_like | json_values)
def test_any_input_gives_settings_or_one_config_error(raw: object) -> None:
    """Whatever arrives, the result is settings or a ConfigError with problems — never another exception."""
    try:
        result = parse_settings(raw)
    except ConfigError as e:
        assert e.problems
        assert all(p.code and p.message for p in e.problems)
    else:
        assert isinstance(result, StackSettings)


def test_problem_list_is_deterministic_for_yaml_and_json_input() -> None:
    raw = settings_of(BAD_STACKS / "20_many_problems.yaml")
    assert problems_of(raw) == problems_of(json.loads(json.dumps(raw))) == BAD["20_many_problems.yaml"]


def _paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every key path into the plain data: (key or index, ...)."""
    children: list[tuple[object, object]] = []
    if isinstance(value, dict):
        children = list(value.items())
    elif isinstance(value, list):
        children = list(enumerate(value))
    found = [prefix] if prefix else []
    for key, child in children:
        found += _paths(child, (*prefix, key))
    return found


def _replaced(data: object, path: tuple[object, ...], new: object) -> object:
    copy = json.loads(json.dumps(data))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return copy


EXAMPLE_RAW = settings_of(EXAMPLE)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(_paths(EXAMPLE_RAW)), json_values)
def test_any_one_change_to_the_example_gives_settings_or_one_config_error(path: tuple, new: object) -> None:
    """Replace any value deep inside a valid stack: still settings or a ConfigError, never a crash."""
    try:
        result = parse_settings(_replaced(EXAMPLE_RAW, path, new))
    except ConfigError as e:
        assert e.problems
    else:
        assert isinstance(result, StackSettings)


report_uris = st.builds(
    lambda scheme, local, domain, size: f"{scheme}{local}@{domain}{size}",
    st.sampled_from(["mailto:", "MAILTO:", "maılto:", ""]),
    st.text(alphabet="aB.?_-+%", max_size=5),
    st.sampled_from(["example.com", "Example.COM.", "_x.example.com", "localhost", "a..b"]),
    st.sampled_from(["", "!10m", "!5K", "!x"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(report_uris, max_size=3))
def test_report_uris_the_stack_accepts_render(uris: list[str]) -> None:
    """What the stack accepts, core/dmarc.py accepts too: a checked stack never fails to render its policy."""
    try:
        (domain,) = parse_settings(_dmarc_with(rua=uris)).domains
    except ConfigError:
        return
    assert dmarc_policy(domain).rua == domain.dmarc.rua


def test_adopt_is_off_by_default_inherited_from_defaults_and_overridable() -> None:
    def domain(name: str, **extra: object) -> dict:
        return {"domain": name, "zone": name, "senders": [], "dmarc": {"p": "none"}, **extra}

    assert parse_settings({"domains": [domain("example.com")]}).domains[0].adopt is False
    stack = parse_settings({"defaults": {"adopt": True},
                            "domains": [domain("example.com"), domain("example.org", adopt=False)]})
    assert [d.adopt for d in stack.domains] == [True, False]
    assert problems_of({"domains": [domain("example.com", adopt="yes")]}) == [("domains[0].adopt", "type")]


def test_a_forced_step_keeps_its_reason_and_an_unforced_one_drops_it() -> None:
    def dmarc(**section: object) -> object:
        raw = {"domains": [{"domain": "example.com", "zone": "example.com", "senders": [], "dmarc": {"p": "reject", **section}}]}
        return parse_settings(raw).domains[0].dmarc

    forced = dmarc(force=True, reason="  adopted: enforced for years  ")
    assert (forced.force, forced.reason) == (True, "adopted: enforced for years")
    assert dmarc(reason="left from last time").reason == "left from last time"
    assert dmarc().reason is None
    problem = problems_of({"domains": [{"domain": "example.com", "zone": "example.com", "senders": [],
                                         "dmarc": {"p": "reject", "force": True, "reason": "x" * 501}}]})
    assert problem == [("domains[0].dmarc.reason", "dmarc-force-reason")]
