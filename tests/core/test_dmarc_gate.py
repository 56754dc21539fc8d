"""The gate's pure rules: which reports count, the window, how shares are shown."""

from __future__ import annotations

import pytest

from sending_domain.core.dmarc import Stage
from sending_domain.core.dmarc_gate import ReportHead, choose_reports, percent, policy_matches, window_days
from sending_domain.core.settings import DmarcGateSettings

DAY = 86400


def head(id: int, day: int, p: str = "none", pct: int | None = None, testing: str | None = None, reporter: str = "a") -> ReportHead:
    return ReportHead(id, reporter, day * DAY, day * DAY + DAY - 1, p, pct, testing)


@pytest.mark.parametrize(
    ("p", "pct", "testing", "stage", "expected"),
    [
        ("none", None, None, Stage("none"), True),
        ("none", 100, "n", Stage("none"), True),
        ("quarantine", None, None, Stage("none"), False),
        ("quarantine", 25, None, Stage("quarantine", 25), True),
        ("quarantine", 50, None, Stage("quarantine", 25), False),  # RFC 7489 reporters say pct
        ("quarantine", None, "y", Stage("quarantine", 25), True),  # RFC 9990 reporters say testing instead
        ("quarantine", None, "n", Stage("quarantine", 25), False),  # the partial stage publishes t=y
        ("quarantine", None, "y", Stage("quarantine", 100), False),
        ("quarantine", None, "n", Stage("quarantine", 100), True),
        ("reject", 100, None, Stage("reject"), True),
    ],
)
def test_policy_matches(p: str, pct: int | None, testing: str | None, stage: Stage, expected: bool) -> None:
    assert policy_matches(head(1, 0, p, pct, testing), stage) is expected


def test_the_stage_starts_after_the_last_report_of_another_policy_and_settles() -> None:
    heads = [head(1, 10, "none"), head(2, 11, "quarantine", 10), head(3, 12, "none"), head(4, 13, "quarantine", 10),
             head(5, 14, "quarantine", 10), head(6, 15, "quarantine", 10, reporter="b"), head(7, 16, "quarantine", 10)]
    selection = choose_reports(heads, Stage("quarantine", 10), DmarcGateSettings(), now=20 * DAY, days=30)
    # day 11's report came before a report of the old policy, so the stage starts on day 13; 48 h settle
    assert selection.stage_seen == 13 * DAY and selection.ids == (6, 7)
    assert (selection.settling, selection.other_policy, selection.reporters) == (2, 3, ("a", "b"))
    assert (selection.first, selection.last) == (15 * DAY, 17 * DAY - 1)
    shorter = choose_reports(heads, Stage("quarantine", 10), DmarcGateSettings(), now=20 * DAY, days=4)
    assert shorter.ids == (7,)  # day 16 ends after the window starts on day 16


@pytest.mark.parametrize(("stage", "days"), [(Stage("none"), 14), (Stage("quarantine", 50), 14), (Stage("quarantine"), 30),
                                               (Stage("reject", 25), 30), (Stage("reject"), 30)])
def test_the_window_is_longer_before_reject(stage: Stage, days: int) -> None:
    assert window_days(stage, DmarcGateSettings()) == days


@pytest.mark.parametrize(("value", "text"), [(98.0, "98 %"), (97.96, "97.9 %"), (99.99, "99.9 %"), (0.04, "0.0 %"), (100.0, "100 %")])
def test_a_share_is_never_rounded_up_past_a_threshold(value: float, text: str) -> None:
    assert percent(value) == text
