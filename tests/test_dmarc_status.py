"""Verdicts on generated multi-day report sets: ingested from files in four reporters' styles, stored, classified, judged."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sending_domain.core.dmarc_gate import DomainStatus, domain_status
from sending_domain.core.settings import DmarcGateSettings, DomainSettings
from sending_domain.desired import read_lock
from sending_domain.dmarc_ingest import file_inputs, ingest
from sending_domain.dmarc_store import ReportStore
from sending_domain.stack import load_stack
from tests.dmarc_reports import REPORTERS, Stream, example_streams, unaligned_partner, write_report_set

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = load_stack(config_file=ROOT / "stacks" / "Pulumi.example.yaml").settings.domain("example.com")
LOCK = read_lock(ROOT / "stacks" / "spf.lock.json")
FIRST_DAY = 20_400  # 2025-11-10
SELECTORS = (("include:_spf.partner.example.net", ("partner1",)), ("ip4:192.0.2.0/24", ("office1",)))


def at(settings: DomainSettings, p: str = "none", pct: int = 100, **gate: object) -> DomainSettings:
    dmarc = replace(settings.dmarc, p=p, pct=pct, gate=replace(DmarcGateSettings(selectors=SELECTORS), **gate))
    return replace(settings, dmarc=dmarc)


def judge(tmp_path: Path, streams: dict[str, Stream], *, days: int = 20, settings: DomainSettings | None = None,
          policy: tuple[str, int] = ("none", 100), reporters=REPORTERS, first_day: int = FIRST_DAY,
          window: int | None = None) -> DomainStatus:
    settings = settings or at(SETTINGS)
    write_report_set(tmp_path / "reports", "example.com", streams.values(), first_day=first_day, days=days,
                     policy=policy, reporters=reporters)
    with ReportStore(tmp_path / "reports.sqlite") as store:
        outcomes = ingest(file_inputs([str(tmp_path / "reports")]), store)
        assert {o.status for o in outcomes} == {"stored"}
        now = (first_day + days) * 86400 + 3600
        return domain_status(settings, LOCK, store.reports("example.com"), store.tallies, now=now, days=window)


@pytest.fixture
def streams() -> dict[str, Stream]:
    assert LOCK is not None
    return example_streams(SETTINGS, LOCK)


def codes(status: DomainStatus) -> list[tuple[str, str]]:
    return [(b.code, b.sender) for b in status.verdict.blockers]


def test_every_sender_aligned_passes(tmp_path: Path, streams: dict[str, Stream]) -> None:
    status = judge(tmp_path, streams)
    v, f = status.verdict, status.figures
    assert (v.status, v.stage, v.next_stage, v.window_days, v.blockers) == ("PASS", "p=none", "p=quarantine pct=10", 14, ())
    # 14 days counted, 4 reporters a day; the forwarder counted apart, the spoofer unknown
    assert len(status.selection.ids) == 14 * 4 and len(status.selection.reporters) == 4
    assert f.unknown == 14 * sum(max(1, round(5 * r.share)) for r in REPORTERS)
    assert f.forwarded == 14 * sum(max(1, round(30 * r.share)) for r in REPORTERS)
    assert f.aligned == f.known and f.messages == f.known + f.forwarded + f.unknown
    by_name = {s.name: s for s in f.senders}
    assert by_name["amazonses"].forwarded == f.forwarded  # signed with our key, which SES holds
    assert by_name["ip6:2001:db8::/32"].messages == 0 and by_name["ip6:2001:db8::/32"].aligned_share is None
    assert [u.source_ip for u in f.unknown_sources] == ["233.252.0.9"]


def test_one_known_sender_below_its_threshold_flips_pass_to_fail(tmp_path: Path, streams: dict[str, Stream]) -> None:
    office = replace(streams["office"], failing_share=0.1)  # 60 a day out of ~1,400: a small sender
    status = judge(tmp_path, {**streams, "office": office})
    assert status.verdict.status == "FAIL"
    assert codes(status) == [("sender-aligned", "ip4:192.0.2.0/24")]  # overall share is still above 98 %
    assert status.figures.aligned_share > 98
    [blocker] = status.verdict.blockers
    assert "no DKIM signature; envelope domain unsigned.invalid not aligned" in blocker.message


def test_the_flip_is_at_the_threshold(tmp_path: Path, streams: dict[str, Stream]) -> None:
    office = replace(streams["office"], failing_share=0.1)
    lenient = at(SETTINGS, min_aligned=85.0)
    assert judge(tmp_path, {**streams, "office": office}, settings=lenient).verdict.status == "PASS"


def test_an_unaligned_vendor_fails_with_its_reason(tmp_path: Path, streams: dict[str, Stream]) -> None:
    status = judge(tmp_path, unaligned_partner(streams))  # 40 of ~1,400 a day: the overall share drops too
    assert codes(status) == [("aligned", ""), ("sender-aligned", "include:_spf.partner.example.net")]
    [(reason, _)] = {s.name: s for s in status.figures.senders}["include:_spf.partner.example.net"].reasons
    assert reason == "DKIM d=partner.example.net (another domain); envelope domain bounces.partner.example.net not aligned"


def test_a_large_unknown_source_blocks(tmp_path: Path, streams: dict[str, Stream]) -> None:
    status = judge(tmp_path, {**streams, "spoofer": replace(streams["spoofer"], per_day=200)})
    assert codes(status) == [("unknown-source", "")]
    message = status.verdict.blockers[0].message
    assert message.startswith("233.252.0.9 sent 2800 messages (12.")
    assert message.endswith("of all mail) and is no sender of the stack: list it in the senders if it sends for you, "
                            "else someone is spoofing the domain")


@pytest.mark.parametrize(
    ("days", "reporters", "expected"),
    [
        (10, REPORTERS, [("window", "")]),
        (20, REPORTERS[:2], [("reporters", "")]),
    ],
)
def test_too_little_evidence_is_insufficient(tmp_path: Path, streams: dict[str, Stream], days: int, reporters: tuple,
                                             expected: list) -> None:
    status = judge(tmp_path, streams, days=days, reporters=reporters)
    assert (status.verdict.status, codes(status)) == ("INSUFFICIENT_EVIDENCE", expected)


def test_too_little_mail_is_insufficient(tmp_path: Path, streams: dict[str, Stream]) -> None:
    status = judge(tmp_path, streams, settings=at(SETTINGS, min_messages=10**6))
    assert codes(status) == [("volume", "")]


def test_a_failure_outranks_missing_evidence(tmp_path: Path, streams: dict[str, Stream]) -> None:
    status = judge(tmp_path, unaligned_partner(streams), days=5)
    assert status.verdict.status == "FAIL" and [c for c, _ in codes(status)] == ["window", "aligned", "sender-aligned"]


def test_reports_of_another_policy_do_not_count(tmp_path: Path, streams: dict[str, Stream]) -> None:
    status = judge(tmp_path, streams, policy=("quarantine", 10))  # the stack is at p=none
    assert status.verdict.status == "INSUFFICIENT_EVIDENCE" and status.selection.ids == ()
    assert status.selection.other_policy == 4 * 14  # those reaching into the 14-day window


def test_the_first_two_days_of_a_stage_settle(tmp_path: Path, streams: dict[str, Stream]) -> None:
    status = judge(tmp_path, streams, days=16, window=16)
    assert status.selection.settling == 2 * 4
    assert status.selection.first == (FIRST_DAY + 2) * 86400


def test_before_reject_dkim_is_required_of_every_sender(tmp_path: Path, streams: dict[str, Stream]) -> None:
    office = replace(streams["office"], dkim=(), dkim_aligned=False)  # aligned by SPF alone
    quarantine = at(SETTINGS, "quarantine", 100)
    status = judge(tmp_path, {**streams, "office": office}, days=32, settings=quarantine, policy=("quarantine", 100))
    assert (status.verdict.next_stage, status.verdict.window_days) == ("p=reject pct=25", 30)
    assert codes(status) == [("dkim-aligned", ""), ("spf-only", "ip4:192.0.2.0/24")]
    # the same evidence is enough for a quarantine step: SPF alone is fine until reject
    quarantine_10 = at(SETTINGS, "quarantine", 50)
    status = judge(tmp_path / "q", {**streams, "office": office}, days=20, settings=quarantine_10, policy=("quarantine", 50))
    assert (status.verdict.status, status.verdict.next_stage) == ("PASS", "p=quarantine")


def test_rfc9990_testing_must_match_a_partial_stage(tmp_path: Path, streams: dict[str, Stream]) -> None:
    partial = at(SETTINGS, "quarantine", 25)
    status = judge(tmp_path, streams, settings=partial, policy=("quarantine", 25))
    assert status.verdict.status == "PASS" and len(status.selection.reporters) == 4  # Outlook's testing=y counted
