"""``dmarc.gate`` in a stack: defaults, every key read, every mistake reported with its path and code."""

from __future__ import annotations

import pytest

from sending_domain.core.config import parse_settings
from sending_domain.core.errors import ConfigError
from sending_domain.core.settings import DmarcGateSettings


def stack(gate: object) -> dict:
    return {"domains": [{"domain": "example.com", "zone": "example.com", "senders": ["sendgrid", "ip4:192.0.2.0/24"],
                         "dmarc": {"p": "none", "gate": gate}}]}


def test_defaults_are_the_issue_s() -> None:
    gate = parse_settings(stack(None)).domains[0].dmarc.gate
    assert gate == DmarcGateSettings()
    assert (gate.settle_hours, gate.window_days, gate.window_days_before_reject, gate.min_reporters) == (48, 14, 30, 3)
    assert (gate.min_aligned, gate.min_dkim_aligned, gate.max_unknown_share) == (98.0, 98.0, 1.0)


def test_every_key_is_read() -> None:
    raw = {"settleHours": 24, "windowDays": 21, "windowDaysBeforeReject": 45, "minReporters": 2, "minMessages": 10,
           "minAligned": 99.5, "minDkimAligned": 95, "maxUnknownShare": 0.5, "selectors": {"SendGrid": ["S1", "s2"]}}
    gate = parse_settings(stack(raw)).domains[0].dmarc.gate
    assert gate == DmarcGateSettings(24, 21, 45, 2, 10, 99.5, 95.0, 0.5, (("sendgrid", ("s1", "s2")),))


@pytest.mark.parametrize(
    ("raw", "problems"),
    [
        ({"windowDays": 0}, ["domains[0].dmarc.gate.windowDays: must be 1..366 (days) [range]"]),
        ({"minAligned": 101}, ["domains[0].dmarc.gate.minAligned: must be 0..100 (percent) [range]"]),
        ({"minAligned": "98%"}, ["domains[0].dmarc.gate.minAligned: must be a number of percent such as 98 or 99.5 [type]"]),
        ({"minAligned": True}, ["domains[0].dmarc.gate.minAligned: must be a number of percent such as 98 or 99.5 [type]"]),
        ({"window": 3}, ["domains[0].dmarc.gate.window: unknown key 'window'; did you mean 'windowDays'? [unknown-key]"]),
        ({"selectors": {"mailgun": ["s1"]}},
         ["domains[0].dmarc.gate.selectors.mailgun: must be one of this domain's senders (sendgrid, ip4:192.0.2.0/24) [gate-sender]"]),
        ({"selectors": {"sendgrid": "s1"}}, ["domains[0].dmarc.gate.selectors.sendgrid: must be a list of DKIM selectors [type]"]),
        ({"selectors": {"sendgrid": ["s.1"]}}, ["domains[0].dmarc.gate.selectors.sendgrid: 's.1': "]),
        ({"selectors": ["sendgrid"]}, ["domains[0].dmarc.gate.selectors: must be a mapping of sender to a list of DKIM selectors [type]"]),
        ("strict", ["domains[0].dmarc.gate: must be a mapping"]),
    ],
)
def test_mistakes_are_reported_with_path_and_code(raw: object, problems: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(stack(raw))
    found = [str(p) for p in caught.value.problems]
    assert len(found) == len(problems) and all(f.startswith(p) for f, p in zip(found, problems)), found
