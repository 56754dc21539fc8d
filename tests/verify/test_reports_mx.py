"""verify's ``reports.mx``: the name receiving the stack's DMARC reports has exactly one MX to SES inbound."""

from __future__ import annotations

import pytest

from sending_domain.core.config import parse_settings
from sending_domain.core.dnsdata import Answer
from sending_domain.core.render import flatten_options, render_domain, spf_root_text
from sending_domain.core.spf.flatten import flatten_snapshot
from sending_domain.verify.observed import Unanswered, questions
from sending_domain.verify.record_checks import check_reports_mx, reports_checks

HOST, INBOUND = "dmarc-reports.example.com", "inbound-smtp.us-west-2.amazonaws.com"


@pytest.mark.parametrize(
    ("answer", "status", "detail"),
    [
        (Answer("ok", (f"10 {INBOUND}",)), "pass", f"MX 10 {INBOUND}"),
        (Answer("nxdomain"), "fail", f"no MX at {HOST}; DMARC reports to it cannot be delivered"),
        (Answer("ok", (f"10 {INBOUND}", "20 mx.other.example")), "fail", "2 MX records"),
        (Answer("ok", ("10 inbound-smtp.eu-west-1.amazonaws.com",)), "fail", "(reports are received in us-west-2)"),
        (Answer("ok", (f"20 {INBOUND}",)), "warn", "SES documents preference 10"),
        (Unanswered("timeout"), "error", "timeout"),
    ],
)
def test_check_reports_mx(answer: Answer | Unanswered, status: str, detail: str) -> None:
    result = check_reports_mx(HOST, "us-west-2", answer)
    assert (result.name, result.status) == ("reports.mx", status)
    assert detail in result.detail


def test_only_the_domain_publishing_the_mx_asks_and_checks_it() -> None:
    stack = parse_settings({
        "domains": [
            {"domain": "example.com", "zone": "example.com", "senders": [], "dmarc": {"p": "none"}},
            {"domain": "example.org", "zone": "example.org", "senders": [], "dmarc": {"p": "none"}},
        ],
        "reports": {"domain": HOST, "region": "us-west-2", "ruleSet": {"name": "main"}},
    })
    com, org = stack.domains
    for settings, asks in ((com, True), (org, False)):
        desired = render_domain(settings, flatten_snapshot(settings.domain, {}, spf_root_text(settings), flatten_options(settings)))
        assert ((HOST, "MX") in questions(desired, settings)) is asks
    assert [c.name for c in reports_checks(com, _observed({(HOST, "MX"): Answer("ok", (f"10 {INBOUND}",))}))] == ["reports.mx"]
    assert reports_checks(org, _observed({})) == []


class _observed:
    def __init__(self, answers: dict) -> None:
        self.answers = answers

    def get(self, name: str, rdtype: str):
        return self.answers.get((name, rdtype), Unanswered("not asked"))
