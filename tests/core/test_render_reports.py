"""The reports MX and the report authorisations come out of the one renderer, so plan, drift and adoption see them."""

from __future__ import annotations

from sending_domain.core.adopt import LiveRecord, classify
from sending_domain.core.config import parse_settings
from sending_domain.core.dnsdata import Answer, Question
from sending_domain.core.drift import Change, compare
from sending_domain.core.records import Record
from sending_domain.core.render import DesiredDomain, ZoneRef, flatten_options, our_zones, render_domain, spf_root_text
from sending_domain.core.spf.flatten import flatten_snapshot
from tests.core.test_drift import answers

RAW = {
    "domains": [
        {"domain": "example.com", "zone": "example.com", "senders": ["ip4:192.0.2.1"], "dmarc": {"p": "none"}},
        {"domain": "example.org", "zone": "example.org", "senders": [], "dmarc": {"p": "none"}},
    ],
    "reports": {"domain": "rua.example.com", "region": "us-east-1", "localPart": "agg", "ruleSet": {"name": "main"}},
}


def rendered(raw: dict = RAW) -> list[DesiredDomain]:
    stack = parse_settings(raw)
    zones = our_zones(stack)
    return [render_domain(d, flatten_snapshot(d.domain, {}, spf_root_text(d), flatten_options(d)), zones=zones)
            for d in stack.domains]


def test_the_owner_domain_renders_the_mx_in_its_zone() -> None:
    com, org = rendered()
    mx = [r for r in com.records if r.purpose == "reports-mx"]
    assert [(r.key, r.zone, r.record) for r in mx] == [
        ("example.com-dmarc-reports-mx", ZoneRef("example.com"), Record.mx("rua.example.com", "inbound-smtp.us-east-1.amazonaws.com", 10, 300))
    ]
    assert not [r for r in org.records if r.purpose == "reports-mx"]


def test_dmarc_records_report_to_the_stack_and_another_organisation_is_authorised() -> None:
    com, org = rendered()
    assert com.dmarc_value == "v=DMARC1; p=none; rua=mailto:agg@rua.example.com"
    assert org.dmarc_value == "v=DMARC1; p=none; rua=mailto:agg@rua.example.com"
    auth = [(r.key, r.zone, r.record.name, r.record.value) for r in org.records if r.purpose == "dmarc-report-auth"]
    assert auth == [("example.org-dmarc-report-auth-rua.example.com", ZoneRef("example.com"),
                     "example.org._report._dmarc.rua.example.com", "v=DMARC1")]
    assert not [r for r in com.records if r.purpose == "dmarc-report-auth"]  # same organisation (RFC 7489 §7.1)
    assert not com.warnings and not org.warnings


def _answers(desired: list[DesiredDomain], changes: dict[Question, tuple[str, ...] | None]) -> dict[Question, Answer]:
    published = {(r.record.name, r.record.type): ((f"{r.record.priority} " if r.record.type == "MX" else "") + r.record.value,)
                 for d in desired for r in d.records}
    return answers(desired, {**published, **changes})


def test_drift_finds_a_missing_or_extra_reports_mx() -> None:
    desired = rendered()
    assert compare("dev", desired, _answers(desired, {})).changes == ()
    missing = compare("dev", desired, _answers(desired, {("rua.example.com", "MX"): None})).changes
    assert missing == (Change("create", "rua.example.com", "MX", None, "10 inbound-smtp.us-east-1.amazonaws.com",
                              "the MX of the reports name is missing: DMARC reports to it cannot be delivered"),)
    extra = compare("dev", desired, _answers(desired, {("rua.example.com", "MX"): ("10 inbound-smtp.us-east-1.amazonaws.com", "5 mx.other.example")})).changes
    assert [(c.action, c.before, c.reason) for c in extra] == [
        ("delete", "5 mx.other.example", "an extra MX at the reports name: some DMARC reports go to another server")
    ]


def test_a_live_mx_at_the_reports_name_blocks_or_is_adopted() -> None:
    com = rendered()[0]
    other = LiveRecord("rua.example.com", "MX", "mx.other.example", "rec-1", None, 5)
    blocked = classify(com, [other], adopt=False).blockers
    assert [(s.name, s.type) for s in blocked] == [("rua.example.com", "MX")]
    assert "split the DMARC reports between SES and another mail server" in blocked[0].reason
    adopted = classify(com, [other], adopt=True)
    assert adopted.import_id("example.com-dmarc-reports-mx") == "rec-1"
